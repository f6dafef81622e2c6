"""One writer per lab: provision, bootstrap, build, exercise and teardown of one lab never run at once.

The lock is a Prefect global concurrency limit `swarmlab-lab-<lab>` of 1 slot, so it holds across processes
and workers of one Prefect server. The slot is held with a lease that the holder renews (every 75 % of
LEASE_S); a holder that dies without releasing frees the lab when its lease expires (LEASE_S plus the
server's repossessor loop, 15 s by default). It is reentrant within one flow run tree: build_lab holds it
and calls provision, which then does not wait for itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar

import httpx
from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.concurrency._asyncio import AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

__all__ = ["LEASE_S", "LabBusy", "held_labs", "lab_lock", "lock_name"]

LEASE_S = 120.0
PREFIX = "swarmlab-lab-"

_held: ContextVar[frozenset[str]] = ContextVar("swarmlab_held_labs", default=frozenset())


class LabBusy(TimeoutError):
    """Another run kept the lab's lock for longer than this run was willing to wait."""

    def __init__(self, lab: str, timeout_s: float):
        self.lab, self.timeout_s = lab, timeout_s
        super().__init__(f"lab {lab} is busy: another provision, bootstrap, build, exercise or teardown of it held "
                         f"the lock {lock_name(lab)} for more than {timeout_s:g} s. Wait for that run to finish "
                         f"(Prefect UI: Concurrency → Global), then run this again")


def lock_name(lab: str) -> str:
    """The global concurrency limit that is the lab's lock."""
    return PREFIX + lab


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
    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return logging.getLogger("swarmlab.lock"), "this process", None
    from prefect import get_run_logger

    run = ctx.flow_run
    who = f"flow run {run.name!r} of {ctx.flow.name if ctx.flow else 'a flow'} ({run.id})"
    return get_run_logger(), who, ConcurrencyLeaseHolder(type="flow_run", id=run.id)


def _locked(err: BaseException) -> bool:
    cause = err.__cause__
    return isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 423


@contextmanager
def lab_lock(lab: str, timeout_s: float | None = None) -> Iterator[None]:
    """Hold the lab's lock for the body; waits (logging who waits for what) while another run holds it.

    Reentrant: a flow run tree that holds it already (build_lab → provision) enters at once. Released on
    exit, error included. `timeout_s` bounds the wait (LabBusy); None waits as long as it takes.
    """
    if lab in _held.get():
        yield
        return
    name = lock_name(lab)
    ensure_limit(name)
    log, who, holder = _who()
    opts = dict(occupy=1, lease_duration=LEASE_S, strict=True, holder=holder, raise_on_lease_renewal_failure=True)
    with ExitStack() as stack:
        try:
            stack.enter_context(concurrency(name, max_retries=0, **opts))
        except ConcurrencySlotAcquisitionError as e:
            if not _locked(e):
                raise
            log.info("%s waits for lab %s: another run holds its lock %s (provision, bootstrap, build, exercise "
                     "and teardown of one lab take turns)", who, lab, name)
            try:
                stack.enter_context(concurrency(name, timeout_seconds=timeout_s, **opts))
            except AcquireConcurrencySlotTimeoutError:
                raise LabBusy(lab, timeout_s or 0) from None
            log.info("%s got the lock of lab %s", who, lab)
        token = _held.set(_held.get() | {lab})
        try:
            yield
        finally:
            _held.reset(token)
