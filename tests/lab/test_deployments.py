"""deployments/run-local.sh end to end: a local Prefect server, the work pool, blocks, `prefect deploy`,
a worker and build-and-destroy/nightly against the emulator's docker backend; its exit code is the run's.

A run that completes is test_prefect_postgres.py's (two labs at once through the same script with --postgres),
which covers everything the single-server run did and more; this file keeps the failing run."""

from __future__ import annotations

import re

import pytest

from tests.lab.run_local import leftovers, run_local

pytestmark = pytest.mark.lab

INSTANCE = "swarmlab-deploy-test"  # own instance and subnets: other labs may run on this machine


def test_a_failing_step_fails_the_script(tmp_path):
    out = run_local(tmp_path, "--fail", timeout=1200, LAB="deploytest", SUBNET="192.168.72.0/24",
                    SHARED_SUBNET="198.18.72.0/24", INSTANCE=INSTANCE)
    assert out.returncode != 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Failed" in out.stdout + out.stderr
    assert re.search(r"# Cost of `deploytest-\d{8}-\d{4}` \(is1a\): failed", out.stdout), \
        "the run's cost artifact is printed, for the lab of the run's own"
    assert leftovers(INSTANCE) == [], "the script stops and purges everything it started"
    logs = list((tmp_path / "run-local").glob("worker-*.log"))
    assert logs and all(re.search(r"Worker '[^']+' stopped!", p.read_text()) for p in logs), \
        "the worker stopped on TERM by itself, not killed"
