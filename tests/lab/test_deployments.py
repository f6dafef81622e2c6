"""deployments/run-local.sh end to end: a local Prefect server, the work pool, blocks, `prefect deploy`,
a worker and build-and-destroy/nightly against the emulator's docker backend; its exit code is the run's.

A run that completes is test_prefect_postgres.py's (two labs at once through the same script with --postgres),
which covers everything the single-server run did and more; this file keeps the failing run."""

from __future__ import annotations

import os
import re
import subprocess

import docker
import pytest

from emulator.docker import L_INSTANCE
from tests.conftest import ROOT

pytestmark = pytest.mark.lab

SCRIPT = ROOT / "deployments" / "run-local.sh"
INSTANCE = "swarmlab-deploy-test"  # own instance and subnets: other labs may run on this machine


def run_local(tmp_path, *args: str, timeout: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SAKURACLOUD_"))}
    env.update(SWARMLAB_LAB="deploytest", SWARMLAB_SUBNET="192.168.72.0/24", SWARMLAB_SHARED_SUBNET="198.18.72.0/24",
               SWARMLAB_INSTANCE=INSTANCE, SWARMLAB_RUN_LOCAL_DIR=str(tmp_path / "run-local"),
               SWARMLAB_WATCH_TIMEOUT=str(timeout - 300))
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def leftovers() -> list[str]:
    engine = docker.from_env()
    label = f"{L_INSTANCE}={INSTANCE}"
    return ([c.name for c in engine.containers.list(all=True, filters={"label": label})]
            + [n.name for n in engine.networks.list(filters={"label": label})])


def test_a_failing_step_fails_the_script(tmp_path):
    out = run_local(tmp_path, "--fail", timeout=1200)
    assert out.returncode != 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Failed" in out.stdout + out.stderr
    assert re.search(r"# Cost of `deploytest-\d{8}-\d{4}` \(is1a\): failed", out.stdout), \
        "the run's cost artifact is printed, for the lab of the run's own"
    assert leftovers() == [], "the script stops and purges everything it started"
