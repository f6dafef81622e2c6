"""A class of labs from the CLI (memory emulator): `up --count` refuses a class over its budget before
creating anything, and its usage errors; `down --prefix` removes every lab of the class and nothing else."""

from __future__ import annotations

from collections import Counter

import pytest

from blocks.sakura import SakuraCloudCredentials
from swarmlab.cloud import provision as lib
from swarmlab.spec import local
from tests.api.test_cli import swarmlab
from tests.api.test_provision_flow import listing


def test_up_count_refuses_a_class_over_its_budget_before_creating_anything(cloud_env, prefect_api):
    out = swarmlab(prefect_api, "up", "--count", "3", "--prefix", "cls", "--subnet", "192.168.100.0/24",
                   "--total-budget-yen", "100")
    assert out.returncode == 1, out.stdout + out.stderr[-2000:]
    assert "ClassOverBudget: 3 labs: estimated" in out.stderr and "cls-01" in out.stderr and "cls-03" in out.stderr
    assert "exceeds the class budget of 100 yen" in out.stderr
    for lab in ("cls-01", "cls-02", "cls-03"):
        assert listing(cloud_env, lab) == Counter(), f"{lab}: something was created"


@pytest.mark.parametrize("argv, says", [
    (("--count", "2"), "--count and --prefix go together"),
    (("--prefix", "cls"), "--count and --prefix go together"),
    (("--parallel", "3"), "--count and --prefix go together"),
    (("--count", "2", "--prefix", "cls", "--lab", "one"), "--lab names one lab"),
    (("--count", "2", "--prefix", "cls", "--lab", "swarmlab"), "--lab names one lab"),  # even the default name
    (("--count", "2", "--prefix", "cls", "--subnet", "192.168.255.0/24"), "leave the private ranges"),
])
def test_up_count_usage_errors(cloud_env, prefect_api, argv, says):
    out = swarmlab(prefect_api, "up", *argv)
    assert out.returncode == 2 and says in out.stderr, out.stderr[-2000:]


def test_down_prefix_removes_every_lab_of_the_class_and_nothing_else(cloud_env, prefect_api):
    client = SakuraCloudCredentials.from_env().client("is1a")
    for name, subnet in [("cls-01", "192.168.100.0/24"), ("cls-02", "192.168.101.0/24"),
                         ("clsx-01", "192.168.102.0/24")]:  # a switch and a note: enough of a lab to tear down
        spec = local(name, subnet)
        switch_id, tags, _ = lib.ensure_switch(client, spec)
        lib.ensure_note(client, spec, switch_id=switch_id, tags=tags)
    dry = swarmlab(prefect_api, "down", "--prefix", "cls", "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "2 labs, 4 resources" in dry.stdout and "- cls-01: delete switches cls-01-switch" in dry.stdout
    assert "clsx" not in dry.stdout
    assert listing(cloud_env, "cls-01") and listing(cloud_env, "cls-02"), "the dry run deleted something"

    refused = swarmlab(prefect_api, "down", "--prefix", "cls")  # no terminal, no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr

    both = swarmlab(prefect_api, "down", "--prefix", "cls", "--lab", "cls-01")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr

    done = swarmlab(prefect_api, "down", "--prefix", "cls", "--yes")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Lab cls-01: deleted" in done.stdout and "Lab cls-02: deleted" in done.stdout
    assert listing(cloud_env, "cls-01") == Counter() and listing(cloud_env, "cls-02") == Counter()
    assert listing(cloud_env, "clsx-01"), "a lab outside the class was deleted"

    again = swarmlab(prefect_api, "down", "--prefix", "cls", "--yes")
    assert again.returncode == 0 and "nothing to delete" in again.stdout
