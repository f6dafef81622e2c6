"""One Prefect global rate limit per API, shared by every run on the server, so the nightly, the guard and manual
runs together stay inside SAKURA's limit: `sakura-api` for SAKURA Cloud's API, `sakura-api-<host>-<port>` for
any other root (an emulator neither spends nor resizes the real API's budget). Without a configured Prefect
server (no PREFECT_API_URL) each client's own pacing (`rate_per_s`) is all there is."""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

from flows.prefect_http import BUSY_S, send_once
from swarmlab.sakura.transport import DEFAULT_API_ROOT
from swarmlab.sakura.wait import Deadline

LIMIT = "sakura-api"
PER_SECOND = 10  # SAKURA Cloud's documented ceiling (Terraform's api_request_rate_limit caps at 10)
SLOT_TIMEOUT_S = 600.0
RETRY_STATUS = (423, 429, 503)  # denied (no slot yet), too many requests, a busy server
CHUNK = 10  # slots taken per server round trip (a second of SAKURA's 10/s); each acquisition costs a server write

log = logging.getLogger("swarmlab.flows")
_ensured: set[tuple[str, str]] = set()  # (API URL, limit name)
_lock = threading.Lock()


def limit_name(api_root: str | None) -> str:
    """The global limit that paces requests to `api_root`: `sakura-api` for SAKURA Cloud's own API root."""
    if not api_root or api_root.rstrip("/") == DEFAULT_API_ROOT:
        return LIMIT
    netloc = urlsplit(api_root).netloc or api_root
    return f"{LIMIT}-" + re.sub(r"[^A-Za-z0-9.]+", "-", netloc).strip("-")


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
    away mid-run it warns once and stops (the client's own pacing goes on).

    The slots are asked for directly, not through `prefect.concurrency.sync.rate_limit`: that one retries a busy
    server (HTTP 503, a SQLite server's write lock) after 2, 4, 8 s and emits events on every acquisition, and
    while it waits every thread of the client waits behind this lock. Here a denied or busy acquisition is asked
    again after about the time the server needs to free a chunk (`chunk / per_second`)."""

    def __init__(self, name: str = LIMIT, chunk: int = 1, per_second: float = PER_SECOND,
                 timeout_s: float = SLOT_TIMEOUT_S):
        self.name, self.chunk = name, max(1, chunk)
        self.per_second, self.timeout_s = max(per_second, 0.001), timeout_s
        self.active = True
        self._left = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            if not self.active:
                return
            if self._left == 0:
                try:
                    self._acquire()
                except Exception as exc:  # the limit deleted, the server unreachable, or no slot within timeout_s
                    self.active = False
                    log.warning("Prefect rate limit %s unavailable (%s); this run paces its SAKURA API calls on "
                                "its own", self.name, type(exc).__name__)
                    return
                self._left = self.chunk
            self._left -= 1

    def _acquire(self) -> None:
        deadline = Deadline(self.timeout_s)
        with get_client(sync_client=True) as client:
            while True:
                try:
                    taken = send_once(client, "POST", "/v2/concurrency_limits/increment",
                                      {"names": [self.name], "slots": self.chunk, "mode": "rate_limit"}).json()
                except httpx.HTTPStatusError as exc:
                    status = exc.response.status_code
                    if status not in RETRY_STATUS or deadline.passed:
                        raise
                    time.sleep(self._wait(exc.response, status))
                    continue
                if not taken:
                    raise LookupError(f"no Prefect global concurrency limit named {self.name}")
                return

    def _wait(self, response: httpx.Response, status: int) -> float:
        """Seconds before asking again: the server's Retry-After, capped at the time one chunk's slots decay."""
        one_chunk = self.chunk / self.per_second
        try:
            retry_after = float(response.headers.get("Retry-After", one_chunk))
        except ValueError:
            retry_after = one_chunk
        base = min(retry_after, one_chunk) if status == 423 else min(BUSY_S, one_chunk)
        return base * random.uniform(0.8, 1.2)


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
            limit = client.read_global_concurrency_limit_by_name(name)
    except Exception as exc:
        log.warning("cannot ensure the Prefect rate limit %s (%s); pacing per process only", name, type(exc).__name__)
        return None
    return SharedPace(name, chunk=min(CHUNK, limit.limit), per_second=limit.slot_decay_per_second or limit.limit)
