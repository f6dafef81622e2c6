"""One real lab (emulator docker backend, VM containers) shared by the lab tests, torn down at the end."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from emulator import process
from swarmlab.inventory import Inventory
from swarmlab.spec import LabSpec, local

LAB, SUBNET, SHARED = "labtest", "192.168.1.0/24", "198.18.1.0/24"


@dataclass
class Lab:
    emu: process.Emulator
    spec: LabSpec
    inventory: Inventory

    def client(self):
        from blocks.sakura import SakuraCloudCredentials
        return SakuraCloudCredentials.from_env().client(self.spec.zone)

    def fleet(self):
        from flows.bootstrap import open_fleet
        return open_fleet(self.inventory, self.spec, None)


@pytest.fixture(scope="session")
def lab(tmp_path_factory, prefect_api):
    tmp = tmp_path_factory.mktemp("lab")
    emu = process.start(tmp, "docker", "--shared-subnet", SHARED, "--delay-scale", "0.2", instance="swarmlab-test")
    saved = dict(os.environ)
    os.environ.update(emu.env(), SWARMLAB_STATE_DIR=str(tmp / "state"))
    from flows.provision import provision
    from flows.teardown import teardown_lab

    spec = local(LAB, SUBNET)
    try:
        yield Lab(emu, spec, provision(spec))
    finally:
        try:
            teardown_lab(spec.name, spec.zone)
        finally:
            emu.stop(purge=True)
            os.environ.clear()
            os.environ.update(saved)
