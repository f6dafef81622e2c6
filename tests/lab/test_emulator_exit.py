"""The emulator's docker backend leaves nothing running: `--purge` removes its instance's objects when it is
stopped as scripts/demo.sh stops it (SIGTERM), and instances started without --shared-subnet each take a
free one. Needs Docker and the lab images (run under the docker lock):

    flock /tmp/swarmlab-docker.lock .venv/bin/python -m pytest tests/lab/test_emulator_exit.py -q
"""

from __future__ import annotations

import ipaddress
import subprocess

import docker
import pytest
import requests

from emulator import process
from emulator.docker import L_INSTANCE

pytestmark = pytest.mark.lab


def objects(instance: str) -> dict[str, list[str]]:
    client = docker.from_env()
    label = {"label": [f"{L_INSTANCE}={instance}"]}
    return {"containers": [c.name for c in client.containers.list(all=True, filters=label)],
            "networks": [n.name for n in client.networks.list(filters=label)],
            "volumes": [v.name for v in client.volumes.list(filters=label)]}


def shared_subnet(emu: process.Emulator) -> ipaddress.IPv4Network:
    health = requests.get(emu.admin_url("health"), auth=emu.auth, timeout=5).json()
    return ipaddress.ip_network(health["shared_subnet"])


def sigterm(emu: process.Emulator) -> str:
    emu.proc.terminate()          # what the demo's trap does: `kill $emu; wait $emu`
    assert emu.proc.wait(120) == 0, emu.log.read_text()[-2000:]
    return emu.log.read_text()


def test_purge_on_sigterm_leaves_no_container_network_volume_or_state(tmp_path):
    emu = process.start(tmp_path, "docker", "--purge", instance="exit-emu")
    try:
        made = objects("exit-emu")
        assert "exit-emu-hub" in made["containers"] and "exit-emu-shared" in made["networks"], made
        assert "exit-emu-hub" in made["volumes"] and (tmp_path / "exit-emu" / "hub").is_dir()
        log = sigterm(emu)
    finally:
        if emu.proc.poll() is None:
            emu.stop(purge=True)
    assert objects("exit-emu") == {"containers": [], "networks": [], "volumes": []}, log[-2000:]
    assert not emu.state.exists() and not (tmp_path / "exit-emu").exists()
    assert "instance exit-emu purged" in log


def test_two_instances_without_a_subnet_both_come_up_and_a_taken_one_names_its_holder(tmp_path):
    first = process.start(tmp_path, "docker", "--purge", instance="exit-one")
    second = None
    try:
        second = process.start(tmp_path, "docker", "--purge", instance="exit-two")
        a, b = shared_subnet(first), shared_subnet(second)
        assert not a.overlaps(b), (a, b)
        assert "exit-two-shared" in objects("exit-two")["networks"]
        with pytest.raises(RuntimeError) as taken:
            process.start(tmp_path, "docker", "--shared-subnet", str(a), instance="exit-three")
        message = str(taken.value)
        assert "exit-one-shared (emulator instance exit-one)" in message, message
        assert "python -m emulator.purge exit-one" in message, message
        assert objects("exit-three")["networks"] == []
    finally:
        for emu in (first, second):
            if emu is not None and emu.proc.poll() is None:
                sigterm(emu)
        subprocess.run([process.sys.executable, "-m", "emulator.purge", "exit-three", "--state-dir",
                        str(tmp_path / "exit-three")], cwd=process.ROOT, check=True, capture_output=True)
    for instance in ("exit-one", "exit-two", "exit-three"):
        assert objects(instance) == {"containers": [], "networks": [], "volumes": []}, instance
