"""Database appliances: `<instance>-db-<id>`, a container of lab/postgres:15 on the switch's bridge at the
appliance's address, data in volume `<instance>-<id>-database`, its settings under state_dir/databases/<id>
(user, port, password (mode 600), the rendered pg_hba.conf, and db_appliance.sh, its PID 1), bind-mounted
read-only at /lab-db. Power calls start and stop the container; a settings change restarts a running one.
The password reaches the server only through that file: never an argument, an environment variable or a log."""

from __future__ import annotations

import ipaddress
import shutil
import threading
from pathlib import Path

from docker.errors import APIError, NotFound
from docker.types import EndpointConfig, Mount

from .. import images
from ..backend import DatabaseRuntime
from .common import DockerBackendError, Scope, container_exits, poll_until, safe_hostname, write_file
from .networks import Networks

SCRIPT = Path(__file__).with_name("db_appliance.sh")
READY_S = 120           # first start: initdb, then the user and its database
STOP_S = 30
_image_lock = threading.Lock()


def render_hba(db: DatabaseRuntime) -> str:
    """pg_hba.conf: the default user, with its password, from the source networks only (any when none)."""
    sources = db.source_networks or ["0.0.0.0/0"]
    lines = ["# written by the emulator from Settings.DBConf.Common.SourceNetwork; edits here are lost",
             "local all all peer"]
    for net in sources:
        cidr = ipaddress.IPv4Network(net, strict=False)
        lines.append(f"host all {db.user} {cidr} scram-sha-256")
    return "\n".join(lines) + "\n"


class Databases:
    def __init__(self, scope: Scope, networks: Networks) -> None:
        self.scope = scope
        self.networks = networks

    def dir(self, db_id: str) -> Path:
        return self.scope.state_dir / "databases" / db_id

    def container(self, db_id: str):
        return self.scope.container(db_id, "database")

    def _write(self, db: DatabaseRuntime) -> bool:
        """The settings files; True if any changed."""
        d = self.dir(db.id)
        d.mkdir(parents=True, exist_ok=True)
        changed = [write_file(d / "db_appliance.sh", SCRIPT.read_text(), 0o755),
                   write_file(d / "user", db.user + "\n"), write_file(d / "port", f"{db.port}\n"),
                   write_file(d / "password", db.password, 0o600), write_file(d / "pg_hba.conf", render_hba(db))]
        return any(changed)

    def created(self, db: DatabaseRuntime) -> None:
        with _image_lock:
            image = images.ensure(self.scope.client, "postgres")
        with self.scope.lock(db.id):
            self._write(db)
            c = self.container(db.id) or self._create(db, image)
            self._start(db, c)

    def _create(self, db: DatabaseRuntime, image: str):
        net = self.networks.ensure_switch(db.switch_id, db.ip, db.mask_len)
        volume = f"{self.scope.instance}-{db.id}-database"
        self.scope.ensure_volume(volume, db.id, "database", db.tags)
        api = self.scope.client.api
        hc = api.create_host_config(
            mounts=[Mount("/var/lib/postgresql/data", volume, type="volume"),
                    Mount("/lab-db", str(self.dir(db.id)), type="bind", read_only=True)],
            network_mode=net.name)
        netcfg = api.create_networking_config({net.name: EndpointConfig(api._version, ipv4_address=db.ip)})
        name = f"{self.scope.instance}-db-{db.id}"
        try:
            cid = api.create_container(image, name=name, hostname=safe_hostname(name), host_config=hc,
                                       networking_config=netcfg, entrypoint=["/bin/sh", "/lab-db/db_appliance.sh"],
                                       labels=self.scope.labels(db.id, "database", db.tags), detach=True)["Id"]
        except APIError as e:
            raise DockerBackendError(f"database {db.id}: cannot create {name} at {db.ip}: {e.explanation}") from None
        return self.scope.client.containers.get(cid)

    def _start(self, db: DatabaseRuntime, c) -> None:
        c.reload()
        if c.status != "running":
            try:
                c.start()
            except APIError as e:
                raise DockerBackendError(f"database {db.id}: cannot start {c.name}: {e.explanation}") from None
        self.scope.wait_running(c)
        if not poll_until(lambda: self._ready(c, db.port), READY_S, interval=0.3):
            tail = c.logs(tail=20).decode(errors="replace")
            raise DockerBackendError(f"database {db.id} does not accept connections on {db.ip}:{db.port} "
                                     f"after {READY_S} s: {tail}")

    @staticmethod
    def _ready(c, port: int) -> bool:
        try:
            c.reload()
            if c.status != "running":
                return False
            return c.exec_run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)]).exit_code == 0
        except (NotFound, APIError):
            return False

    def power_on(self, db: DatabaseRuntime) -> None:
        with self.scope.lock(db.id):
            self._write(db)
            c = self.container(db.id)
            if c is None:
                raise DockerBackendError(f"database {db.id} has no container to start; delete and create it again")
            self._start(db, c)

    def power_off(self, db_id: str, force: bool) -> None:
        with self.scope.lock(db_id):
            c = self.container(db_id)
            if c is None or c.status not in ("running", "restarting", "paused"):
                return
            try:
                with container_exits():
                    c.stop(timeout=0 if force else STOP_S)
            except NotFound:
                return

    def settings_changed(self, db: DatabaseRuntime) -> None:
        """Write the new settings; a running server restarts with them (port, password, pg_hba)."""
        with self.scope.lock(db.id):
            if not self._write(db):
                return
            c = self.container(db.id)
            if c is None or c.status != "running":
                return
            with container_exits():
                c.stop(timeout=STOP_S)
            self._start(db, c)

    def engine_status(self, db_id: str) -> str:
        c = self.container(db_id)
        if c is None:
            return ""
        port = (self.dir(db_id) / "port").read_text().strip() if (self.dir(db_id) / "port").exists() else "5432"
        return "running" if self._ready(c, int(port)) else ""

    def deleted(self, db_id: str) -> None:
        with self.scope.lock(db_id):
            self.scope.remove_resource(db_id)
            shutil.rmtree(self.dir(db_id), ignore_errors=True)
