"""One Prefect global rate limit for the SAKURA API (`sakura-api`), shared by every run on the server, so the
nightly, the guard and manual runs together stay inside SAKURA's limit. Without a configured Prefect server
(no PREFECT_API_URL) each client's own pacing (`rate_per_s`) is all there is."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

LIMIT = "sakura-api"
PER_SECOND = 10  # SAKURA Cloud's documented ceiling (Terraform's api_request_rate_limit caps at 10)
SLOT_TIMEOUT_S = 600.0
CHUNK = 10  # slots taken per server round trip (a second of SAKURA's 10/s); each acquisition costs a server write

log = logging.getLogger("swarmlab.flows")
_ensured: set[tuple[str, str]] = set()  # (API URL, limit name)
_lock = threading.Lock()


def server_configured() -> bool:
    return bool(PREFECT_API_URL.value())


def ensure_rate_limit(name: str = LIMIT, per_second: int = PER_SECOND) -> bool:
    """Create the global limit `name` (limit = slot decay = `per_second`) unless it exists; an existing one
    is left as its owner set it. Returns True when this call created it."""
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return False
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                name=name, limit=per_second, slot_decay_per_second=per_second))
            log.info("created the Prefect rate limit %s: %d requests/s across every run", name, per_second)
            return True


class SharedPace:
    """`pace()` covers each request with a slot of the global limit. Slots are taken `chunk` at a time (one
    server round trip per `chunk` requests, not per request; `chunk` never exceeds the limit); if the limit goes
    away mid-run it warns once and stops (the client's own pacing goes on)."""

    def __init__(self, name: str = LIMIT, chunk: int = 1):
        self.name, self.chunk = name, max(1, chunk)
        self.active = True
        self._left = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            if not self.active:
                return
            if self._left == 0:
                try:
                    rate_limit(self.name, occupy=self.chunk, timeout_seconds=SLOT_TIMEOUT_S, strict=True)
                except Exception as exc:  # ConcurrencySlotAcquisitionError, or the server unreachable
                    self.active = False
                    log.warning("Prefect rate limit %s unavailable (%s); this run paces its SAKURA API calls on "
                                "its own", self.name, type(exc).__name__)
                    return
                self._left = self.chunk
            self._left -= 1


def sakura_pace(name: str = LIMIT, per_second: float = PER_SECOND) -> Callable[[], None] | None:
    """The pacing hook for `SakuraClient(pace=...)`: slots of `name` for the requests when a Prefect server is
    configured (the limit is created on first use at `per_second`, the credentials' rate), else None."""
    if not server_configured():
        return None
    key = (str(PREFECT_API_URL.value()), name)
    try:
        with _lock:
            if key not in _ensured:
                ensure_rate_limit(name, max(1, round(per_second)))
                _ensured.add(key)
        with get_client(sync_client=True) as client:
            size = client.read_global_concurrency_limit_by_name(name).limit
    except Exception as exc:
        log.warning("cannot ensure the Prefect rate limit %s (%s); pacing per process only", name, type(exc).__name__)
        return None
    return SharedPace(name, chunk=min(CHUNK, size))
