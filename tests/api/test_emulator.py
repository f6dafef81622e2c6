"""The emulator over real HTTP: envelopes, auth, filters, lifecycles, rules, persistence, faults."""

from __future__ import annotations

import json
import sqlite3
import time
from urllib.parse import quote

import pytest
import requests

from tests.api.conformance import wait_for
from tests.conftest import start_emulator, stop_emulator


class Api:
    def __init__(self, emu, zone: str = "is1a"):
        self.emu, self.zone = emu, zone
        self.s = requests.Session()
        self.s.auth = (emu.token, emu.secret)

    def call(self, method: str, path: str, body=None, query=None, raw_query: bool = False, **kw):
        url = self.emu.url(path, self.zone)
        if query is not None:
            text = json.dumps(query, separators=(",", ":"))
            url += "?" + (text if raw_query else quote(text))
        return self.s.request(method, url, data=None if body is None else json.dumps(body), timeout=10, **kw)

    def ok(self, method: str, path: str, body=None, status: int | None = None, **kw) -> dict:
        r = self.call(method, path, body, **kw)
        assert r.status_code == (status or (201 if method == "POST" else 200)), r.text
        return r.json()

    def error(self, method: str, path: str, body=None, status: int = 409, code: str = "conflict", **kw) -> dict:
        r = self.call(method, path, body, **kw)
        assert (r.status_code, r.json().get("error_code")) == (status, code), r.text
        return r.json()

    def switch(self, name: str = "sw1", tags=()) -> dict:
        return self.ok("POST", "switch", {"Switch": {"Name": name, "Tags": list(tags)}})["Switch"]

    def server(self, name: str = "web1", switches=({"Scope": "shared"},)) -> dict:
        body = {"Server": {"Name": name, "ServerPlan": {"CPU": 1, "MemoryMB": 1024},
                           "ConnectedSwitches": list(switches)}}
        return self.ok("POST", "server", body)["Server"]

    def ubuntu(self) -> str:
        q = {"Filter": {"Tags.Name": [["ubuntu-24.04-latest"]], "Scope": ["shared"]}}
        return self.ok("GET", "archive", query=q)["Archives"][0]["ID"]

    def disk(self, server_id: str | None = None, config: dict | None = None) -> dict:
        body = {"Disk": {"Name": "d1", "Plan": {"ID": 4}, "SizeMB": 20480, "SourceArchive": {"ID": self.ubuntu()},
                         **({"Server": {"ID": server_id}} if server_id else {})}}
        if config is not None:
            body["Config"] = config
        return self.ok("POST", "disk", body)["Disk"]

    def wait(self, path: str, key: str, pred, timeout: float = 5.0) -> dict:
        return wait_for(self, path, key, pred, timeout, interval=0.03)


@pytest.fixture
def api(emulator):
    return Api(emulator)


def status(obj) -> str:
    return obj["Instance"]["Status"]


def test_envelopes_ids_and_bigint_header(api):
    r = api.call("POST", "switch", {"Switch": {"Name": "sw1"}})
    assert r.status_code == 201
    created = r.json()
    assert created["is_ok"] is True and created["Success"] is True
    sw = created["Switch"]
    assert isinstance(sw["ID"], str) and len(sw["ID"]) == 12 and sw["ID"].isdigit()
    assert sw["Tags"] == [] and sw["Scope"] == "user" and sw["ServiceClass"] == "cloud/switch/default"
    assert sw["CreatedAt"].endswith("+09:00")
    read = api.ok("GET", f"switch/{sw['ID']}")
    assert read["is_ok"] is True and read["Switch"]["Name"] == "sw1"
    found = api.ok("GET", "switch")
    assert (found["Total"], found["From"], found["Count"]) == (1, 0, 1) and found["Switches"][0]["ID"] == sw["ID"]
    as_int = api.ok("GET", f"switch/{sw['ID']}", headers={"X-Sakura-Bigint-As-Int": "1"})["Switch"]
    assert as_int["ID"] == int(sw["ID"])
    # numeric IDs in requests are accepted too
    srv = api.server(switches=[{"ID": int(sw["ID"])}])
    assert srv["Interfaces"][0]["Switch"]["ID"] == sw["ID"]
    updated = api.ok("PUT", f"switch/{sw['ID']}", {"Switch": {"Name": "sw1b", "Tags": ["x"]}})["Switch"]
    assert (updated["Name"], updated["Tags"]) == ("sw1b", ["x"])
    # zones are separate
    assert Api(api.emu, "tk1a").ok("GET", "switch")["Total"] == 0


