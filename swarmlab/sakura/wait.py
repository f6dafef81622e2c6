"""The one polling loop every waiter uses."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from .errors import NotFound, ResourceFailed, WaitTimeout

__all__ = ["wait"]

log = logging.getLogger("swarmlab.sakura")
T = TypeVar("T")


def wait(fetch: Callable[[], T], done: Callable[[T], bool], failed: Callable[[T], bool],
         timeout_s: float, what: str, *, wanted: str = "ready", poll_interval_s: float = 2.0,
         state: Callable[[T], str] = repr, tolerate_not_found: int = 0,
         clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep) -> T:
    """Poll `fetch()` until `done(obj)`; return that object.

    Polls start at 0.2 s and grow by half each time up to `poll_interval_s`, so quick transitions
    are seen at once and long ones cost few requests.

    Raises `ResourceFailed` at once when `failed(obj)`, and `WaitTimeout` (naming `what` and the
    last state, as rendered by `state`) after `timeout_s`. Up to `tolerate_not_found` 404s in a row
    are treated as "not visible yet" (appliances can 404 right after create).
    """
    deadline = clock() + timeout_s
    last = "not read yet"
    misses = 0
    interval = min(0.2, poll_interval_s)
    while True:
        try:
            obj = fetch()
        except NotFound:
            misses += 1
            if misses > tolerate_not_found:
                raise
            last = "not found (404)"
        else:
            misses = 0
            last = state(obj)
            if failed(obj):
                raise ResourceFailed(what, last)
            if done(obj):
                return obj
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(what, wanted, last, timeout_s)
        log.debug("waiting for %s to be %s: %s", what, wanted, last)
        sleep(min(interval, remaining))
        interval = min(interval * 1.5, poll_interval_s)
