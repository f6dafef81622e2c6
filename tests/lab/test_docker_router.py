"""A router+switch on the emulator's docker backend: a real bridge whose gateway is on this machine, so a
VM's address on it answers from here (SSH), as the shared segment's do; deleting it leaves nothing.

    flock /tmp/swarmlab-docker.lock .venv/bin/python -m pytest tests/lab/test_docker_router.py -q -x -s
"""

from __future__ import annotations

import io
import ipaddress
import uuid

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from emulator import images
from emulator.backend import ROUTER_POOL, PrivateNIC, ServerRuntime
from emulator.docker import L_INSTANCE, DockerBackend
from tests.lab.test_docker_backend import VM, _client, _free_subnet

pytestmark = pytest.mark.lab

SWITCH, SERVER = "113000000501", "113000000511"


def test_a_vm_on_a_router_switch_is_reachable_from_this_machine_and_delete_leaves_nothing(tmp_path):
    client = _client()
    images.build_all(client)
    instance = f"t{uuid.uuid4().hex[:8]}"
    shared = _free_subnet(client, [f"198.18.{i}.0/24" for i in range(200, 250)])
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
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