def test_auth_and_error_shapes(api, emulator):
    r = requests.get(emulator.url("switch"), timeout=5)
    body = r.json()
    assert r.status_code == 401 and body["error_code"] == "unauthorized"
    assert body["is_fatal"] is True and body["status"] == "401 Unauthorized" and int(body["serial"], 16) >= 0
    assert requests.get(emulator.url("switch"), auth=("emulator-token", "nope"), timeout=5).status_code == 401
    assert Api(emulator, "xx9z").call("GET", "switch").json()["error_code"] == "not_found"
    api.error("GET", "server/113999999999", status=404, code="not_found")
    r = api.s.post(emulator.url("switch"), data="{not json", timeout=5)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_format")
    assert requests.get(emulator.admin_url("health"), auth=emulator.auth, timeout=5).json()["ok"] is True


def test_admin_endpoints_need_the_credentials(emulator):
    for method, name in (("GET", "health"), ("GET", "faults"), ("PUT", "faults"), ("GET", "events")):
        for auth in (None, ("emulator-token", "nope")):
            r = requests.request(method, emulator.admin_url(name), auth=auth, json={"busy_rate": 1.0}, timeout=5)
            assert (r.status_code, r.json()["error_code"]) == (401, "unauthorized"), (method, name, auth)
    assert requests.get(emulator.admin_url("faults"), auth=emulator.auth, timeout=5).json()["busy_rate"] == 0.0


def test_find_filter_semantics(api):
    api.switch("lab-web01", ["swarmlab", "lab-a"])
    api.switch("lab-web02", ["swarmlab", "lab-b"])
    api.switch("other-db", ["swarmlab", "lab-a"])

    def names(query, raw=False):
        return sorted(s["Name"] for s in api.ok("GET", "switch", query=query, raw_query=raw)["Switches"])

    assert names({"Filter": {"Name": "web"}}) == ["lab-web01", "lab-web02"]          # partial
    assert names({"Filter": {"Name": ["lab-web01"]}}) == ["lab-web01"]                # exact
    assert names({"Filter": {"Name": ["lab-web"]}}) == []                             # exact is not partial
    assert names({"Filter": {"Name": "lab 02"}}) == ["lab-web02"]                      # space = AND of terms
    assert names({"Filter": {"Name": ["lab-web01", "other-db"]}}) == ["lab-web01", "other-db"]  # OR
    assert names({"Filter": {"Tags.Name": [["swarmlab", "lab-a"]]}}) == ["lab-web01", "other-db"]  # tag AND
    assert names({"Filter": {"Tags.Name": [["lab-a", "lab-b"]]}}) == []
    assert names({"Filter": {"Tags.Name": [["lab-a"]], "Name": "web"}}, raw=True) == ["lab-web01"]  # raw JSON
    escaped = {"Filter": {"Name": ["Ubuntu%20Server%2020.04.6%20LTS%2064bit"]}}    # SDK-style escaped value
    assert api.ok("GET", "archive", query=escaped, raw_query=True)["Total"] == 1
    page = api.ok("GET", "switch", query={"Count": 2, "From": 1, "Sort": ["-Name"]})
    assert (page["Total"], page["Count"]) == (3, 2)
    assert [s["Name"] for s in page["Switches"]] == ["lab-web02", "lab-web01"]
    r = api.s.get(api.emu.url("switch") + "?{broken", timeout=5)
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_format")


