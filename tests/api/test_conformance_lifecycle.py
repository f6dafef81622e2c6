"""A whole server lifecycle over raw HTTP, the way SAKURA's older SDKs drive it: every change
tunnelled through POST + `X-Sakura-HTTP-Method`, JSON bodies labelled form-encoded, finds as a whole
percent-encoded JSON query with Python's default separators, IDs as plain strings."""

from __future__ import annotations

import pytest

from tests.api.conformance import Raw


@pytest.fixture
def raw(emulator):
    return Raw(emulator)


def test_server_lifecycle_through_tunnelled_calls(raw):
    # archive lookup
    q = {"Filter": {"Tags.Name": [["debian-12-latest"]], "Scope": ["shared"]}, "Sort": [], "Count": 0}
    archives = raw.ok("GET", "archive", query=q)["Archives"]
    assert len(archives) == 1 and archives[0]["Name"].startswith("Debian") and isinstance(archives[0]["ID"], str)
    archive = archives[0]

    # switch
    sw = raw.ok("POST", "switch", {"Switch": {"Name": "lc-switch", "Tags": ["lc"]}})["Switch"]

    # server by plan ID (read the plan first, as usacloud and the Terraform provider do)
    plan = raw.ok("GET", "product/server/100002002")["ServerPlan"]
    assert (plan["CPU"], plan["MemoryMB"]) == (2, 2048)
    created = raw.ok("POST", "server", {"Server": {
        "Name": "lc-web01", "Tags": ["lc", "role-web"], "ServerPlan": {"ID": plan["ID"]},
        "ConnectedSwitches": [{"Scope": "shared"}], "InterfaceDriver": "virtio"}})
    assert created["is_ok"] is True
    srv = created["Server"]
    assert srv["ServerPlan"]["ID"] == plan["ID"] and len(srv["Interfaces"]) == 1
    assert srv["Instance"]["Status"] == "down"

    # disk from the archive, waiting for the copy
    disk = raw.ok("POST", "disk", {"Disk": {"Name": "lc-web01-disk", "Plan": {"ID": 4}, "SizeMB": 20480,
                                            "Connection": "virtio", "SourceArchive": {"ID": archive["ID"]}}})["Disk"]
    assert disk["Availability"] == "migrating" and disk["SourceArchive"]["ID"] == archive["ID"]
    disk = raw.wait(f"disk/{disk['ID']}", "Disk", lambda d: d["Availability"] == "available")
    assert disk["MigratedMB"] == disk["SizeMB"] == 20480 and disk["Server"] is None

    # disk connect, then disk edit in the legacy single-key form
    assert raw.ok("PUT", f"disk/{disk['ID']}/to/server/{srv['ID']}")["is_ok"] is True
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEmulatorConformanceKey lc@test"
    edit = {"HostName": "lc-web01", "SSHKey": {"PublicKey": key}, "Password": "not-logged-anywhere",
            "DisablePWAuth": True}
    assert raw.ok("PUT", f"disk/{disk['ID']}/config", edit)["is_ok"] is True
    srv = raw.ok("GET", f"server/{srv['ID']}")["Server"]
    assert srv["HostName"] == "lc-web01" and [d["ID"] for d in srv["Disks"]] == [disk["ID"]]

    # NIC create on the stopped server, connect it to the switch, give it an address
    nic = raw.ok("POST", "interface", {"Interface": {"Server": {"ID": srv["ID"]}}})["Interface"]
    assert nic["Switch"] is None and nic["Server"]["ID"] == srv["ID"]
    raw.ok("PUT", f"interface/{nic['ID']}/to/switch/{sw['ID']}")
    raw.ok("PUT", f"interface/{nic['ID']}", {"Interface": {"UserIPAddress": "192.168.100.11"}})
    srv = raw.ok("GET", f"server/{srv['ID']}")["Server"]
    assert [(n["Switch"] or {}).get("ID") for n in srv["Interfaces"]][1] == sw["ID"]
    assert srv["Interfaces"][1]["UserIPAddress"] == "192.168.100.11"
    assert raw.ok("GET", f"switch/{sw['ID']}")["Switch"]["ServerCount"] == 1

    # boot and wait until up
    assert raw.ok("PUT", f"server/{srv['ID']}/power")["is_ok"] is True
    raw.wait(f"server/{srv['ID']}/power", "Instance", lambda i: i["Status"] == "up")

    # find by tag (AND of tags, whole JSON query)
    found = raw.ok("GET", "server", query={"Filter": {"Tags.Name": [["lc", "role-web"]]}, "From": 0, "Count": 0})
    assert found["Total"] == 1 and found["Servers"][0]["ID"] == srv["ID"]
    assert raw.ok("GET", "server", query={"Filter": {"Tags.Name": [["lc", "role-db"]]}})["Total"] == 0

    # stop, then delete with the disk, then the switch
    assert raw.ok("DELETE", f"server/{srv['ID']}/power", {"Force": True})["is_ok"] is True
    raw.wait(f"server/{srv['ID']}", "Server", lambda s: s["Instance"]["Status"] == "down")
    gone = raw.ok("DELETE", f"server/{srv['ID']}", {"WithDisk": [disk["ID"]]})
    assert gone["is_ok"] is True and gone["Server"]["ID"] == srv["ID"]
    assert raw.send("GET", f"disk/{disk['ID']}").status_code == 404
    assert raw.ok("DELETE", f"switch/{sw['ID']}")["Switch"]["ID"] == sw["ID"]
    assert raw.ok("GET", "server", query={"Filter": {"Tags.Name": [["lc"]]}})["Total"] == 0


def test_disk_created_with_its_config_and_key_ids(raw):
    """`POST /disk` with `Config` (current form: `SSHKeys` by ID, Notes) onto a stopped server."""
    key = raw.ok("POST", "sshkey", {"SSHKey": {"Name": "lc", "PublicKey": "ssh-ed25519 AAAAC3Nz lc"}})["SSHKey"]
    note = raw.ok("POST", "note", {"Note": {"Name": "lc", "Class": "shell", "Content": "#!/bin/sh\n"}})["Note"]
    srv = raw.ok("POST", "server", {"Server": {"Name": "lc2", "ServerPlan": {"ID": "100001001"},
                                               "ConnectedSwitches": [{"Scope": "shared"}]}})["Server"]
    arc = raw.ok("GET", "archive", query={"Filter": {"Name": "Ubuntu 24.04"}})["Archives"][0]
    disk = raw.ok("POST", "disk", {
        "Disk": {"Name": "lc2", "Plan": {"ID": 4}, "SizeMB": 20480, "SourceArchive": {"ID": int(arc["ID"])},
                 "Server": {"ID": int(srv["ID"])}},
        "Config": {"HostName": "lc2", "SSHKeys": [{"ID": int(key["ID"])}], "Notes": [{"ID": note["ID"]}]}})["Disk"]
    assert disk["Server"]["ID"] == srv["ID"]
    raw.wait(f"disk/{disk['ID']}", "Disk", lambda d: d["Availability"] == "available")
    assert raw.ok("GET", f"server/{srv['ID']}")["Server"]["HostName"] == "lc2"
    bad = raw.send("PUT", f"disk/{disk['ID']}/config", {"SSHKeys": [{"ID": "999999999999"}]})
    assert (bad.status_code, bad.json()["error_code"]) == (400, "param_res_not_found")
