"""One writer per lab: provision, bootstrap, build, exercise and teardown of one lab never run at once.

The lock is a Prefect global concurrency limit `swarmlab-lab-<lab>` of 1 slot, so it holds across processes
and workers of one Prefect server. It is reentrant within one flow run tree: build_lab holds it and calls
provision, which then does not wait for itself.

A holder that dies without releasing must not block the lab forever. The slot is leased (LEASE_S; a server's
repossessor frees an expired lease) and, because an ephemeral server (a
`python -m flows ...` run or the test harness without `prefect server start`) runs no repossessor, the
holder's keeper thread, which renews the lease every BEAT_S, also writes a heartbeat to the Prefect variable
`swarmlab-lab-<lab>` (who holds it, when it last beat). A waiter that sees no heartbeat for STALE_S (longer
than a lease plus the repossessor's loop) takes the lock over. The variable outlives the release: it then names
the last holder, is read only while the slot is taken, and the next holder overwrites it.

The lease, its renewals, the heartbeat and the release go out once each (`flows.prefect_http`), and a busy
(503) server is asked again after BUSY_S: the Prefect client would sleep 2 s, then 4 s, on every flow run's path.
"""

from __future__ import annotations

import contextvars
import logging
import math
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.variables import Variable

from flows.prefect_http import BUSY_S, is_busy, send_once, when_free
from swarmlab.sakura.wait import Deadline

__all__ = ["LEASE_S", "STALE_S", "LabBusy", "free_if_held_by", "held_labs", "lab_lock", "lock_name"]

LEASE_S = 60.0      # the server's minimum
BEAT_S = 10.0       # lease renewal and heartbeat
STALE_S = 90.0      # > LEASE_S + the repossessor's 15 s loop: a real server has freed a dead holder's lease by then
POLL_S = 2.0
FIRST_BEAT_S = 1.0  # how long the holder waits for its first heartbeat before its body starts
PREFIX = "swarmlab-lab-"

_held: ContextVar[frozenset[str]] = ContextVar("swarmlab_held_labs", default=frozenset())


class LabBusy(TimeoutError):
    """Another run kept the lab's lock for longer than this run was willing to wait."""

    def __init__(self, lab: str, timeout_s: float, holder: str = ""):
        self.lab, self.timeout_s, self.holder = lab, timeout_s, holder
        by = f" ({holder})" if holder else ""
        super().__init__(f"lab {lab} is busy: another provision, bootstrap, build, exercise or teardown of it{by} "
                         f"held the lock {lock_name(lab)} for more than {timeout_s:g} s. Wait for that run to "
                         f"finish (Prefect UI: Concurrency → Global), then run this again")


def lock_name(lab: str) -> str:
    """The global concurrency limit that is the lab's lock (also the name of its heartbeat variable)."""
    return PREFIX + re.sub(r"[^a-z0-9_-]", "_", lab.lower())


def held_labs() -> frozenset[str]:
    """The labs whose lock this flow run tree holds."""
    return _held.get()


def ensure_limit(name: str) -> None:
    """Create the limit (1 slot, active) if missing, or set it back to that: `concurrency()` does not limit
    anything with a limit that does not exist."""
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:
                pass  # another run created it meanwhile
            return
        if limit.limit != 1 or not limit.active:
            client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=1, active=True))


def _who() -> tuple[logging.Logger | logging.LoggerAdapter, str, ConcurrencyLeaseHolder | None]:
    where = f"pid {os.getpid()} on {socket.gethostname()}"
    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return logging.getLogger("swarmlab.lock"), where, None
    from prefect import get_run_logger

    run = ctx.flow_run
    who = f"flow run {run.name!r} of {ctx.flow.name if ctx.flow else 'a flow'} ({run.id}, {where})"
    return get_run_logger(), who, ConcurrencyLeaseHolder(type="flow_run", id=run.id)


def _try(name: str, holder: ConcurrencyLeaseHolder | None) -> UUID | None:
    """One attempt: the lease id of the slot, or None when another run holds it (423). A busy server (503) is
    asked again at once (`when_free`), not after the Prefect client's 2 s sleep."""
    body = {"names": [name], "slots": 1, "mode": "concurrency", "lease_duration": LEASE_S}
    if holder is not None:
        body["holder"] = holder.model_dump(mode="json")
    with get_client(sync_client=True) as client:
        try:
            answer = when_free(lambda: send_once(client, "POST", "/v2/concurrency_limits/increment-with-lease", body))
        except httpx.HTTPStatusError as e:
            if e.response.status_code == 423:
                return None
            raise
    doc = answer.json()
    if not doc.get("limits"):  # a limit that does not exist limits nothing
        raise RuntimeError(f"the lab lock {name} does not exist on the Prefect server (deleted meanwhile?); "
                           "run again: it is created on first use")
    return UUID(doc["lease_id"])


