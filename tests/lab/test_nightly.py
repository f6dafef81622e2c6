"""Issue 11's proof: a full nightly build_and_destroy beside a lab named `swarmlab`, protected for a week,
builds and destroys only a lab of its own; the protected lab is listed before and after, untouched."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

import pytest

from emulator import process

pytestmark = pytest.mark.lab

KEPT_SUBNET, NIGHTLY_SUBNET, SHARED = "192.168.73.0/24", "192.168.74.0/24", "198.18.73.0/24"


def everything(client) -> dict[str, list[tuple[str, str, tuple[str, ...]]]]:
    """Every lab in the zone, with each resource's name, id and tags."""
    from swarmlab.cost import guard

    return {lab: sorted((r.name, r.id, tuple(sorted(r.tags))) for kind in ("servers", "disks", "nfs", "registries",
                                                                         "notes", "switches")
                        for r in getattr(res, kind))
            for lab, res in guard.scan(client).items()}


def test_a_nightly_run_destroys_only_its_own_lab_and_never_the_protected_one(tmp_path, prefect_api):
    from blocks.sakura import SakuraCloudCredentials
    from flows.build_and_destroy import build_and_destroy
    from flows.teardown import teardown_lab
    from swarmlab.cloud import lifecycle as lc
    from swarmlab.cloud import provision as lib
    from swarmlab.spec import local

    emu = process.start(tmp_path, "docker", "--shared-subnet", SHARED, "--delay-scale", "0.2", instance="nightly-emu")
    saved = dict(os.environ)
    os.environ.update(emu.env(), SWARMLAB_STATE_DIR=str(tmp_path / "state"))
    try:
        client = SakuraCloudCredentials.from_env().client("is1a")
        kept = local("swarmlab", KEPT_SUBNET)
        switch_id, tags, _ = lib.ensure_switch(client, kept)
        week = datetime.now(timezone.utc) + timedelta(days=7)
        client.switches.set_tags(switch_id, [*client.switches.get(switch_id).tags, lc.protect_tag(week)])
        lib.ensure_nfs(client, kept, switch_id=switch_id, tags=tags)  # the kept lab's PostgreSQL data
        before = everything(client)
        assert list(before) == ["swarmlab"] and len(before["swarmlab"]) == 2

        build_and_destroy(local("swarmlab", NIGHTLY_SUBNET), drills=False)  # the deployment's defaults

        assert everything(client) == before, "the protected lab is untouched and the run's own lab is gone"
        from prefect.artifacts import Artifact
        report = Artifact.get("nightly-run-cost")
        assert report is not None
        assert re.search(r"# Cost of `nightly-\d{8}-\d{4}` \(is1a\): completed", report.data), report.data[:300]
        assert "Torn down:" in report.data and "data destroyed" in report.data
    finally:
        try:
            teardown_lab("swarmlab", "is1a", force=True)
        finally:
            emu.stop(purge=True)
            os.environ.clear()
            os.environ.update(saved)
