"""teardown_lab against a real emulator process (memory backend): protection, dry run, what is not the
lab's, two teardowns at once, the NFS data warning."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from flows.cost_guard import cost_guard
from flows.provision import provision
from flows.teardown import teardown_lab
from swarmlab.cloud import lifecycle as lc
from swarmlab.spec import local

from tests.api.test_cost_guard import client, retag, switch_of
from tests.api.test_provision_flow import EXPECTED, FILTERS, listing


def test_dry_run_protection_unreadable_tags_and_force(cloud_env, prefect_api, caplog):
    provision(local("td-a"))
    dry = teardown_lab("td-a", "is1a", dry_run=True)
    assert listing(cloud_env, "td-a") == EXPECTED and lc.parse_teardown(switch_of("td-a").tags) is None
    assert dry.dry_run and dry.deleted == [] and len(dry.plan) == sum(EXPECTED.values()) - 7 + FILTERS  # disks with servers
    assert [p.split(" ")[:2] for p in dry.plan] == [["delete", "servers"]] * 7 + [
        ["delete", "nfs"], ["delete", "registries"], ["delete", "notes"], ["delete", "packet_filters"],
        ["delete", "packet_filters"], ["delete", "switches"]]
    assert "delete servers td-a-manager01 (with disk td-a-manager01-disk)" in dry.plan
    assert dry.nfs_data_bytes == 0 and dry.warnings == ["share td-a-nfs holds ~0.0 MB; it will be lost"]

    for value in ("2099-06-01", "2099-06-01T00:00+09:00"):
        retag("td-a", lc.PROTECT_PREFIX, [lc.PROTECT_PREFIX + value])
        with pytest.raises(lc.LabProtected, match=f"swarmlab-protect-until={value[:10]}.*--force"):
            teardown_lab("td-a", "is1a")
        assert listing(cloud_env, "td-a") == EXPECTED

    retag("td-a", lc.EXPIRES_PREFIX, [lc.expiry_tag(datetime.now(timezone.utc) - timedelta(hours=1))])
    retag("td-a", lc.PROTECT_PREFIX, [lc.PROTECT_PREFIX + "until-june"])
    with pytest.raises(lc.LabTagUnreadable, match="swarmlab-protect-until=until-june does not parse"):
        teardown_lab("td-a", "is1a")
    [kept] = cost_guard(zones=["is1a"])  # expired, but its protect tag does not parse: kept and flagged
    assert kept.action == "keep" and kept.flags and "until-june does not parse" in kept.reason
    assert listing(cloud_env, "td-a") == EXPECTED and lc.parse_teardown(switch_of("td-a").tags) is None

    with caplog.at_level(logging.WARNING):
        done = teardown_lab("td-a", "is1a", force=True)
    assert listing(cloud_env, "td-a") == Counter()
    assert done.forced and len(done.deleted) == len(dry.plan) and done.detached == []
    assert done.data_destroyed and done.nfs_data_bytes == 0
    assert done.warnings == ["share td-a-nfs holds ~0.0 MB; it will be lost"]
    assert "share td-a-nfs holds ~0.0 MB; it will be lost" in [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_disk_or_nic_that_is_not_the_labs_is_detached_and_left(cloud_env, prefect_api):
    spec = local("td-b")
    inv = provision(spec)
    c = client()
    worker = next(s for s in inv.servers if "worker" in s.name)
    c.servers.power_off(worker.id, force=True)
    c.servers.wait_down(worker.id)
    archive = c.disks.get(c.servers.get(worker.id).disks[0].id).source_archive.id
    precious = c.disks.create(name="precious-data", tags=["theirs"], archive_id=archive, server_id=worker.id,
                              size_gb=20)
    c.disks.wait_available(precious.id)
    theirs = c.switches.create(name="their-switch", tags=["theirs"])
    lab_switch = switch_of("td-b")
    extra = c.servers.create(name="td-b-extra", tags=["swarmlab", "swarmlab-lab=td-b"], cpu=1, memory_gb=1,
                             switch_ids=[lab_switch.id, theirs.id])

    report = teardown_lab("td-b", "is1a")
    assert listing(cloud_env, "td-b") == Counter()
    assert c.disks.get(precious.id).server is None, "the hand-attached disk must survive, detached"
    assert c.switches.get(theirs.id).name == "their-switch"
    assert sorted(report.detached) == [
        "detach disks precious-data (from server td-b-worker01; not the lab's: left)",
        "disconnect nic td-b-extra#2 (from switch their-switch, not the lab's: the switch is left)"]
    assert f"servers {extra.name}" in report.deleted


def test_two_teardowns_at_once_both_end_with_nothing_left(cloud_env, prefect_api):
    provision(local("td-c"))
    reports, errors = [], []

    def run():
        try:
            reports.append(teardown_lab("td-c", "is1a"))
        except Exception as e:  # noqa: BLE001 - the assertion below names it
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)
    assert errors == [] and len(reports) == 2
    assert listing(cloud_env, "td-c") == Counter()
    every = [x for r in reports for x in r.deleted + r.already_gone]
    assert len(set(every)) == sum(EXPECTED.values()) - 7 + FILTERS
    assert Counter(x for r in reports for x in r.deleted) == Counter(set(every)), "nothing deleted twice"


def test_nfs_database_monitor_reports_free_disk_size_in_kib(cloud_env):
    import requests

    from tests.api.test_emulator import Api, nfs_body

    api = Api(cloud_env)
    sw = api.switch("mon-switch")
    nfs = api.ok("POST", "appliance", nfs_body(sw["ID"], 101))["Appliance"]  # HDD 100 GB
    path = f"appliance/{nfs['ID']}"
    api.wait(path, "Appliance", lambda a: a["Instance"]["Status"] == "up")
    r = requests.get(cloud_env.url(f"{path}/database/monitor"), auth=(cloud_env.token, cloud_env.secret), timeout=10)
    samples = r.json()["Data"]
    assert r.status_code == 200 and samples and all(t.endswith("+09:00") for t in samples)
    assert {v["Free-Disk-Size"] for v in samples.values()} == {100 * 1024 * 1024}  # nothing written
    c = client()
    assert c.nfs.used_bytes(c.nfs.get(nfs["ID"])) == 0


def test_docker_backend_measures_what_its_share_holds(tmp_path):
    from emulator.docker import DockerBackend

    backend = DockerBackend("t", tmp_path, "198.18.0.0/24", client=object())  # no docker call on this path
    assert backend.nfs_used_bytes("1") is None
    backend.nfs_created("1", "2", "192.168.1.200", [])
    (backend.nfs_export_dir("1") / "pgdata").mkdir()
    (backend.nfs_export_dir("1") / "pgdata" / "base").write_bytes(b"x" * 5000)
    (backend.nfs_export_dir("1") / "top").write_bytes(b"y" * 123)
    assert backend.nfs_used_bytes("1") == 5123
