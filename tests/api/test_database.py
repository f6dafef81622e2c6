"""The database appliance: swarmlab's client, and raw SAKURA-SDK-style calls, against the emulator process."""

from __future__ import annotations

import logging
import time

import pytest
from pydantic import SecretStr

from emulator.backend import MemoryBackend
from emulator.cloud import Cloud
from emulator.faults import Faults
from emulator.store import Store
from swarmlab.sakura import BadRequest, Conflict, NotFound
from swarmlab.sakura.databases import database_plan_id
from tests.api.conformance import Raw
from tests.api.test_client import TAGS, make_client
from swarmlab.sakura.wait import Deadline

PASSWORD = SecretStr("db-pass-Never-Logged-7")


@pytest.fixture
def client(emulator):
    with make_client(emulator) as c:
        yield c


def make_db(client, name="lab-t-db", ip="192.168.1.30", **kw):
    sw = client.switches.create(f"{name}-sw", TAGS)
    opts = dict(user="app", password=PASSWORD, source_networks=["192.168.1.0/24"])
    opts.update(kw)
    return sw, client.databases.create(name, TAGS, sw.id, ip, 24, "192.168.1.1", database_plan_id("10g"), **opts)


def test_database_lifecycle(client, caplog):
    caplog.set_level(logging.DEBUG)
    sw, db = make_db(client)
    assert (db.klass, db.availability, db.status) == ("database", "migrating", "down")
    ready = client.databases.wait_ready(db.id, timeout_s=60)
    assert (ready.status, ready.ip, ready.switch_id, ready.port) == ("up", "192.168.1.30", sw.id, 5432)
    assert (ready.default_user, ready.source_networks) == ("app", ["192.168.1.0/24"])
    assert ready.common.user_password.get_secret_value() == PASSWORD.get_secret_value()
    assert (ready.engine.database_name, ready.engine.database_version) == ("postgres", "15")
    assert ready.service_class == "cloud/appliance/database/10gb" and ready.plan.id == "10"
    st = client.databases.status(db.id)
    assert (st.status, st.is_fatal, st.engine_status) == ("up", False, "running")

    assert [d.id for d in client.databases.find("lab-t-db", TAGS)] == [db.id]
    assert client.nfs.find("lab-t-db") == []            # an NFS lookup never takes a database, nor back
    nfs = client.nfs.create("lab-t-db-nfs", TAGS, sw.id, "192.168.1.20", 24, None, client.nfs.plan_id("HDD", 100))
    assert client.databases.find(tags=TAGS) and nfs.id not in [d.id for d in client.databases.find(tags=TAGS)]

    changed = client.databases.update_settings(db.id, port=6543, source_networks=[])
    assert (changed.port, changed.source_networks, changed.default_user) == (6543, [], "app")
    assert changed.settings_hash != ready.settings_hash

    with pytest.raises(Conflict) as ei:
        client.databases.delete(db.id)                   # still up
    assert ei.value.error_code == "server_power_must_be_down"
    client.databases.power_off(db.id)
    down = client.databases.wait_down(db.id, timeout_s=60)
    assert down.status == "down" and client.databases.status(db.id).engine_status == ""
    client.databases.power_on(db.id)
    assert client.databases.wait_ready(db.id, timeout_s=60).port == 6543

    assert client.databases.delete(db.id, stop_first=True, timeout_s=60) is True
    with pytest.raises(NotFound):
        client.databases.get(db.id)
    assert client.databases.delete(db.id) is False
    assert PASSWORD.get_secret_value() not in caplog.text


@pytest.mark.parametrize("change,code", [
    ({"plan_id": "20"}, "param_res_not_found"),
    ({"database": "mysql"}, "invalid_format"),
    ({"version": "9.4"}, "invalid_format"),
    ({"password": SecretStr("short")}, "invalid_format"),
    ({"port": 80}, "invalid_format"),
    ({"source_networks": ["not-a-network"]}, "invalid_format"),
])
def test_database_create_is_validated(client, change, code):
    sw = client.switches.create("lab-t-db-sw", TAGS)
    opts = dict(user="app", password=PASSWORD, plan_id=database_plan_id("10g"))
    opts.update(change)
    plan_id = opts.pop("plan_id")
    with pytest.raises(BadRequest) as ei:
        client.databases.create("lab-t-db", TAGS, sw.id, "192.168.1.30", 24, None, plan_id, **opts)
    assert ei.value.error_code == code
    assert PASSWORD.get_secret_value() not in str(ei.value)
    assert client.databases.find("lab-t-db") == []


