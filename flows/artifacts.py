"""The artifacts flows publish about a lab: its inventory and its swarm's nodes (one shape each); `Writer`, which
writes artifacts off the flow's path."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact

from swarmlab.cloud.inventory import Inventory
from swarmlab.swarm.facts import NodeRow


def inventory_table(inventory: Inventory, description: str) -> None:
    create_table_artifact(
        key=f"{inventory.lab}-inventory",
        table=[{"name": s.name, "role": s.role.value, "id": s.id, "address": s.address, "private_ip": s.private_ip,
                "status": s.status} for s in inventory.servers],
        description=description)


def node_table(lab: str, rows: list[NodeRow]) -> None:
    create_table_artifact(
        key=f"{lab}-swarm-nodes",
        table=[{"hostname": r.hostname, "status": r.status, "availability": r.availability,
                "manager status": r.manager_status, "engine": r.engine_version} for r in rows],
        description=f"docker node ls on {lab}")


class Writer:
    """Artifact writes run in order on one background thread, in the caller's run context, so a flow does not
    wait for the Prefect API at each stage. Leaving the `with` block waits for them, and raises the first error
    unless the block itself raised."""

    def __init__(self, name: str):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"artifacts-{name}")
        self._done: list[Future] = []

    def submit(self, fn: Callable[..., Any], *args, **kwargs) -> Future:
        fut = self._pool.submit(contextvars.copy_context().run, fn, *args, **kwargs)
        self._done.append(fut)
        return fut

    def progress(self, key: str, description: str) -> Callable[[float, str], None]:
        """A progress artifact at 0 %; returns `update(percent, description)`. An update not yet sent when a
        newer one comes is dropped: a burst of stages is one write, of the last."""
        created = self.submit(create_progress_artifact, 0.0, key=key, description=description)
        newest: list[tuple[float, str]] = []  # the update waiting to be sent, if any
        lock = threading.Lock()

        def send() -> None:
            with lock:
                percent, text = newest.pop()
            update_progress_artifact(created.result(), percent, description=text)

        def update(percent: float, text: str) -> None:
            with lock:
                waiting = bool(newest)
                newest[:] = [(percent, text)]
            if not waiting:
                self.submit(send)
        return update

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type, *_) -> None:
        self._pool.shutdown(wait=True)
        if exc_type is None:
            for fut in self._done:
                fut.result()