def test_server_create_nics_and_interface_update(api):
    sw = api.switch()
    srv = api.server(switches=[{"Scope": "shared"}, {"ID": sw["ID"]}])
    nic0, nic1 = srv["Interfaces"]
    assert nic0["IPAddress"] == "198.18.0.10" and nic0["Switch"]["Scope"] == "shared"
    assert nic1["Switch"] == {"ID": sw["ID"], "Name": "sw1", "Scope": "user", "Subnet": None, "UserSubnet": None}
    assert nic1["UserIPAddress"] is None and nic0["MACAddress"] != nic1["MACAddress"]
    assert srv["ServerPlan"]["CPU"] == 1 and srv["ServiceClass"] == "cloud/plan/core/1/memory/1"
    assert status(srv) == "down" and srv["Availability"] == "available"
    assert api.server("web2")["Interfaces"][0]["IPAddress"] == "198.18.0.11"
    api.ok("PUT", f"interface/{nic1['ID']}", {"Interface": {"UserIPAddress": "192.168.1.20"}})
    assert api.ok("GET", f"server/{srv['ID']}")["Server"]["Interfaces"][1]["UserIPAddress"] == "192.168.1.20"
    api.error("POST", "server", {"Server": {"Name": "x", "ServerPlan": {"CPU": 1, "MemoryMB": 1024},
                                            "ConnectedSwitches": [{"ID": "113999999999"}]}},
              status=404, code="not_found")
    api.error("POST", "server", {"Server": {"Name": "x", "ServerPlan": {"CPU": 7, "MemoryMB": 1000}}},
              status=400, code="param_res_not_found")


def test_disk_lifecycle_with_edit(api, emulator):
    emulator.faults(delay_scale=1.0)  # a 2 s copy: still copying when the next calls arrive, even on a busy machine
    sw = api.switch()
    key = api.ok("POST", "sshkey", {"SSHKey": {"Name": "k", "PublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me"}})
    note = api.ok("POST", "note", {"Note": {"Name": "s", "Content": "echo @@@WHO@@@"}})["Note"]
    srv = api.server(switches=[{"ID": sw["ID"]}])
    disk = api.disk(srv["ID"], {"HostName": "web1", "SSHKeys": [{"ID": key["SSHKey"]["ID"]}],
                                "UserIPAddress": "192.168.1.20", "Notes": [{"ID": note["ID"],
                                                                            "Variables": {"WHO": "x"}}]})
    assert disk["Availability"] == "migrating" and disk["Server"]["ID"] == srv["ID"]
    assert disk["ServiceClass"] == "cloud/disk/ssd/20"
    api.error("PUT", f"server/{srv['ID']}/power", code="disk_is_not_available")
    api.error("DELETE", f"disk/{disk['ID']}", code="disk_is_copying")
    done = api.wait(f"disk/{disk['ID']}", "Disk", lambda d: d["Availability"] != "migrating")
    assert done["Availability"] == "available" and done["MigratedMB"] == done["SizeMB"] == 20480
    srv = api.ok("GET", f"server/{srv['ID']}")["Server"]
    assert srv["HostName"] == "web1" and srv["Interfaces"][0]["UserIPAddress"] == "192.168.1.20"
    assert [d["ID"] for d in srv["Disks"]] == [disk["ID"]]
    api.ok("PUT", f"disk/{disk['ID']}/config", {"HostName": "web9"})
    assert api.ok("GET", f"server/{srv['ID']}")["Server"]["HostName"] == "web9"
    api.error("POST", "disk", {"Disk": {"Name": "d", "Plan": {"ID": 4}, "SourceArchive": {"ID": "113999999999"}}},
              status=400, code="param_res_not_found")
    api.error("POST", "disk", {"Disk": {"Name": "d", "Plan": {"ID": 4}, "SourceArchive": {"ID": api.ubuntu()}},
                               "Config": {"SSHKeys": [{"ID": "113999999999"}]}}, status=400, code="param_res_not_found")


