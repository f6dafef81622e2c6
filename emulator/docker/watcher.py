"""A thread on the daemon's event stream that reports every server container of the instance that dies
(`on_die(server_id, exit_code, container_id)`), reconnecting when the stream breaks."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .common import L_INSTANCE, L_KIND, L_RESOURCE, Scope

log = logging.getLogger(__name__)


class DieWatcher:
    def __init__(self, scope: Scope, on_die: Callable[[str, str | None, str | None], None]) -> None:
        self.scope = scope
        self.on_die = on_die
        self._stop = threading.Event()
        self._events = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.scope.instance}-docker-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        ev = self._events
        if ev is not None:
            try:
                ev.close()
            except Exception:  # noqa: BLE001 - closing a half-read stream may raise anything
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        filters = {"type": "container", "event": "die",
                   "label": [f"{L_INSTANCE}={self.scope.instance}", f"{L_KIND}=server"]}
        while not self._stop.is_set():
            try:
                self._events = self.scope.client.events(decode=True, filters=filters)
                for ev in self._events:
                    attrs = (ev.get("Actor") or {}).get("Attributes") or {}
                    rid = attrs.get(L_RESOURCE)
                    if rid:
                        self.on_die(rid, attrs.get("exitCode"), ev.get("id"))
            except Exception:  # noqa: BLE001 - daemon restarts, closed stream: retry unless stopping
                if self._stop.is_set():
                    return
                log.debug("docker events stream broke; reconnecting", exc_info=True)
                time.sleep(1)
