"""A bounded HTTP probe: fixed rate, fixed targets (the lab's own hosts only), every request recorded."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ConfigDict

MAX_DURATION_S = 900.0
MAX_RATE = 100.0


class Sample(BaseModel):
    model_config = ConfigDict(frozen=True)
    t: float                 # seconds since the probe started
    url: str
    status: int              # HTTP status, 0 when no answer
    latency_ms: float
    served_by: str = ""      # the answering container (app /version hostname), when known
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400


class ProbeSummary(BaseModel):
    sent: int
    ok: int
    failed: int
    p50_ms: float
    p99_ms: float
    served_by: dict[str, int]
    first_failures: list[str]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summarize(samples: list[Sample], start: float = 0.0, end: float = float("inf")) -> ProbeSummary:
    """What users saw between `start` and `end` (seconds since the probe started)."""
    window = [s for s in samples if start <= s.t < end]
    ok = [s for s in window if s.ok]
    served: dict[str, int] = {}
    for s in ok:
        if s.served_by:
            served[s.served_by] = served.get(s.served_by, 0) + 1
    return ProbeSummary(
        sent=len(window), ok=len(ok), failed=len(window) - len(ok),
        p50_ms=round(percentile([s.latency_ms for s in ok], 0.5), 1),
        p99_ms=round(percentile([s.latency_ms for s in ok], 0.99), 1),
        served_by=dict(sorted(served.items())),
        first_failures=[f"{s.t:.1f}s {s.url}: {s.error or s.status}" for s in window if not s.ok][:5],
    )


class Probe:
    """Send `rate_per_s` requests per second, round-robin over `urls`, until stopped (at most `max_s`).

    Every URL's host must be in `allowed_hosts` (the lab's addresses or loopback): the probe never
    sends traffic anywhere else.
    """

    def __init__(self, urls: list[str], allowed_hosts: set[str], rate_per_s: float = 20.0,
                 timeout_s: float = 2.0, max_s: float = MAX_DURATION_S):
        for url in urls:
            host = urlsplit(url).hostname or ""
            if host not in allowed_hosts and not host.startswith("127.") and host != "localhost":
                raise ValueError(f"probe: {url} is not a lab host ({', '.join(sorted(allowed_hosts))})")
        if not 0 < rate_per_s <= MAX_RATE:
            raise ValueError(f"probe: rate_per_s must be in (0, {MAX_RATE}]")
        self.urls, self.rate, self.timeout_s = urls, rate_per_s, timeout_s
        self.max_s = min(max_s, MAX_DURATION_S)
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._local = threading.local()

    def now(self) -> float:
        """Seconds since the probe started (the time base of its samples)."""
        return time.monotonic() - self._t0

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _one(self, url: str, t: float) -> None:
        started = time.monotonic()
        try:
            r = self._session().get(url, timeout=self.timeout_s)
            served = ""
            if r.headers.get("content-type", "").startswith("application/json"):
                body = r.json()
                served = body.get("hostname", "") if isinstance(body, dict) else ""
            sample = Sample(t=t, url=url, status=r.status_code, latency_ms=(time.monotonic() - started) * 1000,
                            served_by=served, error="" if r.ok else r.text[:100])
        except (requests.RequestException, ValueError) as e:
            sample = Sample(t=t, url=url, status=0, latency_ms=(time.monotonic() - started) * 1000,
                            error=type(e).__name__)
        with self._lock:
            self.samples.append(sample)

    def _run(self) -> None:
        interval = 1.0 / self.rate
        workers = max(4, int(self.rate * self.timeout_s) + 1)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
            for n, url in enumerate(itertools.cycle(self.urls)):
                due = n * interval
                if self._stop.is_set() or due > self.max_s:
                    break
                delay = due - self.now()
                if delay > 0 and self._stop.wait(delay):
                    break
                pool.submit(self._one, url, due)

    def start(self) -> Probe:
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> ProbeSummary:
        self._stop.set()
        if self._thread:
            self._thread.join(self.timeout_s + 5)
        return self.summary()

    def summary(self, start: float = 0.0, end: float = float("inf")) -> ProbeSummary:
        with self._lock:
            samples = sorted(self.samples, key=lambda s: s.t)
        return summarize(samples, start, end)

    def __enter__(self) -> Probe:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
