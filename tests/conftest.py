"""Shared fixtures: a real emulator process on loopback, a throwaway Prefect server."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

import pytest

from emulator import process
from emulator.process import Emulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN, SECRET = process.TOKEN, process.SECRET


def start_emulator(tmp: Path, backend: str = "memory", *extra: str, state: Path | None = None,
                   port: int | None = None) -> Emulator:
    return process.start(tmp, backend, *extra, state=state, port=port)


def stop_emulator(emu: Emulator) -> None:
    emu.stop()


@pytest.fixture
def emulator(tmp_path):
    """A fresh memory-backend emulator with fast transitions (delay scale 0.05)."""
    emu = start_emulator(tmp_path, "memory", "--delay-scale", "0.05")
    yield emu
    stop_emulator(emu)


@pytest.fixture(scope="session")
def prefect_api():
    """A throwaway Prefect server (SQLite) for the whole session; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield PREFECT_API_URL.value()


@pytest.fixture
def cloud_env(emulator, monkeypatch, tmp_path):
    """Point the flows' credentials (SAKURACLOUD_* env) and key files at the emulator."""
    for k, v in emulator.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SWARMLAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SAKURACLOUD_PROFILE_DIR", str(tmp_path / "no-usacloud"))  # a developer's profile stays out
    return emulator
