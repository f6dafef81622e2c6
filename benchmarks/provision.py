"""provision → no-op re-run → teardown against the memory emulator with its default delays."""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchmarks import warm_prefect
from emulator import process
from swarmlab.spec import local


def run(tmp: str) -> dict:
    emu = process.start(Path(tmp), "memory")
    os.environ.update(emu.env())
    from flows.provision import provision
    from flows.teardown import teardown_lab

    try:
        warm_prefect()
        spec = local("bench-provision")
        t0 = time.monotonic()
        provision(spec)
        t1 = time.monotonic()
        again = provision(spec)
        t2 = time.monotonic()
        teardown_lab(spec.name, spec.zone)
        t3 = time.monotonic()
    finally:
        emu.stop()
    return {"benchmark": "provision", "provision_s": round(t1 - t0, 2), "noop_s": round(t2 - t1, 2),
            "teardown_s": round(t3 - t2, 2), "noop_changed": again.created,
            "emulator": "memory backend, default delays"}
