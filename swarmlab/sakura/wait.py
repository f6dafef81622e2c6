"""The one polling loop every waiter in swarmlab uses (`Poll`), and the API resources' waiter on it (`wait`).

The SAKURA API is the lowest layer of the library, so every other package may import this module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from .errors import NotFound, ResourceFailed, WaitTimeout

__all__ = ["Deadline", "Poll", "wait"]

log = logging.getLogger("swarmlab.wait")
PROGRESS_S = 10.0   # an unchanged wait is logged again this often
T = TypeVar("T")


class Deadline:
    """`timeout_s` from now, on `clock`: what every bounded loop measures itself against."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic):
        self.timeout_s, self.clock = timeout_s, clock
        self.started = clock()
        self.at = self.started + timeout_s

    def remaining(self) -> float:
        return self.at - self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    @property
    def passed(self) -> bool:
        return self.remaining() <= 0


class Poll:
    """Attempts at `what` until `timeout_s` has passed: `for attempt in Poll(...)`, return from the loop body
    when done; when the loop ends the deadline has passed and the caller raises its own typed error.

    Every attempt runs at least once. Sleeps `interval_s` between attempts (from `first_interval_s`, growing
    by `growth` each time up to `interval_s`), never past the deadline. Logs at INFO the start (once there is
    something to wait for: a first attempt that succeeds without a note logs nothing), every
    change of what `attempt.note(state)` reports, and the unchanged note again every `progress_s`, each
    with the seconds waited so far ("waiting for 7 servers: 4 up, 3 booting, 35 s"); `attempt.last` is the
    latest note.
    """

    def __init__(self, what: str, timeout_s: float, *, interval_s: float = 1.0,
                 first_interval_s: float | None = None, growth: float = 1.0, sleep_first: bool = False,
                 progress_s: float = PROGRESS_S, logger: logging.Logger = log,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.what, self.timeout_s = what, timeout_s
        self.interval_s, self.growth, self.sleep_first = interval_s, growth, sleep_first
        self.first_interval_s = interval_s if first_interval_s is None else min(first_interval_s, interval_s)
        self.log, self.clock, self.sleep = logger, clock, sleep
        self.progress_s = progress_s
        self.last = ""
        self.logged_at = 0.0
        self.attempts = 0
        self._announced = False
        self.deadline = Deadline(timeout_s, clock)

    def __iter__(self) -> Iterator[Poll]:
        self.deadline = Deadline(self.timeout_s, self.clock)
        self.logged_at = self.deadline.started
        self._announced = False
        interval = self.first_interval_s
        if self.sleep_first:
            self._announce()
            self.sleep(min(interval, self.timeout_s))
        while True:
            self.attempts += 1
            yield self
            remaining = self.remaining()
            if remaining <= 0:
                return
            self._announce()
            self.sleep(min(interval, remaining))
            interval = min(interval * self.growth, self.interval_s)

    def remaining(self) -> float:
        return self.deadline.remaining()

    def elapsed(self) -> float:
        return self.deadline.elapsed()

    def _announce(self) -> None:
        if not self._announced:
            self._announced = True
            self.log.info("waiting for %s (up to %g s)", self.what, self.timeout_s)

    def note(self, state: str) -> None:
        """Record the state seen by this attempt; a change, or `progress_s` without one, is logged at INFO."""
        self._announce()
        now = self.clock()
        if state != self.last or now - self.logged_at >= self.progress_s:
            self.log.info("waiting for %s: %s, %.0f s", self.what, state, self.elapsed())
            self.logged_at = now
        self.last = state


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
    misses = 0
    attempts = Poll(f"{what} to be {wanted}", timeout_s, interval_s=poll_interval_s, first_interval_s=0.2,
                    growth=1.5, clock=clock, sleep=sleep)
    for attempt in attempts:
        try:
            obj = fetch()
        except NotFound:
            misses += 1
            if misses > tolerate_not_found:
                raise
            attempt.note("not found (404)")
            continue
        misses = 0
        attempt.note(state(obj))
        if failed(obj):
            raise ResourceFailed(what, attempt.last)
        if done(obj):
            return obj
    raise WaitTimeout(what, wanted, attempts.last or "not read yet", timeout_s)
