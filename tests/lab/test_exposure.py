"""What the internet sees of a built local lab: its packet filters, enforced by the emulator on this machine.

The session's `built` lab (tests/lab/conftest.py; build_lab, so apt, the registry and HAProxy worked through
the filters), probed last (root flushes a worker's firewall here) from a second container on the shared
segment standing for "the internet" (not in admin_cidrs). Run under the docker lock:

    flock /tmp/swarmlab-docker.lock .venv/bin/python -m pytest tests/lab/test_exposure.py -q -x
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from emulator.docker import L_INSTANCE, L_KIND, L_RESOURCE
from emulator.docker.netfilter import Netfilter
from swarmlab.spec import Role

pytestmark = pytest.mark.lab

CLOSED = (22, 80, 8000, 2377, 7946, 5432)
REFUSED = 1  # bash: connection refused; a filtered port times out instead (124)


def probe(box, ip: str, port: int) -> int:
    """Exit code of a TCP connect from the internet container: 0 open, 1 refused, 124 dropped (timeout)."""
    return box.exec_run(["timeout", "3", "bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}"]).exit_code


def http(box, ip: str, port: int) -> str:
    script = (f"exec 3<>/dev/tcp/{ip}/{port}; printf 'GET /healthz HTTP/1.0\\r\\nHost: lab\\r\\n\\r\\n' >&3; "
              "head -1 <&3")
    return box.exec_run(["timeout", "5", "bash", "-c", script]).output.decode(errors="replace")


@pytest.fixture(scope="module")
def exposed(built):
    import docker

    from blocks.sakura import SakuraCloudCredentials
    from swarmlab.cloud.provision import discover

    emu, spec = built.emu, built.spec
    box = docker.from_env().containers.run(
        "lab/base:bookworm", ["sleep", "infinity"], detach=True, name=f"{emu.instance}-internet",
        network=f"{emu.instance}-shared",
        labels={L_INSTANCE: emu.instance, L_RESOURCE: "internet", L_KIND: "test-internet"})
    try:
        api = SakuraCloudCredentials.from_env().client(spec.zone)
        yield spec, discover(api, spec), box, api, emu
    finally:
        box.remove(force=True)


def test_only_the_edge_answers_the_internet(exposed):
    spec, inv, box, _, _ = exposed
    pairs = [(s, port) for s in inv.servers for port in (CLOSED if s.role != Role.haproxy else (22, 2377, 7946, 5432))]
    with ThreadPoolExecutor(8) as pool:  # a dropped port costs its 3 s timeout: probe them side by side
        codes = list(pool.map(lambda sp: probe(box, sp[0].address, sp[1]), pairs))
    for s in inv.servers:
        answers = {port: code for (t, port), code in zip(pairs, codes) if t is s}
        assert answers == {p: 124 for p in answers}, f"{s.name} ({s.address}) answers the internet: {answers}"
    edge = inv.by_role(Role.haproxy)[0].address
    for port in (80, 8000):
        assert http(box, edge, port).startswith("HTTP/1."), f"HAProxy :{port} does not answer the internet"


def test_ssh_works_from_the_admin_address_and_a_detached_filter_opens_the_server(exposed):
    from flows.session import open_fleet

    spec, inv, box, api, emu = exposed
    worker = inv.by_role(Role.worker)[0]
    fleet = open_fleet(inv, spec, None)
    try:
        assert fleet.session(worker.name).run("hostname").stdout.strip() == worker.name
    finally:
        fleet.close()
    nic = api.servers.get(worker.id).interfaces[0]
    assert nic.packet_filter and worker.address in Netfilter(emu.instance).listing()
    api.packet_filters.detach(nic.id)
    try:
        assert probe(box, worker.address, 22) == 0, "without its filter the worker's sshd is reachable"
        assert worker.address not in Netfilter(emu.instance).listing()
    finally:
        api.packet_filters.attach(nic.id, nic.packet_filter.id)
    assert probe(box, worker.address, 22) == 124


def test_root_in_a_vm_cannot_lift_the_filter(exposed):
    from flows.session import open_fleet

    spec, inv, box, _, _ = exposed
    worker = inv.by_role(Role.worker)[-1]
    fleet = open_fleet(inv, spec, None)
    try:
        fleet.session(worker.name).run("iptables -F; iptables -P INPUT ACCEPT; "
                                       "command -v nft >/dev/null && nft flush ruleset; true", sudo=True)
        assert fleet.session(worker.name).run("iptables -S INPUT", sudo=True).stdout.strip() == "-P INPUT ACCEPT"
    finally:
        fleet.close()
    assert {p: probe(box, worker.address, p) for p in (22, 80, 8000)} == {22: 124, 80: 124, 8000: 124}
