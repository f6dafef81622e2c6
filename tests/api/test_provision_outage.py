"""An API outage mid-provision: the emulator process dies and comes back on the same state; the same run converges."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.provision import provision
from flows.teardown import teardown_lab
from swarmlab.spec import local
from tests.api.test_provision_flow import EXPECTED, all_up, listing
from tests.conftest import start_emulator, stop_emulator
from swarmlab.sakura.wait import Deadline


def retried_tasks(flow_run_id) -> dict[str, int]:
    """Task runs of a flow run that ran more than once, name → run count."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {r.name: r.run_count for r in runs if r.run_count > 1}


def test_emulator_killed_mid_provision_and_restarted_the_same_run_converges(cloud_env, prefect_api, monkeypatch,
                                                                           tmp_path):
    # the transport gives up within ~3 s (3 attempts), so the 8 s outage is carried by the task retries
    monkeypatch.setenv("SAKURACLOUD_RETRY_MAX", "2")
    cloud_env.faults(delay_scale=2.0)  # disks copy for 4 s: slow enough to stop the API while servers are built
    spec = local("lab-g")
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(state=provision(spec, return_state=True)))
    runner.start()
    restarted = None
    try:
        deadline = Deadline(60)
        while listing(cloud_env, "lab-g")["server"] < 3:
            assert runner.is_alive(), f"provision ended before the outage: {outcome}"
            assert not deadline.passed, "provision never started creating servers"
            time.sleep(0.1)
        os.kill(cloud_env.proc.pid, signal.SIGKILL)
        cloud_env.proc.wait()
        time.sleep(8)  # longer than the transport's own retries can span, so a task must see the outage
        restarted = start_emulator(tmp_path, "memory", "--delay-scale", "0.05", state=cloud_env.state,
                                   port=cloud_env.port)
        runner.join(180)
        assert not runner.is_alive(), "provision did not finish within 180 s of the restart"
        state = outcome["state"]
        assert state.is_completed(), f"the run did not survive the outage: {state.message}"
        retried = retried_tasks(state.state_details.flow_run_id)
        assert retried, "no task was retried: the outage was not seen by any task"
        inv = state.result()
        assert all(s.status == "up" for s in inv.servers)
        assert listing(restarted, "lab-g") == EXPECTED, "duplicates or missing resources after the outage"
        assert all_up(restarted, "lab-g")

        again = provision(spec)
        assert again.created == [], f"a re-run after the outage changed {again.created}"
        assert [s.id for s in again.servers] == [s.id for s in inv.servers]
        teardown_lab("lab-g", spec.zone)
        assert listing(restarted, "lab-g") == Counter()
    finally:
        runner.join(5)
        if restarted is not None:
            stop_emulator(restarted)
