"""Requests to the Prefect API sent once, past the Prefect client's own retry loop.

That loop sleeps 2 s, then 4 s, after a 503, which a SQLite-backed Prefect server answers whenever its write lock
is taken, and it sleeps even when told not to retry (PREFECT_CLIENT_MAX_RETRIES=0). The lab lock's and the rate
limit's requests sit on every flow run's path, so they go out once each here and their callers ask a busy server
again after a fraction of a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from swarmlab.sakura.wait import Deadline

BUSY = 503
BUSY_S = 0.2
T = TypeVar("T")


def send_once(client, method: str, path: str, body: dict | None = None) -> httpx.Response:
    """`method` `path` (relative to the API URL) with a JSON `body`, once; raises httpx.HTTPStatusError on an error
    status. `client`: a sync Prefect client (its base URL, auth headers and CSRF token are used)."""
    http = client._client  # the PrefectHttpxSyncClient
    request = http.build_request(method, path, json=body)
    if http.enable_csrf_support:
        http._add_csrf_headers(request)
    return httpx.Client.send(http, request).raise_for_status()


def is_busy(exc: BaseException) -> bool:
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == BUSY


def when_free(call: Callable[[], T], timeout_s: float = 60.0, pause_s: float = BUSY_S) -> T:
    """`call()`, asked again every `pause_s` while the server answers 503, for up to `timeout_s`."""
    deadline = Deadline(timeout_s)
    while True:
        try:
            return call()
        except httpx.HTTPStatusError as e:
            if not is_busy(e) or deadline.passed:
                raise
        time.sleep(pause_s)
