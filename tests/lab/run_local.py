"""Run deployments/run-local.sh as a test does (own lab, subnets and emulator instance, no inherited Prefect or
SAKURA settings) and list what an emulator instance left in Docker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import docker

from emulator.docker import L_INSTANCE
from tests.conftest import ROOT

SCRIPT = ROOT / "deployments" / "run-local.sh"


def run_local(tmp_path: Path, *args: str, timeout: int, **env: str) -> subprocess.CompletedProcess:
    """run-local.sh with `args`, SWARMLAB_* settings `env` (names without the prefix), its state under tmp_path."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SAKURACLOUD_"))}
    clean.update({f"SWARMLAB_{k}": v for k, v in env.items()}, SWARMLAB_RUN_LOCAL_DIR=str(tmp_path / "run-local"),
                 SWARMLAB_WATCH_TIMEOUT=str(max(60, timeout - 300)))
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=timeout)


def leftovers(instance: str) -> list[str]:
    """The containers and networks emulator instance `instance` still has."""
    engine = docker.from_env()
    label = f"{L_INSTANCE}={instance}"
    return ([c.name for c in engine.containers.list(all=True, filters={"label": label})]
            + [n.name for n in engine.networks.list(filters={"label": label})])
