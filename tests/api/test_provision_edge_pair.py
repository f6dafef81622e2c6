"""provision and teardown_lab of an `edge: pair` lab against a memory-backend emulator: the router+switch
is created once (a /28 of public addresses), the second HAProxy server with it; teardown leaves nothing."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from urllib.parse import quote

import requests

from flows.provision import provision
from flows.teardown import teardown_lab
from swarmlab.cloud.provision import discover
from swarmlab.spec import local
from tests.api.test_client import make_client
from tests.api.test_provision_flow import EXPECTED, FILTERS, listing


def routers(emu, name: str) -> list[dict]:
    q = quote(json.dumps({"Filter": {"Name": [name]}, "Count": 100}))
    r = requests.get(emu.url("internet") + "?" + q, auth=(emu.token, emu.secret), timeout=10)
    r.raise_for_status()
    return [x for x in r.json()["Internets"] if x["Name"] == name]


def test_pair_provisions_the_router_and_haproxy02_and_teardown_removes_them(cloud_env, prefect_api):
    spec = local("lab-p", edge="pair")
    inv = provision(spec)
    assert [s.name for s in inv.servers if s.role.value == "haproxy"] == ["lab-p-haproxy01", "lab-p-haproxy02"]
    assert ipaddress.ip_network(inv.router_block).prefixlen == 28 and "lab-p-router" in inv.created
    [rt] = routers(cloud_env, "lab-p-router")
    assert rt["ID"] == inv.router_id and "swarmlab-lab=lab-p" in rt["Tags"]
    assert listing(cloud_env, "lab-p") == EXPECTED + Counter({"server": 1, "disk": 1})

    again = provision(spec)
    assert again.created == [] and again.router_id == inv.router_id and len(routers(cloud_env, "lab-p-router")) == 1
    with make_client(cloud_env) as client:
        found = discover(client, spec)
    assert (found.router_id, found.router_block) == (inv.router_id, inv.router_block)

    router_switch = rt["Switch"]["ID"]
    report = teardown_lab("lab-p", spec.zone)
    assert "internets lab-p-router" in report.deleted
    # + haproxy02 and its disk, - the 8 disks (they go with their servers), + the router
    assert len(report.deleted) == sum(EXPECTED.values()) + 2 - 8 + 1 + FILTERS
    assert routers(cloud_env, "lab-p-router") == [] and listing(cloud_env, "lab-p") == Counter()
    r = requests.get(cloud_env.url(f"switch/{router_switch}"), auth=(cloud_env.token, cloud_env.secret), timeout=10)
    assert r.status_code == 404, "the router's switch goes with the router"
