"""The API layer's contract with a backend (in-process, with a slow recording backend)."""

from __future__ import annotations

import threading
import time

import bcrypt

from emulator.backend import MemoryBackend
from emulator.cloud import Cloud
from emulator.faults import Faults
from emulator.store import Store
from swarmlab.sakura.wait import Deadline


class SlowBackend(MemoryBackend):
    def __init__(self, boot_s: float = 0.5):
        self.boot_s, self.lock, self.active, self.max_active = boot_s, threading.Lock(), 0, 0
        self.calls: list[tuple] = []

    def _call(self, *call):
        with self.lock:
            self.calls.append(call)

    def start(self, live_ids):
        self._call("start", set(live_ids))

    def server_power_on(self, server):
        self._call("power_on", server)
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(self.boot_s)
        with self.lock:
            self.active -= 1

    def server_deleted(self, server_id):
        self._call("server_deleted", server_id)

    def switch_deleted(self, switch_id):
        self._call("switch_deleted", switch_id)

    def registry_users_changed(self, registry_id, users):
        self._call("users", registry_id, users)


def make(tmp_path, backend) -> Cloud:
    cloud = Cloud(Store(tmp_path / "s.sqlite"), backend, Faults(delay_scale=0.01))
    cloud.start()
    return cloud


def wait(pred, timeout=5.0):
    deadline = Deadline(timeout)
    while not pred():
        assert not deadline.passed, "timed out"
        time.sleep(0.02)


def test_boots_run_in_parallel_without_blocking_reads(tmp_path):
    backend = SlowBackend(boot_s=0.6)
    cloud = make(tmp_path, backend)
    ids = [cloud.create_server("is1a", {"Server": {"Name": f"s{i}", "ServerPlan": {"CPU": 1, "MemoryMB": 1024},
                                                   "ConnectedSwitches": [{"Scope": "shared"}]}})["ID"]
           for i in range(4)]
    t0 = time.monotonic()
    for sid in ids:
        cloud.server_power("is1a", sid, True)
    time.sleep(0.2)
    r0 = time.monotonic()
    statuses = [cloud.read("server", "is1a", sid)["Instance"]["Status"] for sid in ids]
    assert time.monotonic() - r0 < 0.1 and statuses == ["down"] * 4     # still down while the backend works
    wait(lambda: all(cloud.read("server", "is1a", s)["Instance"]["Status"] == "up" for s in ids))
    assert time.monotonic() - t0 < 1.5 and backend.max_active == 4
    cloud.close()


def test_runtime_assembled_from_disk_edit_and_nics(tmp_path):
    backend = SlowBackend(boot_s=0)
    cloud = make(tmp_path, backend)
    sw = cloud.create_switch("is1a", {"Switch": {"Name": "sw", "UserSubnet": {"NetworkMaskLen": 24}}})
    key = cloud.create_sshkey("is1a", {"SSHKey": {"Name": "k", "PublicKey": "ssh-ed25519 AAAA k1"}})
    note = cloud.create_note("is1a", {"Note": {"Name": "n", "Content": "echo @@@ROLE@@@ @@@OTHER@@@"}})
    srv = cloud.create_server("is1a", {"Server": {"Name": "mgr1", "ServerPlan": {"CPU": 1, "MemoryMB": 1024},
                                                  "ConnectedSwitches": [{"Scope": "shared"}, {"ID": sw["ID"]}]}})
    archive = cloud.find("archive", "is1a", {"Filter": {"Tags.Name": [["ubuntu-20.04-latest"]]}})["Archives"][0]
    disk = cloud.create_disk("is1a", {"Disk": {"Name": "d", "Plan": {"ID": 4}, "SourceArchive": {"ID": archive["ID"]},
                                               "Server": {"ID": srv["ID"]}},
                                      "Config": {"HostName": "mgr1", "SSHKeys": [{"ID": key["ID"]},
                                                                                  {"PublicKey": "ssh-rsa BBBB k2"}],
                                                 "Notes": [{"ID": note["ID"], "Variables": {"ROLE": "manager"}}]}})
    cloud.update_interface("is1a", srv["Interfaces"][1]["ID"], {"Interface": {"UserIPAddress": "192.168.1.20"}})
    wait(lambda: cloud.read("disk", "is1a", disk["ID"])["Availability"] == "available")
    cloud.server_power("is1a", srv["ID"], True)
    wait(lambda: any(c[0] == "power_on" for c in backend.calls))
    rt = next(c[1] for c in backend.calls if c[0] == "power_on")
    assert (rt.id, rt.name, rt.hostname, rt.shared_ip) == (srv["ID"], "mgr1", "mgr1", "198.18.0.10")
    assert rt.ssh_public_keys == ["ssh-ed25519 AAAA k1", "ssh-rsa BBBB k2"]
    assert [(n.id, n.content) for n in rt.notes] == [(note["ID"], "echo manager @@@OTHER@@@")]
    assert [(n.switch_id, n.ip, n.mask_len) for n in rt.private_nics] == [(sw["ID"], "192.168.1.20", 24)]
    wait(lambda: cloud.read("server", "is1a", srv["ID"])["Instance"]["Status"] == "up")
    cloud.server_power("is1a", srv["ID"], False, force=True)
    wait(lambda: cloud.read("server", "is1a", srv["ID"])["Instance"]["Status"] == "down")
    cloud.delete_server("is1a", srv["ID"], {"WithDisk": [disk["ID"]]})
    cloud.delete_switch("is1a", sw["ID"], {})
    assert ("server_deleted", srv["ID"]) in backend.calls and ("switch_deleted", sw["ID"]) in backend.calls
    cloud.close()


def test_registry_users_reach_backend_hashed_and_start_gets_live_ids(tmp_path):
    backend = SlowBackend()
    cloud = make(tmp_path, backend)
    reg = cloud.create_commonserviceitem("is1a", {"CommonServiceItem": {
        "Name": "r", "Provider": {"Class": "containerregistry"}, "Status": {"registry_name": "lab"}}})
    wait(lambda: cloud.read("commonserviceitem", "is1a", reg["ID"])["Availability"] == "available")
    cloud.registry_user_set("is1a", reg["ID"], None, {"ContainerRegistry": {
        "username": "ci", "password": "pw-1", "permission": "all"}}, create=True)
    wait(lambda: any(c[0] == "users" for c in backend.calls))
    (user,) = next(c[2] for c in backend.calls if c[0] == "users")
    assert user.username == "ci" and bcrypt.checkpw(b"pw-1", user.password_bcrypt.encode())
    cloud.close()
    again = SlowBackend()
    restarted = make(tmp_path, again)
    live = next(c[1] for c in again.calls if c[0] == "start")
    archives = {a["ID"] for a in restarted.find("archive", "is1a", {})["Archives"]}
    assert reg["ID"] in live and not live & archives
    restarted.close()


def test_vm_stopping_by_itself_shows_down(tmp_path):
    cloud = make(tmp_path, SlowBackend(boot_s=0))
    sid = cloud.create_server("is1a", {"Server": {"Name": "s", "ServerPlan": {"CPU": 1, "MemoryMB": 1024}}})["ID"]
    cloud.server_power("is1a", sid, True)
    wait(lambda: cloud.read("server", "is1a", sid)["Instance"]["Status"] == "up")
    cloud.server_went_down(sid)
    assert cloud.read("server", "is1a", sid)["Instance"]["Status"] == "down"
    assert [e["event"] for e in cloud.events() if e["resource_id"] == sid] == ["created", "up", "down"]
    cloud.close()