def test_power_rules_and_events(api, emulator):
    srv = api.server()
    sid = srv["ID"]
    api.error("DELETE", f"server/{sid}/power", code="conflict")            # shutdown when down
    api.ok("PUT", f"server/{sid}/power")                                     # no disk: allowed
    api.wait(f"server/{sid}", "Server", lambda s: status(s) == "up")
    api.error("PUT", f"server/{sid}/power", code="conflict")                # boot when up
    api.error("DELETE", f"server/{sid}", code="server_power_must_be_down")
    api.ok("DELETE", f"server/{sid}/power", {"Force": False})
    assert status(api.ok("GET", f"server/{sid}")["Server"]) in ("cleaning", "down")
    api.wait(f"server/{sid}", "Server", lambda s: status(s) == "down")
    d = api.disk(sid)
    api.wait(f"disk/{d['ID']}", "Disk", lambda x: x["Availability"] == "available")
    api.ok("PUT", f"server/{sid}/power")
    api.wait(f"server/{sid}", "Server", lambda s: status(s) == "up")
    api.error("DELETE", f"disk/{d['ID']}", code="server_power_must_be_down")   # attached to a running server
    api.ok("DELETE", f"server/{sid}/power", {"Force": True})
    api.wait(f"server/{sid}", "Server", lambda s: status(s) == "down")
    api.ok("DELETE", f"server/{sid}", {"WithDisk": [d["ID"]]})
    api.error("GET", f"disk/{d['ID']}", status=404, code="not_found")
    events = requests.get(emulator.admin_url("events"), auth=emulator.auth, timeout=5).json()
    mine = [e["event"] for e in events if e["resource_id"] == sid]
    assert mine == ["created", "up", "down", "up", "down", "deleted"]
    assert all(e["kind"] == "server" and e["at"].endswith("+09:00") for e in events if e["resource_id"] == sid)
    assert [e["event"] for e in events if e["resource_id"] == d["ID"]] == ["created", "available", "deleted"]


def test_switch_in_use_cannot_be_deleted(api):
    sw = api.switch()
    srv = api.server(switches=[{"ID": sw["ID"]}])
    listed = api.ok("GET", f"switch/{sw['ID']}/server")
    assert [s["ID"] for s in listed["Servers"]] == [srv["ID"]] and listed["Count"] == 1
    assert api.ok("GET", f"switch/{sw['ID']}")["Switch"]["ServerCount"] == 1
    api.error("DELETE", f"switch/{sw['ID']}", code="disconnect_b4_delete")
    api.ok("DELETE", f"server/{srv['ID']}")
    api.ok("DELETE", f"switch/{sw['ID']}")
    api.error("GET", f"switch/{sw['ID']}", status=404, code="not_found")


def nfs_body(switch_id: str, plan: int = 101) -> dict:
    return {"Appliance": {"Class": "nfs", "Name": "nfs1", "Plan": {"ID": plan}, "Tags": ["swarmlab"],
                          "Remark": {"Switch": {"ID": switch_id}, "Network": {"NetworkMaskLen": 24},
                                     "Servers": [{"IPAddress": "192.168.1.200"}], "Plan": {"ID": plan}}}}


def test_nfs_lifecycle(api):
    sw = api.switch()
    plans = json.loads(api.ok("GET", "note", query={"Filter": {"Name": ["sys-nfs"]}})["Notes"][0]["Content"])
    hdd100 = next(p["planId"] for p in plans["plans"]["HDD"] if p["size"] == 100)
    created = api.ok("POST", "appliance", nfs_body(sw["ID"], hdd100))
    nfs = created["Appliance"]
    assert created["Success"] == "Accepted" and nfs["Availability"] == "migrating"
    assert nfs["ServiceClass"] == "cloud/nfs/hdd/100" and nfs["Interfaces"][0]["IPAddress"] == "192.168.1.200"
    path = f"appliance/{nfs['ID']}"
    api.error("DELETE", f"{path}/power", code="still_creating")
    api.error("PUT", path, {"Appliance": {"Name": "x"}}, code="still_creating")
    api.error("DELETE", f"switch/{sw['ID']}", code="disconnect_b4_delete")
    up = api.wait(path, "Appliance", lambda a: status(a) == "up")
    assert up["Availability"] == "available"
    assert api.ok("GET", "appliance", query={"Filter": {"Class": ["nfs"]}})["Total"] == 1
    api.error("PUT", f"{path}/power", code="conflict")
    api.error("DELETE", path, code="server_power_must_be_down")
    api.ok("DELETE", f"{path}/power", {"Force": True})
    api.wait(path, "Appliance", lambda a: status(a) == "down")
    api.ok("DELETE", path)
    api.ok("DELETE", f"switch/{sw['ID']}")
    api.error("POST", "appliance", nfs_body("113999999999"), status=404, code="not_found")
    api.error("POST", "appliance", nfs_body(sw["ID"], plan=999), status=400, code="param_res_not_found")


