"""A lab on the emulator's docker backend for benchmarks: fixed names so a crashed run is cleaned next time."""

from __future__ import annotations

import os
import time
from pathlib import Path

from emulator import process
from swarmlab.spec import local

LAB, SUBNET, SHARED, INSTANCE = "bench", "192.168.1.0/24", "198.18.9.0/24", "swarmlab-bench"
DELAY_SCALE = "0.2"


def start(tmp: str) -> process.Emulator:
    emu = process.start(Path(tmp), "docker", "--shared-subnet", SHARED, "--delay-scale", DELAY_SCALE,
                        instance=INSTANCE, state=Path(tmp) / "emulator.sqlite")
    os.environ.update(emu.env())
    return emu


def spec():
    return local(LAB, SUBNET)


def timed(fn, *args, **kwargs):
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, round(time.monotonic() - started, 2)
