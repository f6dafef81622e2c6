"""`python -m flows` against a real emulator process (memory backend): confirmation, dry run, the zone rule,
and build-and-destroy's ownership of its lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from blocks.sakura import SakuraCloudCredentials
from flows.__main__ import main
from flows.build_and_destroy import LabExists, build_and_destroy
from flows.provision import provision
from swarmlab.cloud import lifecycle as lc
from swarmlab.spec import local

from tests.api.test_provision_flow import EXPECTED, listing
from tests.conftest import ROOT


def cli(prefect_api: str, *argv: str) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, without a terminal (stdin is /dev/null)."""
    return subprocess.run([sys.executable, "-m", "flows", *argv], cwd=ROOT, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PREFECT_API_URL": prefect_api}, capture_output=True, text=True,
                          timeout=300)


def test_teardown_shows_its_plan_and_needs_yes_without_a_terminal(cloud_env, prefect_api):
    provision(local("cli-a"))
    before = listing(cloud_env, "cli-a")
    assert before == EXPECTED

    out = cli(prefect_api, "teardown", "--name", "cli-a")
    assert out.returncode == 2, out.stderr[-2000:]
    assert "--yes" in out.stderr and "--dry-run" in out.stderr
    assert listing(cloud_env, "cli-a") == before, "nothing is deleted without confirmation"

    out = cli(prefect_api, "teardown", "--name", "cli-a", "--dry-run")
    assert out.returncode == 0, out.stderr[-2000:]
    plan = json.loads(out.stdout)["plan"]
    text = "\n".join(plan)
    names = [f"cli-a-{r}" for r in ("startup", "nfs", "registry", "filter", "filter-edge")]
    names += [f"cli-a-{role}0{i}{disk}" for role, n in (("manager", 3), ("worker", 3), ("haproxy", 1))
              for i in range(1, n + 1) for disk in ("", "-disk")]
    assert all(name in text for name in names), plan
    assert "cli-a-switch" in plan[-1], "the switch goes last"
    assert listing(cloud_env, "cli-a") == before, "a dry run deletes nothing"

    out = cli(prefect_api, "teardown", "--name", "cli-a", "--yes")
    assert out.returncode == 0, out.stderr[-2000:]
    assert listing(cloud_env, "cli-a") == Counter()


def test_the_zone_flag_reaches_provision_and_teardown(cloud_env, prefect_api, monkeypatch, capsys):
    monkeypatch.setenv("SAKURACLOUD_ZONE", "is1b")  # --zone beats the environment
    assert main(["provision", "--name", "cli-z", "--zone", "tk1b"]) == 0
    assert json.loads(capsys.readouterr().out)["zone"] == "tk1b"
    tk1b = SakuraCloudCredentials.from_env().client("tk1b")
    assert [s.name for s in tk1b.switches.find(name="cli-z-switch")] == ["cli-z-switch"]
    assert listing(cloud_env, "cli-z") == Counter(note=1, commonserviceitem=1), \
        "is1a holds only the lab's global note and registry"
    assert main(["teardown", "--name", "cli-z", "--zone", "tk1b", "--yes"]) == 0
    assert tk1b.switches.find(name="cli-z-switch") == []


def test_the_environment_zone_is_used_when_no_zone_is_given(cloud_env, prefect_api, monkeypatch):
    monkeypatch.setenv("SAKURACLOUD_ZONE", "tk1a")
    inv = provision(local("cli-e"))
    assert inv.zone == "tk1a"
    assert main(["teardown", "--name", "cli-e", "--yes"]) == 0
    assert SakuraCloudCredentials.from_env().client("tk1a").switches.find(name="cli-e-switch") == []


def test_build_and_destroy_never_adopts_a_lab_it_did_not_create(cloud_env, prefect_api):
    provision(local("kept"))
    with pytest.raises(LabExists, match="kept already exists.*adopt"):
        build_and_destroy(local("kept"), drills=False, lab_prefix=None)
    assert listing(cloud_env, "kept") == EXPECTED, "the existing lab is untouched"


def test_an_adopted_lab_that_provision_refuses_is_not_torn_down(cloud_env, prefect_api):
    provision(local("old"))
    client = SakuraCloudCredentials.from_env().client("is1a")
    sw = client.switches.find(name="old-switch")[0]
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    client.switches.set_tags(sw.id, [t for t in sw.tags if not t.startswith(lc.EXPIRES_PREFIX)] + [lc.expiry_tag(past)])
    with pytest.raises(lc.LabExpired):
        build_and_destroy(local("old"), drills=False, lab_prefix=None, adopt=True)
    assert listing(cloud_env, "old") == EXPECTED, "an expired lab is the guard's to tear down, not this run's"


def test_the_credentials_blocks_zone_is_used_when_no_zone_is_given(cloud_env, prefect_api, monkeypatch):
    monkeypatch.setenv("SAKURACLOUD_ZONE", "is1b")  # the block beats the environment
    env = SakuraCloudCredentials.from_env()
    SakuraCloudCredentials(access_token=env.access_token, access_token_secret=env.access_token_secret,
                           api_root=env.api_root, zone="tk1b").save("cli-block", overwrite=True)
    inv = provision(local("cli-b"), credentials="cli-block")
    assert inv.zone == "tk1b"
    assert main(["teardown", "--name", "cli-b", "--credentials", "cli-block", "--yes"]) == 0
    assert env.client("tk1b").switches.find(name="cli-b-switch") == []
