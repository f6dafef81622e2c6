"""Poll's INFO progress: the start (when there is a wait), every change, and an unchanged wait again every
progress_s, with seconds."""

from __future__ import annotations

import logging

from swarmlab.sakura.wait import Poll


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_changes_and_a_steady_state_every_ten_seconds_are_logged_with_elapsed_time(caplog):
    clock = Clock()
    notes = iter(["4 up, 3 booting"] * 25 + ["7 up"])
    caplog.set_level(logging.INFO, logger="swarmlab.wait")
    for attempt in Poll("7 servers", 60, interval_s=1, clock=clock, sleep=clock.sleep):
        state = next(notes)
        attempt.note(state)
        if state == "7 up":
            break
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "waiting for 7 servers (up to 60 s)"
    assert lines[1:] == ["waiting for 7 servers: 4 up, 3 booting, 0 s",
                         "waiting for 7 servers: 4 up, 3 booting, 10 s",
                         "waiting for 7 servers: 4 up, 3 booting, 20 s",
                         "waiting for 7 servers: 7 up, 25 s"]
    assert all(r.levelno == logging.INFO for r in caplog.records)


def test_a_quick_wait_logs_only_its_start_and_its_changes(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO, logger="swarmlab.wait")
    for n, attempt in enumerate(Poll("x", 60, interval_s=1, clock=clock, sleep=clock.sleep)):
        attempt.note("a" if n < 3 else "b")
        if n == 3:
            break
    assert [r.getMessage() for r in caplog.records] == ["waiting for x (up to 60 s)", "waiting for x: a, 0 s",
                                                        "waiting for x: b, 3 s"]


def test_what_is_there_at_once_logs_nothing_and_a_wait_without_notes_logs_its_start(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO, logger="swarmlab.wait")
    for _attempt in Poll("x", 60, interval_s=1, clock=clock, sleep=clock.sleep):
        break
    assert caplog.records == []
    for n, _attempt in enumerate(Poll("y", 60, interval_s=1, clock=clock, sleep=clock.sleep)):
        if n == 2:
            break
    assert [r.getMessage() for r in caplog.records] == ["waiting for y (up to 60 s)"]


def test_the_servers_note_counts_up_booting_and_failed():
    from flows.provision import server_progress

    assert server_progress(4, 0, 7) == "4 up, 3 creating or booting"
    assert server_progress(7, 1, 7) == "6 up, 0 creating or booting, 1 failed"
