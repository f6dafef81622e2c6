"""Two real labs (emulator docker backend, VM containers) shared by the lab tests, torn down at the end:
`lab` (provisioned; the host and swarm tests form it) and `built` (build_lab from nothing; the release tests,
then the drills, then the exposure probes use it, in that order)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator import process
from swarmlab.cloud.inventory import Inventory
from swarmlab.spec import LabSpec, Role, local

LAB, SUBNET, SHARED = "labtest", "192.168.1.0/24", "198.18.1.0/24"
BUILT, BUILT_SUBNET, BUILT_SHARED = "reltest", "192.168.61.0/24", "198.18.61.0/24"
#: build_lab's images from this machine's engine and its build cache (`--engine local`), for the labs that test
#: something else than the images; `built` builds them the default way (a manager's engine, from scratch)
LOCAL_ENGINE = {"engine": "local", "base": "lab/base:bookworm"}


@dataclass
class Lab:
    emu: process.Emulator
    spec: LabSpec
    inventory: Inventory
    env: dict  # the flows' environment for this lab (the session's `built` lab replaces os.environ's later)

    def client(self):
        from blocks.sakura import SakuraCloudCredentials
        return SakuraCloudCredentials.from_env().client(self.spec.zone)

    def fleet(self):
        from flows.session import open_fleet
        return open_fleet(self.inventory, self.spec, None)

    def drop_worker(self, worker: str) -> None:
        """`worker` leaves the swarm and the first manager removes its node, as if it had been away."""
        from swarmlab.sakura.wait import Poll

        manager = self.spec.server_name(self.spec.managers[0])
        fleet = self.fleet()
        try:
            fleet.session(worker).run("docker swarm leave", sudo=True)
            for _ in Poll(f"{manager} to see {worker} leave", 60):
                if "Down" in fleet.session(manager).run(
                        f"docker node inspect --format '{{{{.Status.State}}}}' {worker}", sudo=True).stdout.title():
                    break
            else:
                raise AssertionError(f"{manager} never saw {worker} leave the swarm")
            fleet.session(manager).run(f"docker node rm {worker}", sudo=True)
        finally:
            fleet.close()


@dataclass
class Built:
    emu: process.Emulator
    spec: LabSpec
    inventory: Inventory
    result: object
    first_s: float

    def fleet(self):
        from flows.session import open_fleet
        return open_fleet(self.inventory, self.spec, None)

    @property
    def address(self) -> str:
        return next(s.address for s in self.inventory.servers if s.role == Role.haproxy)


@contextmanager
def running_lab(tmp: Path, name: str, subnet: str, shared: str,
                **overrides) -> Iterator[tuple[process.Emulator, LabSpec]]:
    """An emulator (docker backend, instance `<name>-emu`) with the flows' env pointed at it; yields it with
    the lab's spec (`local(name, subnet, **overrides)`); at the end the lab is torn down, the instance purged
    and the env restored."""
    emu = process.start(tmp, "docker", "--shared-subnet", shared, "--delay-scale", "0.2", instance=f"{name}-emu")
    saved = dict(os.environ)
    os.environ.update(emu.env(), SWARMLAB_STATE_DIR=str(tmp / "state"))
    spec = local(name, subnet, **overrides)
    try:
        yield emu, spec
    finally:
        try:
            from flows.teardown import teardown_lab
            teardown_lab(spec.name, spec.zone)
        finally:
            from emulator.docker.netfilter import Netfilter
            from swarmlab.hosts.engine import local_engine
            from swarmlab.release.publish import untag_registry_images
            with local_engine() as client:  # what LOCAL_ENGINE built and tagged for the lab's registry
                untag_registry_images(client, f"{spec.name}.sakuracr.jp")
            emu.stop(purge=True)
            os.environ.clear()
            os.environ.update(saved)
            assert Netfilter(emu.instance).listing() == "", f"purge left {emu.instance}'s packet filter chain"


@pytest.fixture(scope="session")
def lab(tmp_path_factory, prefect_api):
    from flows.provision import provision

    with running_lab(tmp_path_factory.mktemp("lab"), LAB, SUBNET, SHARED) as (emu, spec):
        yield Lab(emu, spec, provision(spec), dict(os.environ))


@pytest.fixture(scope="session")
def built(tmp_path_factory, prefect_api):
    """A lab built by build_lab from nothing (its first build timed), kept for the session."""
    from flows.build import build_lab
    from flows.provision import provision

    with running_lab(tmp_path_factory.mktemp("built"), BUILT, BUILT_SUBNET, BUILT_SHARED) as (emu, spec):
        t0 = time.monotonic()
        result = build_lab(spec)
        first = time.monotonic() - t0
        print(f"\nbuild_lab from nothing: {first:.1f} s")
        yield Built(emu, spec, provision(spec), result, first)