def _beat(client, name: str, lease_id: UUID, who: str, renew: bool) -> None:
    """Renew the lease (unless first) and write the heartbeat variable: one request each, past the Prefect
    client's retry loop (a keeper asleep in it would hold up the release)."""
    if renew:
        send_once(client, "POST", f"/v2/concurrency_limits/leases/{lease_id}/renew", {"lease_duration": LEASE_S})
    record = {"holder": who, "beat": time.time()}
    try:
        send_once(client, "PATCH", f"/variables/name/{name}", {"value": record})
    except httpx.HTTPStatusError as e:
        if e.response.status_code != 404:
            raise
        send_once(client, "POST", "/variables/", {"name": name, "value": record})


def _keep(name: str, lease_id: UUID, who: str, stop: threading.Event, first: threading.Event) -> None:
    """While held: write the heartbeat at once (then set `first`; a busy server is asked again every BUSY_S),
    then renew the lease and write it again every BEAT_S. In a thread, so the flow does not wait for it."""
    renew = False
    with get_client(sync_client=True) as client:
        while True:
            try:
                _beat(client, name, lease_id, who, renew)
            except Exception as exc:  # noqa: BLE001 — retried; LEASE_S and STALE_S allow several misses
                busy = is_busy(exc)  # the SQLite server's write lock: expected now and then, no traceback
                if not renew and busy and not stop.wait(BUSY_S):
                    continue  # the first beat names this run: worth asking again soon
                logging.getLogger("swarmlab.lock").warning(
                    "could not renew the lock %s%s; retrying in %g s", name,
                    " (the Prefect server is busy: 503)" if busy else "", BEAT_S, exc_info=not busy)
            first.set()
            renew = True
            if stop.wait(BEAT_S):
                return


def _take_over(name: str, seen: dict | None, log, who: str, lab: str) -> None:
    """Free a slot whose holder stopped beating (unless it beat again meanwhile)."""
    if Variable.get(name) != seen:
        return
    log.warning("%s takes over the lock of lab %s: its holder (%s) has sent no heartbeat for %g s",
                who, lab, (seen or {}).get("holder", "unknown"), STALE_S)
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=0))
    Variable.unset(name)


def free_if_held_by(lab: str, flow_run_id: UUID | str) -> bool:
    """Free the lab's lock if its heartbeat names flow run `flow_run_id` (a run that was killed holding it, whose
    state hook now cleans up). Returns whether it did; a lock held by any other run is left alone."""
    name = lock_name(lab)
    record = Variable.get(name)
    if not (isinstance(record, dict) and f"({flow_run_id}," in str(record.get("holder", ""))):
        return False
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=0))
    Variable.unset(name)
    return True


def _acquire(name: str, lab: str, timeout_s: float | None) -> tuple[UUID, str]:
    log, who, holder = _who()
    deadline = Deadline(math.inf if timeout_s is None else timeout_s)
    seen: dict | None = None
    seen_since = deadline.started
    waiting = False
    while (lease_id := _try(name, holder)) is None:
        now = deadline.clock()
        record = Variable.get(name)
        if record != seen or not waiting:
            seen, seen_since = record, now
        if not waiting:
            log.info("%s waits for lab %s: %s holds its lock %s (provision, bootstrap, build, exercise and "
                     "teardown of one lab take turns)", who, lab, (record or {}).get("holder", "another run"), name)
            waiting = True
        beat_age = time.time() - record["beat"] if isinstance(record, dict) and "beat" in record else now - seen_since
        if beat_age > STALE_S and now - seen_since > STALE_S:
            _take_over(name, seen, log, who, lab)
            continue
        if deadline.passed:
            raise LabBusy(lab, timeout_s, (record or {}).get("holder", ""))
        time.sleep(POLL_S)
    if waiting:
        log.info("%s got the lock of lab %s after %.0f s", who, lab, deadline.elapsed())
    return lease_id, who


def _release(lease_id: UUID) -> None:
    with get_client(sync_client=True) as client:
        when_free(lambda: send_once(client, "POST", "/v2/concurrency_limits/decrement-with-lease",
                                    {"lease_id": str(lease_id)}))


@contextmanager
def lab_lock(lab: str, timeout_s: float | None = None) -> Iterator[None]:
    """Hold the lab's lock for the body; waits (logging who waits for whom) while another run holds it.

    Reentrant: a flow run tree that holds it already (build_lab → provision) enters at once. Released on
    exit, error included. `timeout_s` bounds the wait (LabBusy); None waits as long as the holder lives.
    """
    if lab in _held.get():
        yield
        return
    name = lock_name(lab)
    ensure_limit(name)
    lease_id, who = _acquire(name, lab, timeout_s)
    stop, first = threading.Event(), threading.Event()
    keeper = threading.Thread(target=contextvars.copy_context().run,  # the caller's Prefect settings (API URL)
                              args=(_keep, name, lease_id, who, stop, first), daemon=True, name=f"{name} keeper")
    keeper.start()
    first.wait(FIRST_BEAT_S)  # the heartbeat names this run before its body starts, unless the server stalls it
    token = _held.set(_held.get() | {lab})
    try:
        yield
    finally:
        _held.reset(token)
        stop.set()
        keeper.join(30)
        _release(lease_id)
