"""Wire rules every SAKURA Cloud client relies on, checked over raw HTTP against the emulator."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote

import pytest
import requests

from tests.api.conformance import Raw

ERROR_KEYS = {"is_fatal", "serial", "status", "error_code", "error_msg"}


@pytest.fixture
def raw(emulator):
    return Raw(emulator)


def is_error(r: requests.Response, status: int, code: str) -> bool:
    doc = r.json()
    assert ERROR_KEYS <= set(doc), doc
    assert doc["is_fatal"] is True and doc["status"].startswith(f"{status} ") and doc["serial"]
    return (r.status_code, doc["error_code"]) == (status, code)


def test_tunnelled_methods_any_header_case(raw):
    sw = raw.ok("POST", "switch", {"Switch": {"Name": "t"}})["Switch"]
    r = raw.send("put", f"switch/{sw['ID']}", {"Switch": {"Name": "t2"}}, header="x-sakura-http-method")
    assert r.status_code == 200 and r.json()["Switch"]["Name"] == "t2"
    r = raw.send("GET", f"switch/{sw['ID']}", tunnel=False)
    assert r.json()["Switch"]["Name"] == "t2"
    r = raw.s.post(raw.emu.url(f"switch/{sw['ID']}"), headers={"X-SAKURA-HTTP-METHOD": "GET"}, timeout=5)
    assert r.status_code == 200 and r.json()["Switch"]["ID"] == sw["ID"]
    r = raw.send("DELETE", f"switch/{sw['ID']}")
    assert r.status_code == 200 and r.json()["is_ok"] is True
    assert raw.send("GET", f"switch/{sw['ID']}").status_code == 404


def test_bodies_are_json_whatever_the_content_type(raw, emulator):
    url = emulator.url("switch")
    for ctype in ("application/x-www-form-urlencoded", "text/plain", "application/json; charset=UTF-8"):
        r = raw.s.post(url, data=json.dumps({"Switch": {"Name": ctype}}), headers={"Content-Type": ctype},
                       timeout=5)
        assert r.status_code == 201 and r.json()["Switch"]["Name"] == ctype
    r = raw.s.post(url, data=quote(json.dumps({"Switch": {"Name": "encoded"}})),
                   headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert r.status_code == 201 and r.json()["Switch"]["Name"] == "encoded"
    sw = r.json()["Switch"]
    for body in (b"null", b"{}", b""):
        r = raw.s.post(emulator.url(f"switch/{sw['ID']}"), data=body, headers={"X-Sakura-HTTP-Method": "GET"},
                       timeout=5)
        assert r.status_code == 200, body
    assert is_error(raw.s.post(url, data=b"[1, 2]", timeout=5), 400, "invalid_format")
    assert is_error(raw.s.post(url, data=b"{nope", timeout=5), 400, "invalid_format")


def test_queries_in_every_form(raw, emulator):
    for name in ("q-a", "q-b", "q-c"):
        raw.ok("POST", "switch", {"Switch": {"Name": name, "Tags": ["q"]}})
    q = {"Filter": {"Tags.Name": [["q"]]}, "Sort": ["-Name"]}
    url = emulator.url("switch")
    forms = [quote(json.dumps(q)),                                    # whole, percent-encoded, ", " and ": "
             json.dumps(q, separators=(",", ":")),                    # raw JSON (the Go SDKs)
             quote(json.dumps(q), safe="").replace("%20", "+")]       # form-style spaces
    for form in forms:
        doc = raw.s.get(f"{url}?{form}", timeout=5).json()
        assert [s["Name"] for s in doc["Switches"]] == ["q-c", "q-b", "q-a"], form
    assert raw.s.get(f"{url}?null", timeout=5).json()["Total"] == 3
    assert raw.ok("GET", "switch", query={"Count": 0, "Sort": ""})["Count"] == 3
    page = raw.ok("GET", "switch", query={"Count": 2, "From": 1, "Sort": ["Name"]})
    assert (page["Total"], page["From"], page["Count"]) == (3, 1, 2) and page["Switches"][0]["Name"] == "q-b"
    assert [s["Index"] for s in page["Switches"]] == [1, 2]
    one = page["Switches"][0]["ID"]
    assert raw.s.get(emulator.url(f"switch/{one}") + "?{garbage", timeout=5).json()["Switch"]["ID"] == one
    assert is_error(raw.s.get(f"{url}?{{garbage", timeout=5), 400, "invalid_format")


def test_every_answer_is_json_and_nothing_redirects(raw, emulator):
    srv = raw.ok("POST", "server", {"Server": {"Name": "j", "ServerPlan": {"ID": "100001001"},
                                               "ConnectedSwitches": [{"Scope": "shared"}]}})["Server"]
    for method, path in (("PUT", f"server/{srv['ID']}/power"), ("GET", f"server/{srv['ID']}/power")):
        r = raw.send(method, path)
        assert r.status_code == 200 and r.json()["is_ok"] is True
    for path in ("switch/", "switch.json", "product/server/100001001/"):
        r = raw.s.get(emulator.url(path), allow_redirects=False, timeout=5)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), path
    assert is_error(raw.send("GET", "no/such/path"), 404, "resource_path_not_found")
    assert is_error(raw.send("PATCH", "switch", tunnel=False), 405, "method_not_allowed")
    assert is_error(requests.get(emulator.url("switch"), timeout=5), 401, "unauthorized")
    assert is_error(raw.send("GET", "server/113999999999"), 404, "not_found")
    assert is_error(raw.send("DELETE", f"server/{srv['ID']}"), 409, "server_power_must_be_down")


def test_ids_numbers_and_dates(raw, emulator):
    sw = raw.ok("POST", "switch", {"Switch": {"Name": "ids"}})["Switch"]
    srv = raw.ok("POST", "server", {"Server": {"Name": "ids", "ServerPlan": {"ID": 100001001},
                                               "ConnectedSwitches": [{"ID": int(sw["ID"])}]}})["Server"]
    assert isinstance(srv["ID"], str) and srv["Interfaces"][0]["Switch"]["ID"] == sw["ID"]
    big = Raw(emulator, bigint=True).ok("GET", f"server/{srv['ID']}")["Server"]
    assert big["ID"] == int(srv["ID"]) and big["Interfaces"][0]["Switch"]["ID"] == int(sw["ID"])
    prices = raw.send("GET", "public/price", tunnel=False).text
    assert ".0," not in prices and ".0}" not in prices
    assert all(isinstance(c["Price"]["Hourly"], int) for c in json.loads(prices)["ServiceClasses"])
    for stamp in (srv["CreatedAt"], srv["Instance"]["StatusChangedAt"]):
        assert datetime.fromisoformat(stamp).utcoffset() is not None


def test_paths_clients_use(raw):
    assert raw.ok("GET", "product/disk/4")["DiskPlan"]["Size"][0]["SizeMB"] == 20480
    assert raw.ok("GET", "product/internet/100")["InternetPlan"]["BandWidthMbps"] == 100
    assert is_error(raw.send("GET", "product/server/1"), 404, "not_found")
    note = raw.ok("GET", "note", query={"Filter": {"Name": "sys-nfs", "Class": "json"}})["Notes"][0]
    plans = json.loads(note["Content"])["plans"]
    assert {p["planId"] for p in plans["HDD"]} >= {101, 102} and "@zone=is1a" in note["Tags"]
    prices = raw.ok("GET", "public/price", query={"Filter": {"ServiceClassPath": "cloud/switch/default"}})
    assert prices["ServiceClasses"][0]["Price"]["Hourly"] == 11

    sw = raw.ok("POST", "switch", {"Switch": {"Name": "nic"}})["Switch"]
    srv = raw.ok("POST", "server", {"Server": {"Name": "nic", "ServerPlan": {"ID": "100001001"},
                                               "ConnectedSwitches": []}})["Server"]
    nic0 = raw.ok("POST", "interface", {"Interface": {"Server": {"ID": srv["ID"]}}})["Interface"]
    nic1 = raw.ok("POST", "interface", {"Interface": {"Server": {"ID": int(srv["ID"])}}})["Interface"]
    assert is_error(raw.send("PUT", f"interface/{nic1['ID']}/to/switch/shared"), 400, "invalid_param_comb")
    shared = raw.ok("PUT", f"interface/{nic0['ID']}/to/switch/shared")["Interface"]
    assert shared["Switch"]["Scope"] == "shared" and shared["IPAddress"]
    raw.ok("PUT", f"interface/{nic1['ID']}/to/switch/{sw['ID']}")
    assert is_error(raw.send("PUT", f"interface/{nic1['ID']}/to/switch/{sw['ID']}"), 400, "res_already_connected")
    assert raw.ok("DELETE", f"interface/{nic1['ID']}/to/switch")["Interface"]["Switch"] is None
    raw.ok("PUT", f"interface/{nic1['ID']}/to/switch/{sw['ID']}")
    raw.ok("PUT", f"server/{srv['ID']}/power")
    raw.wait(f"server/{srv['ID']}", "Server", lambda s: s["Instance"]["Status"] == "up")
    r = raw.send("POST", "interface", {"Interface": {"Server": {"ID": srv["ID"]}}})
    assert is_error(r, 409, "server_power_must_be_down")
    assert is_error(raw.send("DELETE", f"interface/{nic1['ID']}/to/switch"), 409, "server_power_must_be_down")


def test_appliance_status(raw):
    sw = raw.ok("POST", "switch", {"Switch": {"Name": "nfs"}})["Switch"]
    nfs = raw.ok("POST", "appliance", {"Appliance": {
        "Class": "nfs", "Name": "nfs", "Plan": {"ID": 101},
        "Remark": {"Network": {"NetworkMaskLen": 24, "DefaultRoute": "192.168.0.1"},
                   "Servers": [{"IPAddress": "192.168.0.200"}], "Switch": {"ID": sw["ID"]}}}})["Appliance"]
    raw.wait(f"appliance/{nfs['ID']}", "Appliance", lambda a: a["Instance"]["Status"] == "up")
    status = raw.ok("GET", f"appliance/{nfs['ID']}/status")["Appliance"]["SettingsResponse"]
    assert status == {"Status": "up", "is_fatal": False}