def test_database_address_taken_on_its_switch(client):
    sw, db = make_db(client)
    with pytest.raises(Conflict) as ei:
        client.databases.create("lab-t-db2", TAGS, sw.id, "192.168.1.30", 24, None, database_plan_id("30g"),
                                user="app", password=PASSWORD)
    assert ei.value.error_code == "res_already_exists" and "lab-t-db" in str(ei.value)


# -- as SAKURA's SDKs send it: tunnelled, form-labelled JSON, value shapes of the real answers ------------
def test_database_raw_quirks_status_and_transitions(emulator):
    raw = Raw(emulator)
    sw = raw.ok("POST", "switch", {"Switch": {"Name": "db"}})["Switch"]
    emulator.faults(delay_scale=100)
    body = {"Appliance": {
        "Class": "database", "Name": "db", "Plan": {"ID": 10},
        "Remark": {"Servers": [{"IPAddress": "192.168.0.40"}], "Switch": {"ID": sw["ID"]},
                   "DBConf": {"Common": {"DatabaseName": "postgres"}}},
        "Settings": {"DBConf": {"Common": {"ServicePort": 5432, "SourceNetwork": ["0.0.0.0/0"],
                                           "DefaultUser": "app", "UserPassword": "raw-pass-123"}}}}}
    slow = raw.ok("POST", "appliance", body)
    assert slow["Success"] == "Accepted" and slow["Appliance"]["Availability"] == "migrating"
    for method, path in (("PUT", "power"), ("DELETE", "power"), ("DELETE", "")):
        r = raw.send(method, f"appliance/{slow['Appliance']['ID']}/{path}".rstrip("/"))
        assert (r.status_code, r.json()["error_code"]) == (409, "still_creating"), (method, path)

    emulator.faults(delay_scale=0.05)
    body["Appliance"]["Remark"]["Servers"] = [{"IPAddress": "192.168.0.41"}]
    db = raw.ok("POST", "appliance", body)["Appliance"]
    db = raw.wait(f"appliance/{db['ID']}", "Appliance", lambda a: a["Instance"]["Status"] == "up")
    common = db["Settings"]["DBConf"]["Common"]
    assert (common["ServicePort"], common["SourceNetwork"], common["DefaultUser"]) == ("5432", "", "app")
    assert db["Settings"]["DBConf"]["Backup"] == [] and db["Remark"]["Network"] == []
    assert db["Remark"]["DBConf"]["Common"]["DatabaseName"] == "postgres" and db["Remark"]["Plan"]["ID"] == 10
    st = raw.ok("GET", f"appliance/{db['ID']}/status")["Appliance"]["SettingsResponse"]
    assert (st["Status"], st["is_fatal"], st["DBConf"]["postgres"]) == ("up", False, {"status": "running"})

    r = raw.send("PUT", f"appliance/{db['ID']}", {"Appliance": {"Settings": {"DBConf": {"Common": {
        "ServicePort": 6000}}}, "SettingsHash": "0" * 32}})
    assert (r.status_code, r.json()["error_code"]) == (409, "original_hash_mismatch")
    put = raw.ok("PUT", f"appliance/{db['ID']}", {"Appliance": {"Settings": {"DBConf": {"Common": {
        "ServicePort": 6000, "SourceNetwork": ["192.168.0.0/24"]}}}, "SettingsHash": db["SettingsHash"]}})
    assert put["Appliance"]["Settings"]["DBConf"]["Common"]["SourceNetwork"] == ["192.168.0.0/24"]
    assert raw.ok("PUT", f"appliance/{db['ID']}/config")["is_ok"] is True
    r = raw.send("PUT", f"appliance/{db['ID']}/power")
    assert (r.status_code, r.json()["error_code"]) == (409, "conflict")      # already up
    raw.ok("DELETE", f"appliance/{db['ID']}/power", {"Force": True})
    raw.wait(f"appliance/{db['ID']}", "Appliance", lambda a: a["Instance"]["Status"] == "down")
    assert "postgres" not in raw.ok("GET", f"appliance/{db['ID']}/status")["Appliance"]["SettingsResponse"]["DBConf"]
    raw.ok("DELETE", f"appliance/{db['ID']}")
    assert raw.send("GET", f"appliance/{db['ID']}").status_code == 404


