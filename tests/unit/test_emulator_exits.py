"""The docker backend's container-exit lock: one exit at a time on this machine, across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from emulator.docker import common


def _other_process_can_lock(path) -> bool:
    code = ("import fcntl, sys\n"
            f"f = open({str(path)!r}, 'a')\n"
            "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(1)\n")
    return subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_exit_lock_excludes_other_processes_and_threads_and_is_reentrant(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "EXITS_LOCK", tmp_path / "exits.lock")
    order = []

    def other_thread():
        with common.container_exits():
            order.append("other")

    with common.container_exits():
        with common.container_exits():      # re-entrant: a removal inside a stop does not wait on itself
            assert not _other_process_can_lock(tmp_path / "exits.lock")
        t = threading.Thread(target=other_thread)
        t.start()
        time.sleep(0.2)
        order.append("held")
    t.join(timeout=5)
    assert order == ["held", "other"]
    assert _other_process_can_lock(tmp_path / "exits.lock")
