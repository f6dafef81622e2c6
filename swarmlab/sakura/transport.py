"""HTTP transport: URL building, auth, pacing, retries, error mapping, logging.

Retry policy (exponential backoff with equal jitter, `max_retries` retries, see `query.backoff_delay`;
a `Retry-After` header, when sent, is honoured as a lower bound):

=====================================  ==========================  ============================
answer                                 GET / PUT / DELETE          POST
=====================================  ==========================  ============================
503 busy, too_many_request             retry                       retry (rejected before work)
503 any other code                     retry                       no (work may have started)
423 locked                             retry                       retry (rejected)
409 still_creating                     retry                       retry (rejected)
502, 504 (proxy/gateway)               retry                       no (may have been executed)
connect error / connect timeout        retry                       retry (never reached server)
read timeout / connection dropped      retry                       no (may have been executed)
400, 401, 403, 404, other 409, 500     no                          no
=====================================  ==========================  ============================

Pacing: at most `rate_per_s` requests per second leave this transport, across all threads (each
attempt, retries included, takes a slot); then `pace()`, when given, is called before each attempt too
(a hook for a limit shared with other processes, e.g. the flows' Prefect rate limit). Each thread uses
its own `requests.Session`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import requests
import urllib3.exceptions
from pydantic import SecretStr

from .errors import SakuraAPIError, SakuraConnectionError, error_for, redact
from .query import backoff_delay, encode_query

__all__ = ["DEFAULT_API_ROOT", "RateLimiter", "SakuraTransport", "Transport", "should_retry_status",
           "request_not_sent"]

log = logging.getLogger("swarmlab.sakura")

DEFAULT_API_ROOT = "https://secure.sakura.ad.jp/cloud/zone"
API_SUFFIX = "api/cloud/1.1"
IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})
REJECTED_BEFORE_WORK_503 = frozenset({"busy", "too_many_request"})


def should_retry_status(method: str, status: int, error_code: str) -> bool:
    """Whether an error answer may be retried (see the module docstring's table)."""
    method = method.upper()
    if status == 503:
        return method in IDEMPOTENT or error_code in REJECTED_BEFORE_WORK_503
    if status == 423:
        return True
    if status == 409:
        return error_code == "still_creating"
    if status in (502, 504):
        return method in IDEMPOTENT
    return False


def request_not_sent(exc: BaseException) -> bool:
    """True when a requests exception proves the request never reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        return isinstance(reason, (urllib3.exceptions.NewConnectionError,
                                   urllib3.exceptions.ConnectTimeoutError))
    return False


@runtime_checkable
class SakuraTransport(Protocol):
    """What `SakuraClient` sends every call through (httpx-style): `Transport` over HTTP, or any object
    with these members (an in-memory one in unit tests). `path` is relative to `/{zone}/api/cloud/1.1/`;
    the answer is the decoded JSON body (`{}` if none); failures raise `SakuraError`s."""

    api_root: str

    def request(self, method: str, path: str, *, body: Any = None,
                query: Mapping[str, Any] | None = None, zone: str | None = None) -> dict[str, Any]: ...

    def close(self) -> None: ...


class RequestCount:
    """Requests sent by every transport of this process (retries included): what a lab costs in API calls."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self._n += 1

    @property
    def value(self) -> int:
        return self._n


SENT = RequestCount()


class RateLimiter:
    """Spaces calls at least 1/rate_per_s apart, across threads (no bursts)."""

    def __init__(self, rate_per_s: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0")
        self.interval = 1.0 / rate_per_s
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self) -> float:
        """Block until this caller's slot; returns the time waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait


class Transport:
    """Sends one API call, with pacing and retries; returns the decoded JSON body (`{}` if none)."""

    def __init__(self, token: str, secret: str | SecretStr, zone: str,
                 api_root: str = DEFAULT_API_ROOT, rate_per_s: float = 10.0, max_retries: int = 8,
                 timeout_s: float = 30.0, backoff_base_s: float = 0.5, backoff_cap_s: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, pace: Callable[[], object] | None = None):
        self.token = token
        self.secret = secret if isinstance(secret, SecretStr) else SecretStr(secret)
        self.zone = zone
        self.api_root = api_root.rstrip("/")
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.limiter = RateLimiter(rate_per_s)
        self.pace = pace
        self._sleep = sleep
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Transport(api_root={self.api_root!r}, zone={self.zone!r}, token={_mask(self.token)!r})"

    # -- plumbing -----------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.auth = (self.token, self.secret.get_secret_value())
            s.headers.update({
                "X-Sakura-Bigint-As-Int": "1",
                "Accept": "application/json",
                "User-Agent": "swarmlab-sakura/0.1",
            })
            self._local.session = s
            with self._sessions_lock:
                self._sessions.append(s)
        return s

    def close(self) -> None:
        with self._sessions_lock:
            for s in self._sessions:
                s.close()
            self._sessions.clear()
        self._local = threading.local()

    def url(self, path: str, zone: str | None = None, query: Mapping[str, Any] | None = None) -> str:
        url = f"{self.api_root}/{zone or self.zone}/{API_SUFFIX}/{path.lstrip('/')}"
        qs = encode_query(query)
        return f"{url}?{qs}" if qs else url

    def _redact(self, text: str) -> str:
        return redact(text, self.secret.get_secret_value())

    # -- the call -----------------------------------------------------------------------------
    def request(self, method: str, path: str, *, body: Any = None,
                query: Mapping[str, Any] | None = None, zone: str | None = None) -> dict[str, Any]:
        method = method.upper()
        url = self.url(path, zone, query)
        shown = f"/{zone or self.zone}/{path.lstrip('/')}"
        data = None if body is None else json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=UTF-8"} if data is not None else {}
        attempt = 0
        while True:
            attempt += 1
            self.limiter.acquire()
            if self.pace is not None:
                self.pace()
            t0 = time.monotonic()
            SENT.add()
            try:
                resp = self._session().request(method, url, data=data, headers=headers,
                                               timeout=(min(10.0, self.timeout_s), self.timeout_s))
            except requests.exceptions.RequestException as exc:
                ms = (time.monotonic() - t0) * 1000
                transient = isinstance(exc, _TRANSIENT)
                retry = transient and (method in IDEMPOTENT or request_not_sent(exc)) \
                    and attempt <= self.max_retries
                cause = self._redact(f"{type(exc).__name__}: {exc}")
                log.debug("%s %s -> %s %.0f ms%s", method, shown, type(exc).__name__, ms,
                          " (will retry)" if retry else "")
                if not retry:
                    raise SakuraConnectionError(method, shown, cause, attempt) from None
                self._sleep(backoff_delay(attempt - 1, self.backoff_base_s, self.backoff_cap_s))
                continue
            ms = (time.monotonic() - t0) * 1000
            status = resp.status_code
            if status in (200, 201, 202, 204):
                log.debug("%s %s -> %s %.0f ms", method, shown, status, ms)
                return self._decode(resp, method, shown, attempt)
            err = self._error(resp, method, shown, attempt)
            retry = should_retry_status(method, status, err.error_code) and attempt <= self.max_retries
            log.debug("%s %s -> %s %s %.0f ms%s", method, shown, status, err.error_code, ms,
                      " (will retry)" if retry else "")
            if not retry:
                raise err
            delay = backoff_delay(attempt - 1, self.backoff_base_s, self.backoff_cap_s)
            retry_after = _retry_after(resp)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.backoff_cap_s))
            self._sleep(delay)

    def _decode(self, resp: requests.Response, method: str, shown: str, attempt: int) -> dict[str, Any]:
        if not resp.content:
            return {}
        try:
            doc = resp.json()
        except ValueError:
            raise error_for(resp.status_code if resp.status_code >= 500 else 502, "invalid_response",
                            "the API answered success with a body that is not JSON: "
                            + self._redact(resp.text[:200]), method, shown, attempts=attempt) from None
        return doc if isinstance(doc, dict) else {"_": doc}

    def _error(self, resp: requests.Response, method: str, shown: str, attempt: int) -> SakuraAPIError:
        code, msg, serial = "", "", ""
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            code = str(doc.get("error_code") or "")
            msg = str(doc.get("error_msg") or doc.get("message") or "")
            serial = str(doc.get("serial") or "")
        else:
            msg = resp.text.strip()[:300]
        return error_for(resp.status_code, self._redact(code), self._redact(msg), method, shown,
                         self._redact(serial), attempt)


_TRANSIENT = (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
              requests.exceptions.ChunkedEncodingError)


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _mask(token: str) -> str:
    return token[:4] + "…" if len(token) > 8 else "…"