# -- the API layer's calls to its backend (in-process, a recording backend) --------------------------------
class RecordingBackend(MemoryBackend):
    def __init__(self):
        self.calls: list[tuple] = []

    def database_created(self, db):
        self.calls.append(("created", db))

    def database_power_on(self, db):
        self.calls.append(("on", db))

    def database_power_off(self, db_id, force):
        self.calls.append(("off", db_id, force))

    def database_settings_changed(self, db):
        self.calls.append(("settings", db))

    def database_deleted(self, db_id):
        self.calls.append(("deleted", db_id))


def test_database_backend_calls(tmp_path):
    backend = RecordingBackend()
    cloud = Cloud(Store(tmp_path / "s.sqlite"), backend, Faults(delay_scale=0.01))
    cloud.start()
    try:
        sw = cloud.create("switch", "is1a", {"Switch": {"Name": "sw"}})
        db = cloud.create("appliance", "is1a", {"Appliance": {
            "Class": "database", "Name": "db", "Plan": {"ID": 30},
            "Remark": {"Servers": [{"IPAddress": "192.168.5.9"}], "Switch": {"ID": sw["ID"]},
                       "Network": {"NetworkMaskLen": 25}, "DBConf": {"Common": {"DatabaseName": "postgres"}}},
            "Settings": {"DBConf": {"Common": {"ServicePort": "6432", "SourceNetwork": ["192.168.5.0/25"],
                                               "DefaultUser": "app", "UserPassword": "backend-pass-1"}}}}})
        rid = db["ID"]

        def status():
            return cloud.read("appliance", "is1a", rid)["Instance"]["Status"]

        wait_until(lambda: status() == "up")
        (op, rt), = backend.calls
        assert op == "created" and (rt.id, rt.switch_id, rt.ip, rt.mask_len, rt.port) == (
            rid, sw["ID"], "192.168.5.9", 25, 6432)
        assert (rt.user, rt.password, rt.source_networks, rt.engine, rt.version) == (
            "app", "backend-pass-1", ["192.168.5.0/25"], "postgres", "15")
        assert "backend-pass-1" not in repr(rt)

        h = cloud.read("appliance", "is1a", rid)["SettingsHash"]
        cloud.update("appliance", "is1a", rid, {"Appliance": {"SettingsHash": h, "Settings": {"DBConf": {
            "Common": {"SourceNetwork": [], "UserPassword": "backend-pass-2"}}}}})
        assert len(backend.calls) == 1                    # saved, not applied until PUT config
        cloud.appliance_config("is1a", rid)
        op, rt = backend.calls[-1]
        assert op == "settings" and (rt.password, rt.source_networks, rt.port) == ("backend-pass-2", [], 6432)

        cloud.appliance_power("is1a", rid, on=False, force=True)
        wait_until(lambda: status() == "down")
        assert backend.calls[-1] == ("off", rid, True)
        cloud.appliance_config("is1a", rid)               # a stopped server takes its settings at boot
        assert backend.calls[-1][0] == "off"
        cloud.appliance_power("is1a", rid, on=True)
        wait_until(lambda: status() == "up")
        assert backend.calls[-1][0] == "on" and backend.calls[-1][1].password == "backend-pass-2"
        cloud.appliance_power("is1a", rid, on=False)
        wait_until(lambda: status() == "down")
        cloud.delete("appliance", "is1a", rid, {})
        wait_until(lambda: backend.calls[-1] == ("deleted", rid))
    finally:
        cloud.close()


def wait_until(pred, timeout=5.0):
    deadline = Deadline(timeout)
    while not pred():
        assert not deadline.passed, "timed out"
        time.sleep(0.02)
