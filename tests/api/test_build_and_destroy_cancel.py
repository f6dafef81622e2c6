"""build_and_destroy served by a Prefect runner, cancelled through the Prefect API mid-provision: its
on_cancellation hook tears down the lab the run created and says so in the run's cost artifact."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from prefect.states import Cancelling

from swarmlab.spec import run_lab_name
from tests.api.test_provision_flow import listing
from tests.conftest import ROOT
from swarmlab.sakura.wait import Deadline

SERVE = ("from flows.build_and_destroy import build_and_destroy\n"
         "build_and_destroy.serve(name='cancel-test', print_starting_message=False)")


def wait_until(what: str, check, timeout_s: float, every_s: float = 0.5):
    deadline = Deadline(timeout_s)
    while True:
        value = check()
        if value:
            return value
        assert not deadline.passed, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(every_s)


def test_a_run_cancelled_mid_build_tears_down_the_lab_it_created(cloud_env, prefect_api, tmp_path):
    cloud_env.faults(delay_scale=1.0)  # provision takes ~10 s: time to cancel it half-way
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_RUNNER_POLL_FREQUENCY": "1",
           "PYTHONPATH": str(ROOT)}  # the runner starts each run in a directory of its own
    log = tmp_path / "runner.log"  # kept: tmp_path is pytest's
    print("runner log:", log)
    runner = subprocess.Popen([sys.executable, "-c", SERVE], cwd=ROOT, env=env, stdout=open(log, "wb"),
                              stderr=subprocess.STDOUT)
    try:
        with get_client(sync_client=True) as client:
            def deployment():
                try:
                    return client.read_deployment_by_name("build-and-destroy/cancel-test")
                except Exception:  # noqa: BLE001 - not registered yet
                    assert runner.poll() is None, log.read_text()[-3000:]
                    return None

            dep = wait_until("the served deployment", deployment, 120)
            run = client.create_flow_run_from_deployment(dep.id, parameters={"lab_prefix": "cx", "drills": False})
            lab = run_lab_name("cx", run.expected_start_time)

            def building():
                state = client.read_flow_run(run.id).state
                assert not state.is_final(), f"the run ended before it was cancelled: {state}\n{log.read_text()[-3000:]}"
                return listing(cloud_env, lab)["server"] >= 2

            wait_until(f"provision of {lab} to create servers", building, 120, every_s=0.2)
            client.set_flow_run_state(run.id, Cancelling(), force=True)
            ended = wait_until("the run to end", lambda: (r := client.read_flow_run(run.id)).state.is_final() and r,
                               240, every_s=1)
            assert ended.state.is_cancelled(), f"{ended.state}\n{log.read_text()[-3000:]}"
            assert ended.name == f"build-and-destroy-{lab}"
            assert f"swarmlab-created:{lab}" in ended.tags
            assert listing(cloud_env, lab) == Counter(), f"left behind: {listing(cloud_env, lab)}\n{log.read_text()[-4000:]}"
            artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["cx-run-cost"])),
                                              sort=ArtifactSort.CREATED_DESC)
            assert artifacts, "no cx-run-cost artifact"
            assert "on_cancellation hook" in artifacts[0].data and "resources deleted" in artifacts[0].data, \
                artifacts[0].data
    finally:
        runner.terminate()
        try:
            runner.wait(30)
        except subprocess.TimeoutExpired:
            runner.kill()


HOLD_IN_RUN = ("import sys, time\nfrom prefect import flow\nfrom prefect.runtime import flow_run\n"
               "from flows.lock import lab_lock\n"
               "@flow\ndef hold(lab: str):\n    with lab_lock(lab):\n"
               "        print('held', flow_run.id, flush=True)\n        time.sleep(600)\n"
               "hold(sys.argv[1])")


def test_a_dead_runs_lock_is_freed_for_its_hook_and_no_other_runs(prefect_api, tmp_path):
    from flows.lock import free_if_held_by, lab_lock

    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    proc = subprocess.Popen([sys.executable, "-c", HOLD_IN_RUN, "lk-h"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=open(tmp_path / "holder.log", "wb"), text=True)
    try:
        line = proc.stdout.readline().split()
        assert line[:1] == ["held"], (tmp_path / "holder.log").read_text()[-2000:]
        holder = line[1]
        proc.kill()  # killed holding the lock, as a cancelled run's process past its grace period
        proc.wait()
        assert not free_if_held_by("lk-h", "00000000-0000-0000-0000-000000000000"), "freed another run's lock"
        assert free_if_held_by("lk-h", holder)
        t0 = time.monotonic()
        with lab_lock("lk-h", timeout_s=10):
            assert time.monotonic() - t0 < 10
    finally:
        proc.kill()
