"""cost_guard, the budget gate and the lifecycle tags against a real emulator process (memory backend)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests

import flows.lock
from blocks.sakura import SakuraCloudCredentials
from flows.cost_guard import cost_guard
from flows.provision import provision
from swarmlab.cloud import lifecycle as lc
from swarmlab.cost import OverBudget
from swarmlab.spec import local

from tests.api.test_provision_flow import EXPECTED, PATHS, listing
from tests.conftest import ROOT
from swarmlab.sakura.wait import Deadline


def tagged_swarmlab(emu) -> Counter:
    """Every resource carrying the `swarmlab` tag, by kind, read with plain HTTP."""
    found = Counter()
    q = quote(json.dumps({"Filter": {"Tags.Name": [["swarmlab"]]}, "Count": 1000}))
    for path, key in PATHS.items():
        r = requests.get(emu.url(path) + "?" + q, auth=(emu.token, emu.secret), timeout=10)
        r.raise_for_status()
        found.update(path for item in r.json()[key] if "swarmlab" in item["Tags"])
    return found


def client():
    return SakuraCloudCredentials.from_env().client("is1a")


def switch_of(lab: str):
    return client().switches.find(name=f"{lab}-switch", tags=["swarmlab", f"swarmlab-lab={lab}"])[0]


def retag(lab: str, drop: str, add: list[str]) -> None:
    sw = switch_of(lab)
    client().switches.set_tags(sw.id, [t for t in sw.tags if not t.startswith(drop)] + add)


def test_killed_build_past_its_expiry_is_torn_down_and_lookalikes_are_untouched(cloud_env, prefect_api, tmp_path, monkeypatch):
    monkeypatch.setattr(flows.lock, "STALE_S", 25.0)  # the dead run's lock is taken over sooner (90 s in production)
    c = client()
    decoy = c.switches.create(name="guard-a-switch", tags=["swarmlab-lab=guard-a"])  # no `swarmlab` tag
    other = c.switches.create(name="not-guard-a", tags=["swarmlab", "swarmlab-lab=guard-a"])  # wrong name
    cloud_env.faults(delay_scale=1.0)  # slow enough to kill the build mid-way
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    proc = subprocess.Popen([sys.executable, "-m", "flows", "provision", "--name", "guard-a", "--ttl-hours", "0.0001"],
                            cwd=ROOT, env=env, stdout=open(tmp_path / "killed.log", "wb"), stderr=subprocess.STDOUT)
    deadline = Deadline(120)
    while listing(cloud_env, "guard-a")["disk"] < 3:
        assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-2000:]
        assert not deadline.passed, "provision never got half-way"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cloud_env.faults(delay_scale=0.05)
    assert tagged_swarmlab(cloud_env)["server"] >= 3

    with pytest.raises(lc.LabExpired, match="expired at"):  # a retry of the build does not extend it
        provision(local("guard-a"))

    decisions = cost_guard(zones=["is1a"])
    assert [(d.lab, d.action) for d in decisions] == [("guard-a", "teardown")]
    assert decisions[0].reason.startswith("expired")
    assert tagged_swarmlab(cloud_env) == Counter({"switch": 1})  # only the misnamed one is left
    assert c.switches.get(decoy.id).tags == ["swarmlab-lab=guard-a"]
    assert c.switches.get(other.id).name == "not-guard-a"
    assert cost_guard(zones=["is1a"]) == []  # nothing left that is a lab's


def test_dry_run_protect_tag_budget_and_a_started_teardown(cloud_env, prefect_api):
    with pytest.raises(OverBudget, match="exceeds its budget of 10 yen"):
        provision(local("guard-b", budget_yen=10))
    assert tagged_swarmlab(cloud_env) == Counter(), "an over-budget build must create nothing"

    provision(local("guard-b", ttl_hours=0.0001))
    provision(local("guard-c", "192.168.2.0/24"))  # young, within budget
    assert listing(cloud_env, "guard-b") == EXPECTED
    assert lc.parse_budget(switch_of("guard-c").tags) == 500

    dry = {d.lab: d for d in cost_guard(zones=["is1a"], dry_run=True)}
    assert (dry["guard-b"].action, dry["guard-c"].action) == ("teardown", "keep")
    assert listing(cloud_env, "guard-b") == EXPECTED and listing(cloud_env, "guard-c") == EXPECTED

    retag("guard-b", lc.PROTECT_PREFIX, [lc.protect_tag(datetime.now(timezone.utc) + timedelta(hours=1))])
    kept = {d.lab: d for d in cost_guard(zones=["is1a"])}
    assert kept["guard-b"].action == "keep" and kept["guard-b"].reason.startswith("protected until")
    assert listing(cloud_env, "guard-b") == EXPECTED

    retag("guard-b", lc.PROTECT_PREFIX, [lc.protect_tag(datetime.now(timezone.utc) - timedelta(minutes=1))])
    retag("guard-c", lc.BUDGET_PREFIX, [lc.budget_tag(1)])
    done = {d.lab: d for d in cost_guard(zones=["is1a"])}
    assert done["guard-b"].action == "teardown"
    assert done["guard-c"].action == "teardown" and "budget" in done["guard-c"].reason
    assert tagged_swarmlab(cloud_env) == Counter()


def test_a_marked_lab_is_not_adopted_and_the_guard_finishes_its_teardown(cloud_env, prefect_api):
    spec = local("guard-d")
    provision(spec)
    from swarmlab.cloud.teardown import mark_teardown

    assert mark_teardown(client(), "guard-d") == ["guard-d-switch"]
    assert mark_teardown(client(), "guard-d") == []  # idempotent
    with pytest.raises(lc.LabTearingDown, match="let teardown_lab guard-d finish"):
        provision(spec)
    decisions = cost_guard(zones=["is1a"])
    assert decisions[0].action == "teardown" and "finishing" in decisions[0].reason
    assert listing(cloud_env, "guard-d") == Counter()
    provision(spec)  # gone entirely: a fresh build is allowed again
    assert listing(cloud_env, "guard-d") == EXPECTED
