"""Prefect 3.9's flow-run heartbeat, stopped as soon as the flow run ends.

Prefect's heartbeat thread sleeps in one-second steps, and the sync engine joins it when a flow run ends, so
every flow run ends up to 1 s late, on a one-second grid counted from its start (`build_lab` is two flow runs).
`install()` puts in the same context manager with one change: the thread waits on its stop event instead of
sleeping, so the join returns at once. Heartbeats are still sent, at the same frequency, so Prefect's zombie-run
detection works as before. It replaces only the function it was written against (the pinned Prefect's, checked by
a hash of its source); any other Prefect is left alone. Drop this module once Prefect's loop waits on its event.
"""

from __future__ import annotations

import contextvars
import hashlib
import inspect
import threading
from contextlib import contextmanager
from typing import Any, Generator

import prefect.flow_engine as engine_module

#: sha256 of `inspect.getsource(prefect.flow_engine._send_heartbeats)` in prefect 3.9.1
REPLACES = "83e152cb73a04e977ca181188e99b3d583c894892b5456043b2eb51e45dbe996"


@contextmanager
def send_heartbeats(engine: Any, join_on_exit: bool = True) -> Generator[None, None, None]:
    """Prefect's `_send_heartbeats`, its thread waiting on the stop event instead of sleeping in 1 s steps."""
    heartbeat_seconds = engine.heartbeat_seconds
    if heartbeat_seconds is None:
        yield
        return
    heartbeat_seconds = max(heartbeat_seconds, engine_module.MINIMUM_HEARTBEAT_INTERVAL)
    resource, related = engine._build_heartbeat_event_template()
    stop_event = threading.Event()

    def heartbeat_loop() -> None:
        while not stop_event.is_set():
            if engine.flow_run and engine.flow_run.state and engine.flow_run.state.is_final():
                engine.logger.debug("Flow run in terminal state, stopping heartbeat")
                return
            try:
                engine._emit_flow_run_heartbeat(resource, related)
            except Exception:
                engine.logger.debug("Failed to emit heartbeat", exc_info=True)
            stop_event.wait(heartbeat_seconds)

    # the thread sees the caller's settings context (PREFECT_API_URL), as in Prefect's own
    thread = threading.Thread(target=contextvars.copy_context().run, args=(heartbeat_loop,), daemon=True)
    thread.start()
    engine.logger.debug("Started flow run heartbeat context")
    try:
        yield
    finally:
        stop_event.set()
        if join_on_exit:
            thread.join(timeout=2)
        engine.logger.debug("Stopped flow run heartbeat context")


def source_hash(fn: Any) -> str:
    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()


def install() -> bool:
    """Replace Prefect's heartbeat context manager if it is the one this was written against (idempotent);
    returns whether ours is in place."""
    current = engine_module._send_heartbeats
    if current is send_heartbeats:
        return True
    try:
        if source_hash(current) != REPLACES:
            return False
    except (OSError, TypeError):  # no source to compare (a frozen or compiled install)
        return False
    engine_module._send_heartbeats = send_heartbeats
    return True
