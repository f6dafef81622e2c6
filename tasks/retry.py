"""Which failures a task retries: transient ones only (busy API, network blips, a host still booting)."""

from __future__ import annotations

from collections.abc import Callable

from prefect.cache_policies import NO_CACHE

from swarmlab.hosts import HostUnreachable
from swarmlab.sakura.errors import Busy, SakuraConnectionError


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


# The transport already retries what is safe to retry (8 times, ~46-92 s of backoff on a refused connection)
# and raises SakuraConnectionError / Busy when it gives up, or at once for a POST that may have run. A task
# retry re-reads the cloud before it creates anything, so it may retry those too: 3 more attempts after
# about 2, 10 and 30 s (jittered, at most +50 %) bound one task to about 7 min of API outage before the flow fails.
TRANSIENT_RETRY = dict(retries=3, retry_delay_seconds=[2, 10, 30], retry_jitter_factor=0.5, cache_policy=NO_CACHE,
                       retry_condition_fn=retry_on(Busy, SakuraConnectionError))

# A host that is still booting is worth another try; a wrong key or a failing command is not.
SSH_RETRY = dict(retries=2, retry_delay_seconds=[5, 20], cache_policy=NO_CACHE,
                 retry_condition_fn=retry_on(HostUnreachable))
