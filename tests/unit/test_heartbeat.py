"""flows.heartbeat: Prefect's flow-run heartbeat, still sent, and its thread gone as soon as the run ends."""

import logging
import threading
from contextlib import contextmanager

import prefect.flow_engine as engine_module

import flows  # noqa: F401  (installs it)
from flows import heartbeat


class FakeEngine:
    """What `_send_heartbeats` reads of a flow run engine."""

    def __init__(self, seconds: int | None = 30):
        self.heartbeat_seconds = seconds
        self.flow_run = None
        self.sent = threading.Event()
        self.logger = logging.getLogger("test.heartbeat")

    def _build_heartbeat_event_template(self):
        return {"prefect.resource.id": "prefect.flow-run.x"}, []

    def _emit_flow_run_heartbeat(self, resource, related):
        self.sent.set()


class NeverWakes:
    """A `time` whose sleep lasts (up to 5 s): Prefect's own loop, sleeping, could not be joined in 2 s."""
    _never = threading.Event()

    @classmethod
    def sleep(cls, seconds):
        cls._never.wait(5)


def run_and_stop(cm) -> threading.Thread:
    """Enter the heartbeat context, wait for the first heartbeat, leave it; the heartbeat thread."""
    before = set(threading.enumerate())
    engine = FakeEngine()
    with cm(engine):
        assert engine.sent.wait(10), "no heartbeat was sent when the flow run started"
        (thread,) = set(threading.enumerate()) - before
    return thread


def test_the_pinned_prefect_gets_the_prompt_heartbeat():
    assert engine_module._send_heartbeats is heartbeat.send_heartbeats, (
        "flows.heartbeat did not replace prefect.flow_engine._send_heartbeats: Prefect changed that function. "
        "If its loop now waits on its stop event, delete flows/heartbeat.py; otherwise port it and update REPLACES")


def test_the_thread_has_ended_when_the_flow_run_ends(monkeypatch):
    monkeypatch.setattr(engine_module, "time", NeverWakes)  # what Prefect's loop sleeps with
    thread = run_and_stop(heartbeat.send_heartbeats)
    assert not thread.is_alive()


def test_no_thread_when_heartbeats_are_off():
    before = threading.active_count()
    with heartbeat.send_heartbeats(FakeEngine(seconds=None)):
        assert threading.active_count() == before


def test_another_prefect_is_left_alone(monkeypatch):
    @contextmanager
    def theirs(engine, join_on_exit=True):
        yield

    monkeypatch.setattr(engine_module, "_send_heartbeats", theirs)
    assert heartbeat.install() is False
    assert engine_module._send_heartbeats is theirs


def test_install_is_idempotent():
    assert heartbeat.install() is True
    assert heartbeat.install() is True
    assert engine_module._send_heartbeats is heartbeat.send_heartbeats
