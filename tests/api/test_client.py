"""The SAKURA client against the emulator, run as a real process (`emulator` fixture)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr

from swarmlab.sakura import (DiskEdit, NoMatch, NotFound, ResourceFailed, SakuraClient, Unauthorized,
                             WaitTimeout)
from swarmlab.sakura.errors import Busy
from swarmlab.sakura.transport import SENT

TAGS = ["swarmlab", "lab-t"]
PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC8p0xXo9R1G3v0H7tP2Qy2l2B0HnTjvK1tYVt1vE6gL test@lab"
UBUNTU = ["current-stable", "distro-ubuntu"]


def make_client(emu, secret=None, **kw) -> SakuraClient:
    opts = dict(api_root=emu.root, rate_per_s=200.0, poll_interval_s=0.05, timeout_s=10.0,
                backoff_base_s=0.02, backoff_cap_s=0.5)
    opts.update(kw)
    return SakuraClient(emu.token, secret or emu.secret, emu.zone, **opts)


@pytest.fixture
def client(emulator):
    with make_client(emulator) as c:
        yield c


# -- switches, find semantics ---------------------------------------------------------------
def test_switch_create_find_get_delete(client):
    sw = client.switches.create("lab-t-sw", TAGS, description="lab switch")
    assert sw.id and isinstance(sw.id, str) and sw.name == "lab-t-sw" and set(TAGS) <= set(sw.tags)
    assert client.switches.get(sw.id).name == "lab-t-sw"
    assert [s.id for s in client.switches.find("lab-t-sw")] == [sw.id]
    assert [s.id for s in client.switches.find(tags=TAGS)] == [sw.id]
    assert client.switches.find("lab-t-sw", tags=["swarmlab", "other-lab"]) == []
    assert client.switches.delete(sw.id) is True
    assert client.switches.find("lab-t-sw") == []
    with pytest.raises(NotFound) as ei:
        client.switches.get(sw.id)
    assert ei.value.status == 404 and ei.value.error_code == "not_found"
    assert client.switches.delete(sw.id) is False  # already gone: idempotent teardown


def test_find_is_exact_on_name(client):
    a = client.switches.create("lab-worker1", TAGS)
    b = client.switches.create("lab-worker10", TAGS)
    client.switches.create("x-lab-worker1", TAGS)
    assert [s.id for s in client.switches.find("lab-worker1")] == [a.id]
    assert [s.id for s in client.switches.find("lab-worker10", TAGS)] == [b.id]
    assert len(client.switches.find(tags=TAGS)) == 3
    assert client.switches.find("lab-worker") == []


def test_one_debug_line_per_request(client, caplog):
    caplog.set_level(logging.DEBUG, logger="swarmlab.sakura")
    client.switches.find("nothing-here")
    lines = [r.getMessage() for r in caplog.records if r.name == "swarmlab.sakura"]
    assert len(lines) == 1 and lines[0].startswith("GET /is1a/switch -> 200 ") and lines[0].endswith(" ms")


# -- auth --------------------------------------------------------------------------------------
def test_bad_secret_is_unauthorized_without_retry_or_leak(emulator, caplog):
    bad = "wrong-secret-0123456789"
    caplog.set_level(logging.DEBUG, logger="swarmlab.sakura")
    with make_client(emulator, secret=SecretStr(bad)) as c:
        with pytest.raises(Unauthorized) as ei:
            c.switches.find()
    e = ei.value
    assert e.status == 401 and e.attempts == 1
    assert "access token" in str(e) and "credentials block" in str(e)
    assert bad not in str(e) and bad not in repr(e) and bad not in caplog.text and bad not in repr(c)
    assert len([r for r in caplog.records if r.name == "swarmlab.sakura"]) == 1


# -- faults ------------------------------------------------------------------------------------
def test_busy_api_still_converges(emulator, client):
    emulator.faults(busy_rate=0.3)
    names = [f"lab-t-busy{i:02d}" for i in range(10)]
    with ThreadPoolExecutor(5) as pool:
        created = list(pool.map(lambda n: client.switches.create(n, TAGS), names))
    emulator.faults(busy_rate=0.0)
    found = client.switches.find(tags=TAGS)
    assert sorted(s.name for s in found) == names  # each exactly once: a busy POST was not executed
    emulator.faults(busy_rate=0.3)
    with ThreadPoolExecutor(5) as pool:
        assert all(pool.map(lambda s: client.switches.delete(s.id), created))
    emulator.faults(busy_rate=0.0)
    assert client.switches.find(tags=TAGS) == []


def test_every_request_sent_is_counted_retries_included(emulator, client):
    before = SENT.value
    client.switches.find(tags=TAGS)
    client.switches.find(tags=TAGS)
    assert SENT.value - before == 2
    emulator.faults(busy_rate=1.0)
    with pytest.raises(Busy):
        with make_client(emulator, max_retries=2) as busy:
            busy.switches.find(tags=TAGS)
    emulator.faults(busy_rate=0.0)
    assert SENT.value - before == 2 + 3, "the two retries of the busy request were not counted"


def test_failed_disk_raises_resource_failed_naming_it(emulator, client):
    archive = client.archives.find_by_tags(UBUNTU)
    server = client.servers.create("lab-t-fail", TAGS, 1, 1, [])
    emulator.faults(fail_disks=1)
    disk = client.disks.create("lab-t-fail-disk", TAGS, archive.id, server.id, 20, "ssd")
    with pytest.raises(ResourceFailed) as ei:
        client.disks.wait_available(disk.id, timeout_s=60)
    assert "lab-t-fail-disk" in str(ei.value) and disk.id in str(ei.value) and "failed" in str(ei.value)


def test_waiter_timeout_names_resource_and_last_state(client):
    server = client.servers.create("lab-t-idle", TAGS, 1, 1, [])
    with pytest.raises(WaitTimeout) as ei:
        client.servers.wait_up(server.id, timeout_s=0.3)
    s = str(ei.value)
    assert "server 'lab-t-idle'" in s and server.id in s and "status=down" in s and "up" in s


# -- a whole server --------------------------------------------------------------------------
def test_server_with_disk_lifecycle(client):
    sw = client.switches.create("lab-t-sw", TAGS)
    note = client.notes.create("lab-t-init", TAGS, "#!/bin/bash\necho @@@FOO@@@\n")
    key = client.ssh_keys.create("lab-t-key", PUBKEY)
    archive = client.archives.find_by_tags(UBUNTU)
    assert set(UBUNTU) <= set(archive.tags)

    server = client.servers.create("lab-t-worker1", TAGS, cpu=1, memory_gb=2, switch_ids=[sw.id])
    assert server.status in ("down", "") and len(server.interfaces) == 2
    assert server.interfaces[0].is_shared and server.interfaces[1].switch_id == sw.id
    assert server.cpu == 1 and server.memory_gb == 2

    edit = DiskEdit(host_name="lab-t-worker1", ssh_public_keys=[PUBKEY], notes=[(note.id, {"FOO": "bar"})],
                    user_ip="192.168.1.11", mask_len=24, default_route="192.168.1.1")
    disk = client.disks.create("lab-t-worker1-disk", TAGS, archive.id, server.id, 20, "ssd", edit)
    assert disk.availability in ("migrating", "available")
    disk = client.disks.wait_available(disk.id, timeout_s=60)
    assert disk.availability == "available" and disk.server_id == server.id and disk.size_gb == 20

    nic = client.interfaces.set_user_ip(server.interfaces[1].id, "192.168.1.11")
    assert nic.user_ip_address == "192.168.1.11"

    client.servers.power_on(server.id)
    client.servers.power_on(server.id)  # idempotent while booting or up
    up = client.servers.wait_up(server.id, timeout_s=60)
    assert up.status == "up" and up.availability == "available" and [d.id for d in up.disks] == [disk.id]
    assert client.servers.power_on(server.id).status == "up"

    client.servers.power_off(server.id, force=True)
    client.servers.power_off(server.id, force=True)
    assert client.servers.wait_down(server.id, timeout_s=60).status == "down"
    assert client.servers.power_off(server.id).status == "down"

    assert client.servers.delete(server.id, with_disks=[disk.id]) is True
    with pytest.raises(NotFound):
        client.disks.get(disk.id)
    assert client.servers.find("lab-t-worker1") == []
    assert client.switches.delete(sw.id)
    assert client.notes.delete(note.id) and client.ssh_keys.delete(key.id)


def test_delete_running_server_with_stop_first(client):
    server = client.servers.create("lab-t-run", TAGS, 1, 1, [])
    archive = client.archives.find_by_tags(UBUNTU)
    disk = client.disks.create("lab-t-run-disk", TAGS, archive.id, server.id, 20, "hdd")
    client.disks.wait_available(disk.id, timeout_s=60)
    client.servers.power_on(server.id)
    client.servers.wait_up(server.id, timeout_s=60)
    assert client.servers.delete(server.id, with_disks=[disk.id], stop_first=True, timeout_s=60)
    assert client.servers.find("lab-t-run") == [] and client.disks.find("lab-t-run-disk") == []


# -- lookups, global resources ---------------------------------------------------------------
def test_archive_lookup_missing_is_clear(client):
    with pytest.raises(NoMatch) as ei:
        client.archives.find_by_tags(["distro-does-not-exist"])
    assert "distro-does-not-exist" in str(ei.value) and "is1a" in str(ei.value)


def test_notes_and_ssh_keys(client):
    note = client.notes.create("lab-t-note", TAGS, "echo hi", klass="shell")
    assert note.klass == "shell" and note.content == "echo hi"
    assert [n.id for n in client.notes.find("lab-t-note", TAGS)] == [note.id]
    key = client.ssh_keys.create("lab-t-key", PUBKEY)
    assert key.public_key == PUBKEY
    assert [k.id for k in client.ssh_keys.find("lab-t-key")] == [key.id]
    assert client.notes.delete(note.id) and client.ssh_keys.delete(key.id)
    assert client.notes.find("lab-t-note") == [] and client.ssh_keys.find("lab-t-key") == []


def test_nfs_lifecycle(client):
    plan = client.nfs.plan_id("HDD", 100)
    assert plan
    with pytest.raises(NoMatch):
        client.nfs.plan_id("HDD", 3)
    sw = client.switches.create("lab-t-nfs-sw", TAGS)
    nfs = client.nfs.create("lab-t-nfs", TAGS, sw.id, "192.168.1.20", 24, "192.168.1.1", plan)
    up = client.nfs.wait_up(nfs.id, timeout_s=60)
    assert up.status == "up" and up.ip == "192.168.1.20" and up.switch_id == sw.id
    assert [n.id for n in client.nfs.find("lab-t-nfs", TAGS)] == [nfs.id]
    client.nfs.power_off(nfs.id, force=True)
    client.nfs.wait_down(nfs.id, timeout_s=60)
    assert client.nfs.delete(nfs.id) and client.nfs.find("lab-t-nfs") == []
    assert client.switches.delete(sw.id)


def test_registry_and_users(client):
    reg = client.registries.create("lab-t-reg", TAGS, "labtreg")
    assert reg.registry_name == "labtreg"
    got = client.registries.get(reg.id)
    assert got.fqdn.startswith("labtreg.")
    assert [r.id for r in client.registries.find("lab-t-reg", TAGS)] == [reg.id]
    client.registries.add_user(reg.id, "deploy", SecretStr("pa55-word-xyz"), "all")
    users = client.registries.users(reg.id)
    assert [(u.username, u.permission) for u in users] == [("deploy", "all")]
    assert client.registries.delete_user(reg.id, "deploy")
    assert client.registries.users(reg.id) == []
    assert client.registries.delete(reg.id) and client.registries.find("lab-t-reg") == []


def test_prices(client):
    prices = client.prices.list()
    assert prices and all(p.id for p in prices)
    assert any(p.hourly is not None or p.daily is not None for p in prices)