def test_container_registry_and_users(api, emulator):
    body = {"CommonServiceItem": {"Name": "reg", "Provider": {"Class": "containerregistry"},
                                  "Settings": {"ContainerRegistry": {"public": "none", "virtual_domain": ""}},
                                  "Status": {"registry_name": "swarmlab-x"}}}
    reg = api.ok("POST", "commonserviceitem", body)["CommonServiceItem"]
    assert reg["Status"]["hostname"] == "swarmlab-x.sakuracr.jp" and reg["ServiceClass"] == "cloud/containerregistry"
    api.error("POST", "commonserviceitem", body, code="res_already_exists")
    api.wait(f"commonserviceitem/{reg['ID']}", "CommonServiceItem", lambda r: r["Availability"] == "available")
    q = {"Filter": {"Provider.Class": ["containerregistry"]}}
    assert Api(emulator, "tk1b").ok("GET", "commonserviceitem", query=q)["Total"] == 1   # global resource
    users = f"commonserviceitem/{reg['ID']}/containerregistry/users"
    api.ok("POST", users, {"ContainerRegistry": {"username": "ci", "password": "s3cret-pw", "permission": "all"}})
    api.error("POST", users, {"ContainerRegistry": {"username": "ci", "password": "x", "permission": "all"}},
              code="res_already_exists")
    api.error("POST", users, {"ContainerRegistry": {"username": "u2", "password": "x", "permission": "owner"}},
              status=400, code="invalid_format")
    api.ok("PUT", f"{users}/ci", {"ContainerRegistry": {"permission": "readonly"}})
    listed = api.ok("GET", users)["ContainerRegistry"]["users"]
    assert listed == [{"username": "ci", "permission": "readonly"}]
    with sqlite3.connect(emulator.state) as db:
        stored = " ".join(row[0] for row in db.execute("SELECT data FROM resources"))
    assert "s3cret-pw" not in stored and "$2b$" in stored
    api.ok("DELETE", f"{users}/ci")
    assert api.ok("GET", users)["ContainerRegistry"]["users"] == []
    api.error("DELETE", f"{users}/ci", status=404, code="not_found")
    stale = {"CommonServiceItem": {"Description": "d", "SettingsHash": "0" * 32}}
    api.error("PUT", f"commonserviceitem/{reg['ID']}", stale, code="original_hash_mismatch")
    api.ok("DELETE", f"commonserviceitem/{reg['ID']}")


def test_prices_and_products(api):
    q = {"Filter": {"ServiceClassPath": ["cloud/plan/core/1/memory/1", "cloud/switch/default",
                                         "cloud/nfs/hdd/100", "cloud/containerregistry"]}}
    prices = {c["ServiceClassPath"]: c["Price"] for c in api.ok("GET", "public/price", query=q)["ServiceClasses"]}
    assert (prices["cloud/plan/core/1/memory/1"]["Hourly"], prices["cloud/plan/core/1/memory/1"]["Daily"],
            prices["cloud/plan/core/1/memory/1"]["Monthly"]) == (9, 100, 1991)
    assert (prices["cloud/switch/default"]["Hourly"], prices["cloud/switch/default"]["Monthly"]) == (11, 2200)
    assert prices["cloud/nfs/hdd/100"]["Daily"] == 99 and prices["cloud/containerregistry"]["Hourly"] == 0
    plans = api.ok("GET", "product/server", query={"Filter": {"CPU": ["2"], "MemoryMB": ["4096"]}})["ServerPlans"]
    assert len(plans) == 1 and plans[0]["CPU"] == 2
    assert {p["ID"] for p in api.ok("GET", "product/disk")["DiskPlans"]} == {2, 4}


