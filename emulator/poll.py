"""The emulator's one bounded polling loop (the emulator does not import swarmlab, which has its own)."""

from __future__ import annotations

import time
from typing import Callable


def poll_until(probe: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Call `probe` until it returns True (→ True) or `timeout` seconds have passed (→ False); it runs at least
    once, and an exception from it ends the wait."""
    deadline = time.monotonic() + timeout
    while True:
        if probe():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
