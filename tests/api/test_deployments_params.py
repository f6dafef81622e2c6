"""prefect.yaml as deployed: the nightly builds the real cloud's seed profile, as a lab of its own, with the
credentials block `swarmlab` and SSH only from the variable swarmlab_admin_cidrs."""

from __future__ import annotations

import os
import subprocess
from ipaddress import IPv4Network

from prefect.client.orchestration import get_client
from prefect.variables import Variable

from swarmlab.spec import LabSpec, seed
from tests.conftest import ROOT

ADMIN = ["203.0.113.7/32"]


def test_nightly_deployment_builds_the_seed_profile_with_the_swarmlab_block(prefect_api, tmp_path):
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "SWARMLAB_HOME": str(ROOT), "PREFECT_CLI_PROMPT": "false"}
    prefect = [str(ROOT / ".venv" / "bin" / "prefect")]
    subprocess.run(prefect + ["work-pool", "create", "swarmlab", "--type", "process", "--overwrite"], env=env,
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    Variable.set("swarmlab_admin_cidrs", ADMIN, overwrite=True)
    out = subprocess.run(prefect + ["deploy", "--all", "--no-prompt"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    with get_client(sync_client=True) as c:
        nightly = c.read_deployment_by_name("build-and-destroy/nightly")
        guard = c.read_deployment_by_name("cost-guard/every-10-minutes")
    params = nightly.parameters
    assert (params["credentials"], params["lab_prefix"], params["adopt"]) == ("swarmlab", "nightly", False)
    spec = LabSpec(**params["spec"])
    assert spec == seed("nightly", admin_cidrs=[IPv4Network(a) for a in ADMIN])
    assert spec.registry.name == spec.name  # so the run's lab name (unique per run) names the registry too
    assert guard.parameters["credentials"] == "swarmlab"
