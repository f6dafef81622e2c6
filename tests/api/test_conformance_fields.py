"""Field fidelity: each resource the emulator serves has at least the keys of the matching real body
(libsacloud's captured fixtures), with the same value shapes, and no key that neither those
bodies nor iaas-api-go's naked wire structs know."""

from __future__ import annotations

import json

import pytest

from tests.api.conformance import ENVELOPE, Raw, all_keys, fixture, invented_keys, missing_keys, naked_keys

REAL = ["server", "disk", "disk-migrating", "switch-user", "switch-shared", "switch-with-bridge",
        "interface-shared", "interface-private", "note", "sshkey", "nfs", "archive", "product-server",
        "product-disk", "product-internet", "public-price", "zone", "auth-status", "packetfilter", "internet",
        "switch-router", "database"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One of each resource from a memory-backend emulator, as a Go SDK sees it (bigint IDs)."""
    from tests.conftest import start_emulator, stop_emulator

    emu = start_emulator(tmp_path_factory.mktemp("fields"), "memory", "--delay-scale", "0.02")
    try:
        api = Raw(emu, bigint=True)
        sw = api.ok("POST", "switch", {"Switch": {"Name": "sw", "UserSubnet": {"DefaultRoute": "192.168.0.1",
                                                                            "NetworkMaskLen": 24}}})["Switch"]
        srv = api.ok("POST", "server", {"Server": {"Name": "web", "ServerPlan": {"ID": 100001001},
                                                   "ConnectedSwitches": [{"Scope": "shared"}, {"ID": sw["ID"]}]}})
        srv = srv["Server"]
        arc = api.ok("GET", "archive", query={"Filter": {"Tags.Name": [["debian-12-latest"]]}})["Archives"][0]
        disk = api.ok("POST", "disk", {"Disk": {"Name": "d", "Plan": {"ID": 4}, "SizeMB": 20480,
                                                "SourceArchive": {"ID": arc["ID"]}, "Server": {"ID": srv["ID"]}}})
        migrating = disk["Disk"]
        api.wait(f"disk/{migrating['ID']}", "Disk", lambda d: d["Availability"] == "available")
        note = api.ok("POST", "note", {"Note": {"Name": "n", "Class": "shell", "Content": "#!/bin/sh"}})["Note"]
        key = api.ok("POST", "sshkey", {"SSHKey": {"Name": "k", "PublicKey": "ssh-ed25519 AAAAC3Nz x"}})["SSHKey"]
        nfs = api.ok("POST", "appliance", {"Appliance": {
            "Class": "nfs", "Name": "nfs", "Plan": {"ID": 101},
            "Remark": {"Network": {"NetworkMaskLen": 24, "DefaultRoute": "192.168.0.1"},
                       "Servers": [{"IPAddress": "192.168.0.200"}], "Switch": {"ID": sw["ID"]}}}})["Appliance"]
        nfs = api.wait(f"appliance/{nfs['ID']}", "Appliance", lambda a: a["Instance"]["Status"] == "up")
        db = api.ok("POST", "appliance", {"Appliance": {
            "Class": "database", "Name": "db", "Plan": {"ID": 10},
            "Remark": {"Network": {"NetworkMaskLen": 24, "DefaultRoute": "192.168.0.1"},
                       "Servers": [{"IPAddress": "192.168.0.201"}], "Switch": {"ID": sw["ID"]},
                       "DBConf": {"Common": {"DatabaseName": "postgres", "DatabaseVersion": "15"}}},
            "Settings": {"DBConf": {"Common": {"ServicePort": 5432, "SourceNetwork": ["192.168.0.0/24"],
                                               "DefaultUser": "app", "UserPassword": "fields-pass-1"},
                                    "Backup": {"Rotate": 8, "Time": "00:45"}}}}})["Appliance"]
        db = api.wait(f"appliance/{db['ID']}", "Appliance", lambda a: a["Instance"]["Status"] == "up")
        api.ok("PUT", f"interface/{srv['Interfaces'][1]['ID']}", {"Interface": {"UserIPAddress": "192.168.0.11"}})
        server = api.ok("GET", f"server/{srv['ID']}")["Server"]
        rt = api.ok("POST", "internet", {"Internet": {"Name": "rt", "NetworkMaskLen": 28, "BandWidthMbps": 100}})
        rt_sw = rt["Internet"]["Switch"]["ID"]
        yield {
            "server": server, "disk": server["Disks"][0], "disk-migrating": migrating,
            "switch-user": server["Interfaces"][1]["Switch"], "switch-shared": server["Interfaces"][0]["Switch"],
            "switch-with-bridge": api.ok("GET", "switch")["Switches"][0],
            "interface-shared": api.ok("GET", f"interface/{server['Interfaces'][0]['ID']}")["Interface"],
            "interface-private": api.ok("GET", f"interface/{server['Interfaces'][1]['ID']}")["Interface"],
            "note": api.ok("GET", f"note/{note['ID']}")["Note"],
            "sshkey": api.ok("GET", f"sshkey/{key['ID']}")["SSHKey"], "nfs": nfs,
            "archive": api.ok("GET", "archive", query={"Filter": {"Name": "Debian"}})["Archives"][0],
            "product-server": api.ok("GET", "product/server/100001001")["ServerPlan"],
            "product-disk": api.ok("GET", "product/disk/4")["DiskPlan"],
            "product-internet": api.ok("GET", "product/internet")["InternetPlans"][0],
            "public-price": api.ok("GET", "public/price")["ServiceClasses"][0],
            "zone": api.ok("GET", "zone")["Zones"][0],
            "auth-status": api.ok("GET", "auth-status"),
            "internet": api.ok("GET", "internet")["Internets"][0],
            "switch-router": next(s for s in api.ok("GET", "switch")["Switches"] if s["ID"] == rt_sw),
            "database": db,
            "_all": [server, migrating, nfs, note, key, db],
        }
    finally:
        stop_emulator(emu)


def real(name: str):
    doc = fixture(f"{name}-libsacloud-v1.json")
    doc = {k: v for k, v in doc.items() if k != "is_ok"}
    return for_user_switch(doc) if name == "database" else doc


def for_user_switch(doc: dict) -> dict:
    """The captured database sits on the shared segment with a web UI, an admin and a replica user; the
    emulator's sits on a user switch (Remark.Switch/Servers and its NIC as the NFS fixture has them) and has
    none of those (the real API leaves WebUI out when it is off)."""
    doc = json.loads(json.dumps(doc))
    nfs = fixture("nfs-libsacloud-v1.json")
    common = doc["Settings"]["DBConf"]["Common"]
    for key in ("WebUI", "AdminPassword"):
        common.pop(key)
    for key in ("ReplicaUser", "ReplicaPassword"):
        doc["Remark"]["DBConf"]["Common"].pop(key)
    doc["Remark"]["Switch"], doc["Remark"]["Servers"] = nfs["Remark"]["Switch"], nfs["Remark"]["Servers"]
    doc["Interfaces"] = nfs["Interfaces"]
    return doc


@pytest.mark.parametrize("name", [n for n in REAL if n not in ("packetfilter",)])
def test_has_the_real_keys_and_shapes(served, name):
    assert missing_keys(real(name), served[name]) == []


def test_invents_no_keys(served):
    known = naked_keys() | ENVELOPE
    for name in REAL:
        known |= all_keys(real(name))
    for name, doc in served.items():
        assert invented_keys(doc, known) == [], name


def test_shape_check_catches_a_wrong_shape():
    assert missing_keys({"ID": 1, "Tags": ["a"], "Zone": {"Name": "is1a"}},
                        {"ID": "1", "Tags": None, "Zone": {}}) == [
        ".ID: real number, ours string", ".Tags: real list, ours null", ".Zone.Name: missing"]
