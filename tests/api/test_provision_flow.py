"""provision and teardown_lab, as Prefect flows, against a real emulator process (memory backend)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from urllib.parse import quote

import pytest
import requests

import flows.lock
from flows.provision import provision
from flows.teardown import teardown_lab
from swarmlab.cloud.fleet import known_hosts_path
from pydantic import SecretStr

from swarmlab.hosts import KnownHosts
from swarmlab.cloud.secrets import host_key
from swarmlab.spec import local

from tests.conftest import ROOT
from swarmlab.sakura.wait import Deadline

PATHS = {"switch": "Switches", "server": "Servers", "disk": "Disks", "appliance": "Appliances",
         "commonserviceitem": "CommonServiceItems", "note": "Notes"}


def listing(emu, lab: str) -> Counter:
    """Every resource tagged for `lab`, counted by kind, read with plain HTTP (not the client under test)."""
    found = Counter()
    q = quote(json.dumps({"Filter": {"Tags.Name": [[f"swarmlab-lab={lab}"]]}, "Count": 1000}))
    for path, key in PATHS.items():
        r = requests.get(emu.url(path) + "?" + q, auth=(emu.token, emu.secret), timeout=10)
        r.raise_for_status()
        for item in r.json()[key]:
            if f"swarmlab-lab={lab}" in item["Tags"]:
                found[path] += 1
    return found


def all_up(emu, lab: str) -> bool:
    q = quote(json.dumps({"Filter": {"Tags.Name": [[f"swarmlab-lab={lab}"]]}, "Count": 1000}))
    r = requests.get(emu.url("server") + "?" + q, auth=(emu.token, emu.secret), timeout=10)
    r.raise_for_status()
    return all(s["Instance"]["Status"] == "up" for s in r.json()["Servers"])


EXPECTED = Counter({"switch": 1, "server": 7, "disk": 7, "appliance": 1, "commonserviceitem": 1, "note": 1})
FILTERS = 2  # packet filters (servers, HAProxy): untagged, so not in `listing`, but planned and deleted


def test_provision_is_idempotent_and_teardown_leaves_nothing(cloud_env, prefect_api):
    spec = local("lab-a")
    inv = provision(spec)
    assert len(inv.servers) == 7 and all(s.status == "up" for s in inv.servers)
    assert {s.private_ip for s in inv.servers} == {str(s.private_ip) for s in spec.servers}
    assert all(s.address for s in inv.servers), "every server needs a shared-segment address for SSH"
    assert inv.registry_fqdn == "lab-a.sakuracr.jp"
    assert listing(cloud_env, "lab-a") == EXPECTED

    again = provision(spec)
    assert again.created == [], f"a re-run changed {again.created}"
    assert [s.id for s in again.servers] == [s.id for s in inv.servers]
    assert listing(cloud_env, "lab-a") == EXPECTED

    pins = KnownHosts(known_hosts_path("lab-a")).pins()
    for s in inv.servers:  # provision pinned the host key it shipped, before any connection
        want = host_key(SecretStr(cloud_env.secret), "lab-a", s.name).public_key.split()
        assert (pins[s.id].type, pins[s.id].key, pins[s.id].host) == (want[0], want[1], s.name)
    assert len({p.key for p in pins.values()}) == 7, "every server has a key of its own"
    report = teardown_lab("lab-a", spec.zone)
    assert len(report.deleted) == sum(EXPECTED.values()) - 7 + FILTERS  # disks go with their servers
    assert report.detached == [] and report.already_gone == []
    assert KnownHosts(known_hosts_path("lab-a")).pins() == {}, "teardown keeps pins of deleted servers"
    assert listing(cloud_env, "lab-a") == Counter()
    assert teardown_lab("lab-a", spec.zone).deleted == []


def test_busy_storm_converges_without_duplicates_or_leftovers(cloud_env, prefect_api):
    cloud_env.faults(busy_rate=0.3)
    spec = local("lab-b")
    provision(spec)
    cloud_env.faults(busy_rate=0.0)
    assert listing(cloud_env, "lab-b") == EXPECTED
    cloud_env.faults(busy_rate=0.3)
    teardown_lab("lab-b", spec.zone)
    cloud_env.faults(busy_rate=0.0)
    assert listing(cloud_env, "lab-b") == Counter()


def test_killed_half_way_then_rerun_ends_with_exactly_the_spec(cloud_env, prefect_api, tmp_path, monkeypatch):
    monkeypatch.setattr(flows.lock, "STALE_S", 25.0)  # the dead run's lock is taken over sooner (90 s in production)
    cloud_env.faults(delay_scale=1.0)  # slow enough to kill the process mid-way
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    proc = subprocess.Popen([sys.executable, "-m", "flows", "provision", "--name", "lab-c"], cwd=ROOT, env=env,
                            stdout=open(tmp_path / "killed.log", "wb"), stderr=subprocess.STDOUT)
    deadline = Deadline(120)
    while listing(cloud_env, "lab-c")["disk"] < 3:
        assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-2000:]
        assert not deadline.passed, "provision never got half-way"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert listing(cloud_env, "lab-c") != EXPECTED or not all_up(cloud_env, "lab-c"), \
        "the kill came too late to test resuming"

    cloud_env.faults(delay_scale=0.05)
    inv = provision(local("lab-c"))
    assert all(s.status == "up" for s in inv.servers)
    assert listing(cloud_env, "lab-c") == EXPECTED
    teardown_lab("lab-c", "is1a")
    assert listing(cloud_env, "lab-c") == Counter()


def test_failed_disk_fails_the_flow_naming_it_and_teardown_still_cleans(cloud_env, prefect_api):
    cloud_env.faults(fail_disks=1)
    with pytest.raises(Exception, match=r"lab-d-\w+-disk"):
        provision(local("lab-d"))
    assert listing(cloud_env, "lab-d")["disk"] >= 1
    teardown_lab("lab-d", "is1a")
    assert listing(cloud_env, "lab-d") == Counter()


def test_bad_credentials_fail_fast_without_leaking_the_secret(cloud_env, prefect_api, monkeypatch):
    monkeypatch.setenv("SAKURACLOUD_ACCESS_TOKEN_SECRET", "wrong-secret-XYZ")
    started = time.monotonic()
    with pytest.raises(Exception) as err:
        provision(local("lab-e"))
    assert time.monotonic() - started < 30
    assert "401" in str(err.value) or "nauthorized" in str(err.value)
    assert "wrong-secret-XYZ" not in str(err.value)


def test_a_retried_task_with_a_stale_snapshot_creates_no_duplicate(cloud_env, prefect_api):
    from blocks.sakura import SakuraCloudCredentials
    from swarmlab.cloud import provision as lib

    spec = local("lab-f")
    inv = provision(spec)
    client = SakuraCloudCredentials.from_env().client(spec.zone)
    server = spec.servers[0]
    want = lib.ServerCreate(server=server, switch_id=inv.switch_id, tags=spec.tags, archive_id="unused",
                            note_id="unused", public_key="unused")  # as a retry with the run's old snapshot: none
    info, changed = lib.ensure_server(client, spec, want)
    assert (info.id, changed) == (inv.server(spec.server_name(server)).id, False)
    assert listing(cloud_env, "lab-f") == EXPECTED
    teardown_lab("lab-f", spec.zone)


def test_a_database_appliance_lab_is_provisioned_adopted_and_torn_down(cloud_env, prefect_api, caplog):
    from swarmlab.cloud.secrets import derive
    from tests.api.test_client import make_client

    spec = local("lab-d", database="appliance")
    inv = provision(spec)
    assert inv.db_id and inv.db_address == "192.168.1.210:5432" and "lab-d-db" in inv.created
    assert listing(cloud_env, "lab-d") == EXPECTED + Counter({"appliance": 1})
    with make_client(cloud_env) as client:
        db = client.databases.get(inv.db_id)
        assert (db.name, db.status, db.ip, db.port, db.default_user) == ("lab-d-db", "up", "192.168.1.210", 5432, "app")
        assert db.source_networks == ["192.168.1.0/24"] and db.switch_id == inv.switch_id
        password = derive(SecretStr(cloud_env.secret), "lab-d", "db").get_secret_value()
        assert db.common.user_password.get_secret_value() == password
        assert client.databases.status(inv.db_id).engine_status == "running"
    assert password not in caplog.text

    again = provision(spec)
    assert again.created == [] and again.db_id == inv.db_id
    report = teardown_lab("lab-d", spec.zone)
    assert "databases lab-d-db" in report.deleted and "nfs lab-d-nfs" in report.deleted
    assert listing(cloud_env, "lab-d") == Counter()
