"""An `edge: pair` lab on the emulator's docker backend: haproxy01/02 with NIC0 on the lab's router+switch,
keepalived (unicast VRRP) moving a VIP of its block. build_lab serves through the VIP; the `haproxy down`
drill powers off the VIP's holder under the probe; teardown leaves nothing (router+switch included).

Its own small lab (1 manager, 1 worker, the pair), built and torn down here:

    flock /tmp/swarmlab-docker.lock .venv/bin/python -m pytest tests/lab/test_edge_pair.py -q -x -s
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import quote

import docker
import pytest
import requests

from swarmlab.render.keepalived import edge_addresses
from swarmlab.spec import LabSpec, Role, ServerSpec
from tests.lab.conftest import LOCAL_ENGINE, running_lab

pytestmark = pytest.mark.lab

PAIR, PAIR_SUBNET, PAIR_SHARED = "pairtest", "192.168.62.0/24", "198.18.62.0/24"


def small(spec: LabSpec) -> LabSpec:
    """The pair with one manager and one worker (the least a swarm behind HAProxy needs): one web and one app."""
    net = spec.subnet.network_address
    servers = [ServerSpec(role=Role.manager, index=1, private_ip=net + 20),
               ServerSpec(role=Role.worker, index=1, private_ip=net + 30), *spec.haproxies]
    return LabSpec.model_validate({**spec.model_dump(), "servers": [s.model_dump() for s in servers],
                                   "stack": {**spec.stack.model_dump(), "web_replicas": 1, "app_replicas": 1}})


def leftovers(emu, lab: str) -> dict[str, list[str]]:
    """Every server, disk, switch and router+switch named after the lab that the API still lists."""
    out = {}
    for path, key in (("server", "Servers"), ("disk", "Disks"), ("switch", "Switches"), ("internet", "Internets")):
        r = requests.get(emu.url(path) + "?" + quote(json.dumps({"Count": 1000})), auth=(emu.token, emu.secret),
                         timeout=10)
        r.raise_for_status()
        names = [x["Name"] for x in r.json()[key] if x["Name"].startswith(f"{lab}-")]
        if names:
            out[path] = names
    return out


def test_pair_serves_through_the_vip_survives_haproxy_down_and_tears_down_to_nothing(tmp_path, prefect_api):
    from flows.build import build_lab
    from flows.exercise import exercise_lab
    from flows.teardown import teardown_lab

    with running_lab(tmp_path, PAIR, PAIR_SUBNET, PAIR_SHARED, edge="pair") as (emu, spec):
        spec = small(spec)
        built = build_lab(spec, **LOCAL_ENGINE)
        inv = built.inventory
        vip, pair = edge_addresses(ipaddress.ip_network(inv.router_block))
        assert built.haproxy == str(vip) and built.web_url == f"http://{vip}/", "users get the VIP"
        assert [s.address for s in inv.by_role(Role.haproxy)] == [str(a) for a in pair]
        r = requests.get(built.web_url, timeout=5)
        assert r.status_code == 200 and r.headers.get("Server", "").startswith("nginx")
        assert requests.get(f"http://{vip}:8000/healthz", timeout=5).status_code == 200

        again = build_lab(spec, **LOCAL_ENGINE)
        assert again.changes == [], "a re-run changes nothing (haproxy.cfg and keepalived.conf on both included)"

        report = exercise_lab(spec, only=["haproxy down"], fail_on_verdict=False)
        [drill] = report.drills
        print(f"\nhaproxy down: {drill.verdict} ({drill.why}); VIP moved in {drill.detect_s} s, {drill.failed} "
              f"failed of {drill.ok + drill.failed}, p99 {drill.p99_ms} ms; {drill.details}")
        assert report.error == "" and drill.name == "haproxy down"
        assert drill.detect_s is not None and drill.detect_s <= 3.0, drill.details
        assert drill.failed * 100 < drill.ok + drill.failed, drill.first_failures
        assert drill.details["rejoined_state"] == "BACKUP" and drill.details["vip_stayed"] is True, drill.details
        assert drill.passed, drill.why

        report = teardown_lab(spec.name, spec.zone)
        assert f"internets {spec.name}-router" in report.deleted
        assert leftovers(emu, spec.name) == {}, "teardown left these"
        networks = docker.from_env().networks.list(filters={"label": f"sakura-emulator.instance={emu.instance}"})
        assert sorted(n.name for n in networks) == [f"{emu.instance}-shared"], "the router's bridge is gone"
