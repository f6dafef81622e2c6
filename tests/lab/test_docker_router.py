"""A router+switch on the emulator's docker backend: a real bridge whose gateway is on this machine, so a
VM's address on it answers from here (SSH), as the shared segment's do; deleting it leaves nothing.

    flock /tmp/swarmlab-docker.lock .venv/bin/python -m pytest tests/lab/test_docker_router.py -q -x -s
"""

from __future__ import annotations

import io
import ipaddress
import subprocess
import uuid

import paramiko
import requests
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from emulator import images
from emulator.backend import ROUTER_POOL, PrivateNIC, ServerRuntime
from emulator.docker import L_INSTANCE, DockerBackend
from tests.lab.test_docker_backend import VM, _client, _free_subnet

pytestmark = pytest.mark.lab

SWITCH, SERVER = "113000000501", "113000000511"


def _setup():
    """(docker client, a fresh instance name, a free shared /24, an SSH key's private PEM and public line)."""
    client = _client()
    images.build_all(client)
    instance = f"t{uuid.uuid4().hex[:8]}"
    shared = _free_subnet(client, [f"198.18.{i}.0/24" for i in range(200, 250)])
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return client, instance, shared, pem, pub


def test_a_vm_on_a_router_switch_is_reachable_from_this_machine_and_delete_leaves_nothing(tmp_path):
    client, instance, shared, pem, pub = _setup()
    backend = DockerBackend(instance, tmp_path / "state", str(shared))
    flt = {"label": f"{L_INSTANCE}={instance}"}
    vm = None
    try:
        backend.start(set())
        block = ipaddress.ip_network(backend.router_subnet(28, set()))
        assert block.prefixlen == 28 and block.subnet_of(ROUTER_POOL)
        backend.internet_created(SWITCH, str(block), str(block.network_address + 1), ["swarmlab", instance])
        net = client.networks.get(f"{instance}-sw-{SWITCH}")
        assert net.attrs["Internal"] is False
        assert net.attrs["IPAM"]["Config"][0]["Gateway"] == str(block.network_address + 1)
        # a second block overlaps neither this one nor any docker network
        assert not ipaddress.ip_network(backend.router_subnet(28, set())).overlaps(block)

        ip = str(block.network_address + 4)          # the first address a server may take
        backend.server_power_on(ServerRuntime(
            id=SERVER, name="t-edge01", hostname="t-edge01", shared_ip=str(shared.network_address + 10),
            private_nics=[PrivateNIC(SWITCH, ip, block.prefixlen)], ssh_public_keys=[pub], tags=[instance]))
        vm = VM(ip, paramiko.Ed25519Key.from_private_key(io.StringIO(pem)))
        vm.wait_docker(timeout=120)                 # SSH from this machine to the router-switch address
        assert f" {ip}/28 " in vm.ok("ip -o -4 addr show")
        vm.close()

        backend.server_deleted(SERVER)
        backend.switch_deleted(SWITCH)
        assert not client.networks.list(names=[f"{instance}-sw-{SWITCH}"])
    finally:
        if vm is not None:
            vm.close()
        backend.stop()
        backend.purge()
    assert not client.containers.list(all=True, filters=flt)
    assert not client.networks.list(filters=flt)


GARP = """import socket, struct, sys
ip = socket.inet_aton(sys.argv[1])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
mac = s.getsockname()[4]
s.send(b"\\xff" * 6 + mac + b"\\x08\\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\\x00" * 6 + ip)
"""


def test_two_vms_with_nic0_on_a_router_switch_move_a_floating_address_by_gratuitous_arp(tmp_path):
    """NIC0 on the router's switch (no shared NIC, as an `edge: pair` HAProxy); a VIP added inside one VM (the
    containers hold NET_ADMIN and NET_RAW) answers this machine, and moves to the other with one gratuitous ARP,
    as keepalived moves it."""
    client, instance, shared, pem, pub = _setup()
    pkey = paramiko.Ed25519Key.from_private_key(io.StringIO(pem))
    backend = DockerBackend(instance, tmp_path / "state", str(shared))
    flt = {"label": f"{L_INSTANCE}={instance}"}
    vms = []
    try:
        backend.start(set())
        block = ipaddress.ip_network(backend.router_subnet(28, set()))
        backend.internet_created(SWITCH, str(block), str(block.network_address + 1), ["swarmlab", instance])
        vip = str(block.network_address + 4)
        for i in (1, 2):
            ip = str(block.network_address + 4 + i)
            backend.server_power_on(ServerRuntime(
                id=f"{SERVER}{i}", name=f"t-edge0{i}", hostname=f"t-edge0{i}", shared_ip=None,
                private_nics=[PrivateNIC(SWITCH, ip, block.prefixlen)], ssh_public_keys=[pub], tags=[instance]))
            vms.append(VM(ip, pkey))
        for i, vm in enumerate(vms, 1):
            vm.wait_docker(timeout=120)
            assert vm.ok("ip -4 route show default").split()[2] == str(block.network_address + 1)
            vm.ok(f"echo t-edge0{i} | sudo tee /srv-name >/dev/null")
        serve = "sudo sh -c 'cd / && nohup python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1 &'"

        def holder(timeout: float = 5.0) -> str:
            import time as _t
            t0, last = _t.monotonic(), None
            while _t.monotonic() - t0 < timeout:
                try:
                    return requests.get(f"http://{vip}:8080/srv-name", timeout=0.5).text.strip()
                except requests.RequestException as e:
                    last = e
                    _t.sleep(0.1)
            raise AssertionError(f"{vip}: no answer in {timeout} s ({last})")

        for vm in vms:
            vm.ok(serve)
        vms[0].ok(f"sudo ip addr add {vip}/{block.prefixlen} dev eth0 && sudo python3 - {vip}", stdin=GARP)
        assert holder() == "t-edge01"
        vms[0].ok(f"sudo ip addr del {vip}/{block.prefixlen} dev eth0")
        vms[1].ok(f"sudo ip addr add {vip}/{block.prefixlen} dev eth0 && sudo python3 - {vip}", stdin=GARP)
        assert holder(2.0) == "t-edge02"
        mac = vms[1].ok("cat /sys/class/net/eth0/address").strip()
        neigh = subprocess.run(["ip", "neigh", "show", vip], capture_output=True, text=True).stdout
        assert mac in neigh, f"this machine's ARP entry for {vip} is the new holder's ({mac}): {neigh}"
    finally:
        for vm in vms:
            vm.close()
        backend.stop()
        backend.purge()
    assert not client.containers.list(all=True, filters=flt)
    assert not client.networks.list(filters=flt)
