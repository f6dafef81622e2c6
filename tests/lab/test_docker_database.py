"""A database appliance on the emulator's docker backend: a real PostgreSQL at the appliance's address on the
switch's bridge, reachable from this machine (its source address there is the bridge's gateway); the user,
password, port and source networks are the ones configured; power calls stop and start it with its data;
delete leaves nothing.

    flock /tmp/swarmlab-docker.lock .venv/bin/python -m pytest tests/lab/test_docker_database.py -q -x -s
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import uuid

import pytest

from emulator import images
from emulator.backend import DatabaseRuntime
from emulator.docker import L_INSTANCE, DockerBackend
from tests.lab.test_docker_backend import _client, _free_subnet

pytestmark = pytest.mark.lab

DB_ID, SWITCH = "113000000601", "113000000602"
PASSWORD = "Appliance-Pass-9"


def psql(db: DatabaseRuntime, sql: str, password: str = PASSWORD, port: int | None = None):
    """psql from this machine; the password in its environment, never on its command line."""
    env = {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"}
    return subprocess.run(["psql", "-h", db.ip, "-p", str(port or db.port), "-U", db.user, "-d", db.user,
                           "-XtAq", "-v", "ON_ERROR_STOP=1", "-c", sql], env=env, capture_output=True, text=True,
                          timeout=30)


def test_a_database_appliance_is_a_real_postgres_with_its_settings_enforced(tmp_path):
    client = _client()
    images.build_all(client)
    instance = f"t{uuid.uuid4().hex[:8]}"
    shared = _free_subnet(client, [f"198.18.{i}.0/24" for i in range(200, 250)])
    net = _free_subnet(client, [f"192.168.{i}.0/24" for i in range(200, 250)])
    gateway = str(net.network_address + 1)           # this machine's address on the switch's bridge
    backend = DockerBackend(instance, tmp_path / "state", str(shared))
    flt = {"label": f"{L_INSTANCE}={instance}"}
    db = DatabaseRuntime(id=DB_ID, switch_id=SWITCH, ip=str(net.network_address + 30), mask_len=24, port=5432,
                         user="app", password=PASSWORD, source_networks=[str(net)], tags=[instance])
    try:
        backend.start(set())
        backend.switch_created(SWITCH, "t-switch", [instance])
        backend.database_created(db)
        assert backend.database_engine_status(DB_ID) == "running"
        r = psql(db, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept'); SELECT current_user")
        assert (r.returncode, r.stdout.strip()) == (0, "app"), r.stderr
        assert psql(db, "SELECT 1", password="wrong-password").returncode != 0
        c = client.containers.get(f"{instance}-db-{DB_ID}")
        argv = " ".join(c.attrs["Config"].get("Cmd") or []) + " ".join(c.attrs["Config"].get("Entrypoint") or [])
        assert PASSWORD not in argv and not any(PASSWORD in e for e in c.attrs["Config"].get("Env") or [])
        assert PASSWORD not in c.logs().decode(errors="replace")

        # sources without this machine: refused by pg_hba; then another port and password, from here again
        elsewhere = dataclasses.replace(db, source_networks=[f"{net.network_address + 200}/32"])
        backend.database_settings_changed(elsewhere)
        r = psql(db, "SELECT 1")
        assert r.returncode != 0 and "no pg_hba.conf entry" in r.stderr, r.stderr
        moved = dataclasses.replace(db, port=6543, password="Changed-Pass-10", source_networks=[f"{gateway}/32"])
        backend.database_settings_changed(moved)
        assert psql(moved, "SELECT body FROM notes", password="Changed-Pass-10").stdout.strip() == "kept"
        assert psql(moved, "SELECT 1").returncode != 0                    # the old password no longer works
        assert psql(db, "SELECT 1", password="Changed-Pass-10").returncode != 0   # nothing on the old port

        backend.database_power_off(DB_ID, force=False)
        assert backend.database_engine_status(DB_ID) == ""
        assert psql(moved, "SELECT 1", password="Changed-Pass-10").returncode != 0
        backend.database_power_on(moved)
        r = psql(moved, "SELECT body FROM notes", password="Changed-Pass-10")
        assert r.stdout.strip() == "kept", r.stderr                    # the data volume outlives the power-off

        backend.database_deleted(DB_ID)
        assert not client.containers.list(all=True, filters={"label": f"sakura-emulator.resource={DB_ID}"})
        assert not client.volumes.list(filters={"label": f"sakura-emulator.resource={DB_ID}"})
        assert not (tmp_path / "state" / "databases" / DB_ID).exists()
    finally:
        backend.stop()
        backend.purge()
    assert not client.containers.list(all=True, filters=flt)
    assert not client.volumes.list(filters=flt)
