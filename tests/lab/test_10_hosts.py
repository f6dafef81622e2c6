"""Issue 3: provision on the docker backend gives 7 real hosts with SSH, Docker, private IPs and NFS."""

from __future__ import annotations

import docker
import pytest

from emulator.docker import L_INSTANCE, L_RESOURCE
from swarmlab.hosts import run_parallel

pytestmark = pytest.mark.lab


def test_every_host_answers_ssh_with_docker_hostname_and_private_ip(lab):
    fleet = lab.fleet()
    try:
        def check(name):
            s = fleet.session(name)
            version = s.run("docker info --format '{{.ServerVersion}}'", sudo=True).stdout.strip()
            return version, s.run("hostname").stdout.strip(), s.run("ip -o -4 addr show").stdout
        found = run_parallel({n: n for n in fleet.names()}, check)
    finally:
        fleet.close()
    assert len(found) == 7
    for server in lab.inventory.servers:
        version, hostname, addrs = found[server.name]
        assert version, f"{server.name}: docker info gave no version"
        assert hostname == server.name
        assert f" {server.private_ip}/24 " in addrs, f"{server.name}: {server.private_ip} not configured:\n{addrs}"


def test_nfs_share_is_writable_everywhere_and_shared(lab):
    src = f"{lab.spec.nfs.ip}:{lab.spec.nfs.export}"
    fleet = lab.fleet()
    try:
        def write(name):
            s = fleet.session(name)
            s.run(f"mkdir -p /mnt/nfscheck && (mountpoint -q /mnt/nfscheck || mount -t nfs {src} /mnt/nfscheck) "
                  f"&& mkdir -p /mnt/nfscheck/check && echo {name} > /mnt/nfscheck/check/{name}", sudo=True)

        def read(name):
            s = fleet.session(name)
            listing = s.run("ls /mnt/nfscheck/check", sudo=True).stdout.split()
            s.run("umount /mnt/nfscheck", sudo=True)
            return sorted(listing)
        run_parallel({n: n for n in fleet.names()}, write)
        seen = run_parallel({n: n for n in fleet.names()}, read)
        fleet.session(fleet.names()[0]).run(f"mount -t nfs {src} /mnt/nfscheck && rm -r /mnt/nfscheck/check "
                                            f"&& umount /mnt/nfscheck", sudo=True)
    finally:
        fleet.close()
    for name, files in seen.items():
        assert files == sorted(fleet.names()), f"{name} sees {files}"


def test_power_off_stops_the_vm_and_power_on_brings_it_back_with_its_state(lab):
    server = next(s for s in lab.inventory.servers if s.role.value == "haproxy")
    client, engine = lab.client(), docker.from_env()
    fleet = lab.fleet()

    def container():
        found = engine.containers.list(all=True, filters={"label": [f"{L_INSTANCE}={lab.emu.instance}",
                                                                    f"{L_RESOURCE}={server.id}"]})
        assert len(found) == 1
        return found[0]
    try:
        fleet.session(server.name).run("echo kept > /var/tmp/proof", sudo=True)
        fleet.close()
        client.servers.power_off(server.id)
        assert client.servers.wait_down(server.id, timeout_s=60).status == "down"
        assert container().status == "exited"
        client.servers.power_on(server.id)
        client.servers.wait_up(server.id, timeout_s=60)
        assert container().status == "running"
        assert fleet.session(server.name).run("cat /var/tmp/proof").stdout.strip() == "kept"
    finally:
        fleet.close()
