"""Which failures a task retries: transient ones only (busy API, network blips, a host still booting)."""

from __future__ import annotations

import requests
from prefect.cache_policies import NO_CACHE

from swarmlab.sakura.errors import Busy


TRANSIENT: tuple[type[BaseException], ...] = (Busy, requests.ConnectionError, requests.Timeout)


def transient_only(task, task_run, state) -> bool:
    """retry_condition_fn: retry only when the task failed with a transient error."""
    try:
        state.result()
    except TRANSIENT:
        return True
    except BaseException:
        return False
    return False


TRANSIENT_RETRY = dict(retries=2, retry_delay_seconds=[2, 10], retry_jitter_factor=0.5,
                       retry_condition_fn=transient_only, cache_policy=NO_CACHE)
