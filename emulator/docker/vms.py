"""Servers as VM containers: `<instance>-<server name>` of lab/vm:bookworm (systemd, sshd, dockerd; no
--privileged), NIC0 on the shared network at the server's shared IP (or on its switch's network at its
address, e.g. a router's switch), one NIC per other switch at its address,
/var/lib/docker in volume `<instance>-<id>-docker`, state_dir/servers/<id> read-only at /lab (authorized_keys,
hostname, ca.crt, notes/) and the NFS root at /lab-nfs-root."""

from __future__ import annotations

import ipaddress
import logging
import shutil
from pathlib import Path

from docker.errors import APIError, NotFound
from docker.types import EndpointConfig, Mount

from ..backend import ServerRuntime
from .common import DockerBackendError, Scope, container_exits, safe_hostname, safe_name, write_file
from .networks import Networks
from .tls import CertificateAuthority

log = logging.getLogger(__name__)

REBOOT_EXIT_CODE = 129     # systemd as PID 1 exits 129 on `reboot`, 130 on `poweroff` and on docker stop
STOP_TIMEOUT = 10           # seconds between SIGRTMIN+3 (systemd poweroff) and SIGKILL


class VMs:
    def __init__(self, scope: Scope, networks: Networks, ca: CertificateAuthority, nfs_root: Path,
                 image: str) -> None:
        self.scope = scope
        self.networks = networks
        self.ca = ca
        self.nfs_root = nfs_root
        self.image = image
        self.expected_down: set[str] = set()     # stopped by the API: their `die` is not news

    def config_dir(self, server_id: str) -> Path:
        return self.scope.state_dir / "servers" / server_id

    def container(self, server_id: str):
        return self.scope.container(server_id, "server")

    def _write_config(self, server: ServerRuntime) -> Path:
        d = self.config_dir(server.id)
        d.mkdir(parents=True, exist_ok=True)
        keys = "".join(k.strip() + "\n" for k in server.ssh_public_keys if k.strip())
        write_file(d / "authorized_keys", keys)
        write_file(d / "hostname", safe_hostname(server.hostname or server.name) + "\n")
        write_file(d / "ca.crt", self.ca.cert_path.read_bytes())
        notes = d / "notes"
        notes.mkdir(exist_ok=True)
        wanted = {safe_name(n.id): n.content for n in server.notes}
        for p in notes.iterdir():
            if p.name not in wanted:
                p.unlink()
        for nid, content in wanted.items():
            write_file(notes / nid, content, 0o700)
        return d

    def power_on(self, server: ServerRuntime) -> None:
        with self.scope.lock(server.id):
            self.expected_down.discard(server.id)
            c = self.container(server.id)
            if c is None:
                c = self._create(server)
            if c.status != "running":
                try:
                    c.start()
                except APIError as e:
                    raise DockerBackendError(f"server {server.id}: cannot start {c.name}: {e.explanation}") from None
            self.scope.wait_running(c)

    def _create(self, server: ServerRuntime):
        cfg = self._write_config(server)
        (self.nfs_root / "by-ip").mkdir(parents=True, exist_ok=True)
        private = []
        for nic in server.private_nics:
            if not nic.ip:
                log.info("server %s: NIC on switch %s has no address; not connected", server.id, nic.switch_id)
                continue
            private.append((self.networks.ensure_switch(nic.switch_id, nic.ip, nic.mask_len), nic))
        if server.shared_ip:
            shared_ip = ipaddress.ip_address(server.shared_ip)
            if shared_ip not in self.networks.shared_subnet:
                raise DockerBackendError(f"server {server.id}: shared IP {shared_ip} is outside "
                                         f"{self.networks.shared_subnet}")
            first, first_ip = self.networks.ensure_shared(), str(shared_ip)
        elif private and private[0][1] is server.private_nics[0]:
            # NIC0 on a switch (a router's: its network is not internal, the default route is its gateway)
            (first, nic0), private = private[0], private[1:]
            first_ip = nic0.ip
        else:
            raise DockerBackendError(f"server {server.id} has neither a shared IP nor an address on NIC0's switch "
                                     "to start on; set the NIC's UserIPAddress (disk edit or PUT /interface)")
        volume = f"{self.scope.instance}-{server.id}-docker"
        self.scope.ensure_volume(volume, server.id, "server", server.tags)

        api = self.scope.client.api
        hc = api.create_host_config(
            cap_add=["ALL"], cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            cgroupns="private",
            tmpfs={"/run": "", "/run/lock": "", "/tmp": "exec"},
            mounts=[
                Mount("/var/lib/docker", volume, type="volume"),
                Mount("/lab", str(cfg), type="bind", read_only=True),
                Mount("/lab-nfs-root", str(self.nfs_root), type="bind"),
            ],
            network_mode=first.name,
        )
        # = `--security-opt systempaths=unconfined` (a CLI-side option: the API takes empty path lists)
        hc["MaskedPaths"] = []
        hc["ReadonlyPaths"] = []
        netcfg = api.create_networking_config({first.name: EndpointConfig(api._version, ipv4_address=first_ip)})
        name = f"{self.scope.instance}-{safe_name(server.name)}"
        kwargs = dict(hostname=safe_hostname(server.hostname or server.name), host_config=hc,
                      networking_config=netcfg, labels=self.scope.labels(server.id, "server", server.tags),
                      detach=True)
        try:
            cid = api.create_container(self.image, name=name, **kwargs)["Id"]
        except APIError as e:
            if e.status_code != 409:
                raise DockerBackendError(f"server {server.id}: cannot create {name}: {e.explanation}") from None
            # the name is taken (SAKURA allows duplicate server names): fall back to a unique one
            name = f"{name}-{server.id}"
            try:
                cid = api.create_container(self.image, name=name, **kwargs)["Id"]
            except APIError as e2:
                raise DockerBackendError(f"server {server.id}: cannot create {name}: {e2.explanation}") from None
        try:
            for net, nic in private:
                api.connect_container_to_network(cid, net.id, ipv4_address=nic.ip)
        except APIError as e:
            with container_exits():
                api.remove_container(cid, force=True)
            raise DockerBackendError(f"server {server.id}: cannot attach to switch network "
                                     f"({nic.ip}/{nic.mask_len}): {e.explanation}") from None
        return self.scope.client.containers.get(cid)

    def power_off(self, server_id: str, force: bool) -> None:
        with self.scope.lock(server_id):
            c = self.container(server_id)
            if c is None or c.status not in ("running", "restarting", "paused"):
                return
            self.expected_down.add(server_id)
            try:
                with container_exits():
                    if force:
                        c.kill()
                        c.wait(timeout=STOP_TIMEOUT)
                    else:
                        c.stop(timeout=STOP_TIMEOUT)
            except NotFound:
                return
            except APIError as e:
                if "is not running" not in str(e.explanation):
                    raise

    def deleted(self, server_id: str) -> None:
        with self.scope.lock(server_id):
            self.expected_down.add(server_id)
            self.scope.remove_resource(server_id)
            shutil.rmtree(self.config_dir(server_id), ignore_errors=True)

    def restart_after_reboot(self, server_id: str, container_id: str | None) -> None:
        """`reboot` inside a VM ends its container (exit 129): start it again."""
        with self.scope.lock(server_id):
            try:
                c = self.scope.client.containers.get(container_id) if container_id else self.container(server_id)
                if c is not None and c.status == "exited" and c.attrs["State"]["ExitCode"] == REBOOT_EXIT_CODE:
                    c.start()
                    log.info("server %s rebooted (container %s started again)", server_id, c.name)
            except (NotFound, APIError) as e:
                log.warning("server %s: restart after reboot failed: %s", server_id, e)
