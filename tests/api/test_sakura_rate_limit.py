"""One Prefect global rate limit for the SAKURA API: a flow run's requests take slots of `sakura-api`."""

from __future__ import annotations

import logging
import time

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.exceptions import ObjectNotFound

from flows.ratelimit import SharedPace, ensure_rate_limit, limit_name
from flows.session import LabSession
from swarmlab.spec import local

REQUESTS = 6


@flow
def list_switches(n: int) -> tuple[bool, float]:
    with LabSession(local("rl"), None, logging.getLogger("test")) as lab:
        t0 = time.monotonic()
        for _ in range(n):
            lab.client.switches.find(name="rl-switch")
        return isinstance(lab.client.transport.pace, SharedPace), time.monotonic() - t0


def set_limit(name: str, limit: int, decay: float) -> None:
    with get_client(sync_client=True) as c:
        c.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=limit, slot_decay_per_second=decay))


def test_requests_of_a_flow_run_are_paced_by_the_shared_limit(cloud_env, prefect_api):
    name = limit_name(cloud_env.root)
    assert name == f"sakura-api-127.0.0.1-{cloud_env.port}"  # the emulator's own limit, not SAKURA's sakura-api
    with get_client(sync_client=True) as c:
        try:
            c.delete_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            pass
    assert ensure_rate_limit(name, per_second=100) is True  # 100/s: cloud_env's SAKURACLOUD_RATE_LIMIT
    assert ensure_rate_limit(name) is False  # then left as it is
    with get_client(sync_client=True) as c:
        made = c.read_global_concurrency_limit_by_name(name)
    assert (made.limit, made.slot_decay_per_second) == (100, 100)

    shared, fast = list_switches(REQUESTS)  # 100/s shared and per process: no waiting to speak of
    assert shared
    set_limit(name, 1, 2.0)  # now one request per 0.5 s across every run on the server
    try:
        _, slow = list_switches(REQUESTS)
    finally:
        set_limit(name, 100, 100.0)
    # (REQUESTS - 1) waits of 0.5 s on top of what the same requests took at 100/s
    assert slow - fast >= (REQUESTS - 1) * 0.5 * 0.6, f"{slow:.2f} s vs {fast:.2f} s: not paced by {name}"


def test_a_limit_deleted_mid_run_leaves_the_run_to_its_own_pacing(prefect_api, caplog):
    name = "sakura-api-deleted-mid-run"
    assert ensure_rate_limit(name, per_second=5) is True
    pace = SharedPace(name, chunk=5, per_second=5)
    pace()  # five slots taken
    with get_client(sync_client=True) as c:
        c.delete_global_concurrency_limit_by_name(name)
    with caplog.at_level(logging.WARNING, logger="swarmlab.flows"):
        for _ in range(8):
            pace()
    assert not pace.active
    warned = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warned) == 1 and "paces its SAKURA API calls on its own" in warned[0], warned
