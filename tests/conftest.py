"""Shared fixtures: a real emulator process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
TOKEN, SECRET = "emulator-token", "emulator-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Emulator:
    port: int
    state: Path
    proc: subprocess.Popen
    token: str = TOKEN
    secret: str = SECRET
    zone: str = "is1a"

    @property
    def root(self) -> str:
        """API root without the zone part: `http://127.0.0.1:N/cloud/zone`."""
        return f"http://127.0.0.1:{self.port}/cloud/zone"

    def url(self, path: str, zone: str | None = None) -> str:
        return f"{self.root}/{zone or self.zone}/api/cloud/1.1/{path.lstrip('/')}"

    def faults(self, **faults) -> dict:
        """Set fault injection (busy_rate, delay_scale, fail_disks, ...) on the running emulator."""
        r = requests.put(f"http://127.0.0.1:{self.port}/_emulator/faults", json=faults, timeout=5)
        r.raise_for_status()
        return r.json()


def start_emulator(tmp: Path, backend: str = "memory", *extra: str, state: Path | None = None,
                   port: int | None = None) -> Emulator:
    """Start `python -m emulator` as its own process and wait until it answers."""
    port = port or free_port()
    state = state or tmp / "emulator.sqlite"
    log = open(tmp / f"emulator-{port}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--backend", backend, "--port", str(port), "--state", str(state),
         *extra],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "SAKURA_EMULATOR_TOKEN": TOKEN, "SAKURA_EMULATOR_SECRET": SECRET},
    )
    emu = Emulator(port=port, state=state, proc=proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode}; see {log.name}")
        try:
            requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).raise_for_status()
            return emu
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"emulator did not answer on port {port} within 60 s; see {log.name}")


def stop_emulator(emu: Emulator) -> None:
    emu.proc.terminate()
    try:
        emu.proc.wait(10)
    except subprocess.TimeoutExpired:
        emu.proc.kill()


@pytest.fixture
def emulator(tmp_path):
    """A fresh memory-backend emulator with fast transitions (delay scale 0.05)."""
    emu = start_emulator(tmp_path, "memory", "--delay-scale", "0.05")
    yield emu
    stop_emulator(emu)


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """A throwaway Prefect server (SQLite) for the whole session; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield PREFECT_API_URL.value()


@pytest.fixture
def cloud_env(emulator, monkeypatch, tmp_path):
    """Point the flows' credentials (SAKURACLOUD_* env) and key files at the emulator."""
    monkeypatch.setenv("SAKURACLOUD_API_ROOT", emulator.root)
    monkeypatch.setenv("SAKURACLOUD_ACCESS_TOKEN", emulator.token)
    monkeypatch.setenv("SAKURACLOUD_ACCESS_TOKEN_SECRET", emulator.secret)
    monkeypatch.setenv("SWARMLAB_STATE_DIR", str(tmp_path / "state"))
    return emulator
