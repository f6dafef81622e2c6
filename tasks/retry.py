"""Which failures a task retries: transient ones only (busy API, network blips, a host still booting)."""

from __future__ import annotations

from collections.abc import Callable

import requests
from prefect.cache_policies import NO_CACHE

from swarmlab.hosts import HostUnreachable
from swarmlab.sakura.errors import Busy


def retry_on(*exc_types: type[BaseException]) -> Callable:
    """A retry_condition_fn: retry only when the task failed with one of `exc_types`."""
    def condition(task, task_run, state) -> bool:
        try:
            state.result()
        except exc_types:
            return True
        except BaseException:
            return False
        return False
    return condition


TRANSIENT_RETRY = dict(retries=2, retry_delay_seconds=[2, 10], retry_jitter_factor=0.5, cache_policy=NO_CACHE,
                       retry_condition_fn=retry_on(Busy, requests.ConnectionError, requests.Timeout))

# A host that is still booting is worth another try; a wrong key or a failing command is not.
SSH_RETRY = dict(retries=2, retry_delay_seconds=[5, 20], cache_policy=NO_CACHE,
                 retry_condition_fn=retry_on(HostUnreachable))
