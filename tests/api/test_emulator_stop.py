"""Stopping the emulator process as scripts/demo.sh does (SIGTERM): it exits cleanly, keeps its state
unless started with --purge, and says which shared subnet it serves (memory backend)."""

from __future__ import annotations

import requests

from emulator import process


def test_sigterm_keeps_the_state_and_purge_removes_it(tmp_path):
    kept = process.start(tmp_path)
    health = requests.get(kept.admin_url("health"), auth=kept.auth, timeout=5).json()
    assert health["shared_subnet"] == "198.18.0.0/24"
    kept.proc.terminate()
    assert kept.proc.wait(30) == 0
    assert kept.state.exists()

    purged = process.start(tmp_path, "memory", "--purge", "--shared-subnet", "198.18.9.0/24")
    health = requests.get(purged.admin_url("health"), auth=purged.auth, timeout=5).json()
    assert health["shared_subnet"] == "198.18.9.0/24"
    assert purged.state.exists()
    purged.proc.terminate()
    assert purged.proc.wait(30) == 0
    assert not purged.state.exists()
    assert f"instance {purged.instance} purged" in purged.log.read_text()
