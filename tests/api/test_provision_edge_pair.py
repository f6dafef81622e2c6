"""provision and teardown_lab of an `edge: pair` lab against a memory-backend emulator: the router+switch
is created once (a /28 of public addresses), the pair's NIC0 on its switch at their block addresses with the
edge filter (VRRP from the pair allowed); teardown leaves nothing."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from urllib.parse import quote

import requests

from flows.provision import provision
from flows.teardown import teardown_lab
from swarmlab.cloud.provision import discover
from swarmlab.render.keepalived import edge_addresses
from swarmlab.spec import local
from tests.api.test_client import make_client
from tests.api.test_provision_flow import EXPECTED, FILTERS, listing


def routers(emu, name: str) -> list[dict]:
    q = quote(json.dumps({"Filter": {"Name": [name]}, "Count": 100}))
    r = requests.get(emu.url("internet") + "?" + q, auth=(emu.token, emu.secret), timeout=10)
    r.raise_for_status()
    return [x for x in r.json()["Internets"] if x["Name"] == name]


def get(emu, path: str, key: str) -> list[dict]:
    r = requests.get(emu.url(path), auth=(emu.token, emu.secret), timeout=10)
    r.raise_for_status()
    return r.json()[key]


def test_pair_provisions_the_router_and_haproxy02_and_teardown_removes_them(cloud_env, prefect_api):
    spec = local("lab-p", edge="pair")
    inv = provision(spec)
    assert [s.name for s in inv.servers if s.role.value == "haproxy"] == ["lab-p-haproxy01", "lab-p-haproxy02"]
    assert ipaddress.ip_network(inv.router_block).prefixlen == 28 and "lab-p-router" in inv.created
    [rt] = routers(cloud_env, "lab-p-router")
    assert rt["ID"] == inv.router_id and "swarmlab-lab=lab-p" in rt["Tags"]
    assert listing(cloud_env, "lab-p") == EXPECTED + Counter({"server": 1, "disk": 1})
    vip, pair = edge_addresses(ipaddress.ip_network(inv.router_block))
    assert inv.vip == str(vip) and inv.edge_address == str(vip)
    assert [s.address for s in inv.servers if s.role.value == "haproxy"] == [str(a) for a in pair]
    edge_filter = next(f for f in get(cloud_env, "packetfilter", "PacketFilters") if f["Name"] == "lab-p-filter-edge")
    assert {(r["Protocol"], r["SourceNetwork"], r["Action"]) for r in edge_filter["Expression"]} >= {
        ("ip", str(a), "allow") for a in pair}, "the pair's VRRP passes its filter"
    for srv in get(cloud_env, "server", "Servers"):
        if not srv["Name"].startswith("lab-p-"):
            continue
        nic0 = srv["Interfaces"][0]
        if "haproxy" in srv["Name"]:   # NIC0 on the router's switch at its block address, the edge filter on it
            assert nic0["Switch"]["ID"] == rt["Switch"]["ID"] and nic0["IPAddress"] in (None, "")
            assert nic0["UserIPAddress"] == str(pair[int(srv["Name"][-1]) - 1])
            assert nic0["PacketFilter"]["ID"] == edge_filter["ID"]
        else:
            assert nic0["Switch"]["Scope"] == "shared" and nic0["PacketFilter"]["Name"] == "lab-p-filter"

    again = provision(spec)
    assert again.created == [] and again.router_id == inv.router_id and len(routers(cloud_env, "lab-p-router")) == 1
    with make_client(cloud_env) as client:
        found = discover(client, spec)
    assert (found.router_id, found.router_block) == (inv.router_id, inv.router_block)
    assert found.servers == inv.servers, "discover reads the pair's router-block addresses too"

    router_switch = rt["Switch"]["ID"]
    report = teardown_lab("lab-p", spec.zone)
    assert "internets lab-p-router" in report.deleted
    # + haproxy02 and its disk, - the 8 disks (they go with their servers), + the router
    assert len(report.deleted) == sum(EXPECTED.values()) + 2 - 8 + 1 + FILTERS
    assert routers(cloud_env, "lab-p-router") == [] and listing(cloud_env, "lab-p") == Counter()
    r = requests.get(cloud_env.url(f"switch/{router_switch}"), auth=(cloud_env.token, cloud_env.secret), timeout=10)
    assert r.status_code == 404, "the router's switch goes with the router"
