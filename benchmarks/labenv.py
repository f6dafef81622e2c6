"""A lab on the emulator's docker backend for a benchmark: names and subnets of its own, so benchmarks can
run beside each other and the tests; the emulator instance is purged at the end, so nothing is left."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker

from benchmarks import warm_prefect
from emulator import images, process
from swarmlab.spec import LabSpec, local

DELAY_SCALE = "0.2"


@contextmanager
def lab(tmp: str, name: str, n: int, *, timing: str = "local", delay_scale: str = DELAY_SCALE) -> Iterator[LabSpec]:
    """An emulator (instance `swarmlab-bench-<name>`, subnets 192.168.<n>.0/24 and 198.18.<n>.0/24, `timing`
    × `delay_scale`) with the lab images built; yields the lab's spec. The benchmark provisions and tears down
    the lab itself."""
    images.build_all(docker.from_env(timeout=900))
    emu = process.start(Path(tmp), "docker", "--shared-subnet", f"198.18.{n}.0/24", "--timing", timing,
                        "--delay-scale", delay_scale, instance=instance(name),
                        state=Path(tmp) / f"emulator-{name}.sqlite")
    os.environ.update(emu.env())
    try:
        warm_prefect()
        yield local(name, f"192.168.{n}.0/24")
    finally:
        emu.stop(purge=True)


def instance(name: str) -> str:
    """The emulator instance of the benchmark lab `name` (its containers carry it as a label)."""
    return f"swarmlab-bench-{name}"


def emulator_note() -> str:
    return f"docker backend, delay scale {DELAY_SCALE}"


def timed(fn, *args, **kwargs):
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, round(time.monotonic() - started, 2)