def test_restart_keeps_state(tmp_path):
    emu = start_emulator(tmp_path, "memory", "--delay-scale", "0.05")
    try:
        api = Api(emu)
        sw = api.switch("persist")
        srv = api.server(switches=[{"ID": sw["ID"]}])
        api.ok("PUT", f"server/{srv['ID']}/power")
        api.wait(f"server/{srv['ID']}", "Server", lambda s: status(s) == "up")
        slow = api.server("slow")
        emu.faults(delay_scale=2.0)                                  # boot due in 2 s: pending at shutdown
        api.ok("PUT", f"server/{slow['ID']}/power")
    finally:
        t0 = time.monotonic()
        stop_emulator(emu)
    assert time.monotonic() - t0 < 1.5                               # shutdown does not wait for transitions
    emu2 = start_emulator(tmp_path, "memory", "--delay-scale", "0.05", state=emu.state)
    try:
        api = Api(emu2)
        again = api.ok("GET", f"server/{srv['ID']}")["Server"]
        assert status(again) == "up" and again["Interfaces"][0]["Switch"]["ID"] == sw["ID"]
        assert api.ok("GET", "switch", query={"Filter": {"Name": ["persist"]}})["Total"] == 1
        assert int(api.switch("new")["ID"]) > int(srv["ID"])        # IDs keep counting
        assert Api(emu2).ok("GET", "archive")["Total"] == 4       # seeds not duplicated
        api.error("PUT", f"server/{slow['ID']}/power", code="conflict")   # the boot is still pending
        api.wait(f"server/{slow['ID']}", "Server", lambda s: status(s) == "up", timeout=5)
    finally:
        stop_emulator(emu2)


def test_cloud_timing_copies_disks_for_minutes_scaled(tmp_path):
    # cloud timing × 0.01: a disk copies for 1.8 s where the local timing's would take 0.02 s
    emu = start_emulator(tmp_path, "memory", "--timing", "cloud", "--delay-scale", "0.01")
    try:
        api = Api(emu)
        t0 = time.monotonic()
        disk = api.disk()
        assert disk["Availability"] == "migrating"
        time.sleep(0.5)
        assert api.ok("GET", f"disk/{disk['ID']}")["Disk"]["Availability"] == "migrating", "copied as fast as local"
        api.wait(f"disk/{disk['ID']}", "Disk", lambda d: d["Availability"] == "available", timeout=10)
        assert time.monotonic() - t0 >= 1.5, "the cloud timing's 180 s copy, scaled by 0.01, was not applied"
        assert "timing cloud" in emu.log.read_text()
    finally:
        stop_emulator(emu)


def test_busy_rate_gives_503_busy(api, emulator):
    assert emulator.faults(busy_rate=1.0)["busy_rate"] == 1.0
    r = api.call("GET", "switch")
    assert (r.status_code, r.json()["error_code"], r.json()["status"]) == (503, "busy", "503 Service Unavailable")
    assert requests.get(emulator.admin_url("faults"), auth=emulator.auth, timeout=5).json()["busy_rate"] == 1.0
    emulator.faults(busy_rate=0.0)
    assert api.call("GET", "switch").status_code == 200


def test_fail_disks_and_still_creating(api, emulator):
    emulator.faults(fail_disks=1)
    first, second = api.disk(), api.disk()
    assert api.wait(f"disk/{first['ID']}", "Disk", lambda d: d["Availability"] != "migrating")["Availability"] == "failed"
    assert api.wait(f"disk/{second['ID']}", "Disk", lambda d: d["Availability"] != "migrating")["Availability"] == "available"
    assert emulator.faults(still_creating_s=30)["fail_disks"] == 0
    srv = api.server()
    api.error("PUT", f"server/{srv['ID']}/power", code="still_creating")
    emulator.faults(still_creating_s=0)
    api.ok("PUT", f"server/{srv['ID']}/power")
    r = requests.put(emulator.admin_url("faults"), json={"nope": 1}, auth=emulator.auth, timeout=5)
    assert r.status_code == 400
