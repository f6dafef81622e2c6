"""One Prefect global rate limit for the SAKURA API: a flow run's requests take slots of `sakura-api`."""

from __future__ import annotations

import logging
import time

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.exceptions import ObjectNotFound

from flows.ratelimit import LIMIT, SharedPace, ensure_rate_limit
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


def set_limit(limit: int, decay: float) -> None:
    with get_client(sync_client=True) as c:
        c.update_global_concurrency_limit(LIMIT, GlobalConcurrencyLimitUpdate(limit=limit, slot_decay_per_second=decay))


def test_requests_of_a_flow_run_are_paced_by_the_shared_limit(cloud_env, prefect_api):
    with get_client(sync_client=True) as c:
        try:
            c.delete_global_concurrency_limit_by_name(LIMIT)
        except ObjectNotFound:
            pass
    assert ensure_rate_limit(per_second=50) is True  # 50/s: cloud_env's SAKURACLOUD_RATE_LIMIT
    assert ensure_rate_limit() is False  # then left as it is
    with get_client(sync_client=True) as c:
        made = c.read_global_concurrency_limit_by_name(LIMIT)
    assert (made.limit, made.slot_decay_per_second) == (50, 50)

    shared, fast = list_switches(REQUESTS)  # 50/s shared and per process: no waiting to speak of
    assert shared
    set_limit(1, 2.0)  # now one request per 0.5 s across every run on the server
    try:
        _, slow = list_switches(REQUESTS)
    finally:
        set_limit(50, 50.0)
    # (REQUESTS - 1) waits of 0.5 s on top of what the same requests took at 10/s
    assert slow - fast >= (REQUESTS - 1) * 0.5 * 0.6, f"{slow:.2f} s vs {fast:.2f} s: not paced by {LIMIT}"
