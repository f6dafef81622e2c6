"""Waiting for a host to answer SSH, and running one function on many hosts at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from swarmlab.sakura.wait import Poll

from .errors import HostKeyMismatch, HostsFailed, HostUnreachable
from .keys import SSHKey
from .known_hosts import KnownHosts
from .session import Host, Session

__all__ = ["run_parallel", "wait_reachable"]

T = TypeVar("T")
R = TypeVar("R")

#: how long a new server may still present the key its image generated before its startup script has
#: installed the pinned one (the script runs after sshd starts, as on the cloud)
HOSTKEY_GRACE_S = 180.0


def wait_reachable(host: Host, key: SSHKey, known_hosts: KnownHosts, timeout_s: float = 300,
                   interval_s: float = 0.5, hostkey_grace_s: float = HOSTKEY_GRACE_S,
                   **session_options) -> Session:
    """A connected `Session` to `host`, retrying while it boots.

    Retried: connection refused / no route (NoValidConnectionsError, OSError), socket timeouts,
    EOF / reset, and SSH banner or 'No existing session' errors — everything `Session.connect`
    reports as `HostUnreachable`. `HostKeyMismatch` is retried for `hostkey_grace_s` (a booting
    server presents its image's key until the startup script installs the pinned one; nothing is
    authenticated to or sent to a host whose key differs), then raised. Raised at once: `AuthFailed`
    (a wrong key does not fix itself) and `HostKeyUnknown`. After `timeout_s`: `HostUnreachable`
    with the last error.
    """
    session = Session(host, key, known_hosts, **session_options)
    last: HostUnreachable | None = None
    mismatch: HostKeyMismatch | None = None
    attempts = Poll(f"SSH on {host.name} ({host.address})", timeout_s, interval_s=interval_s)
    for attempt in attempts:
        try:
            return session.connect(timeout_s=max(attempts.remaining(), 0.5))
        except HostUnreachable as e:
            last, mismatch = e, None
            attempt.note(str(e.last_error)[:200])
        except HostKeyMismatch as e:
            mismatch = e
            if attempts.elapsed() >= min(hostkey_grace_s, timeout_s):
                raise
            attempt.note("host key differs from the pin (the startup script has not run yet?)")
    if mismatch is not None:
        raise mismatch
    raise HostUnreachable(host.name, f"gave up after {timeout_s:g} s and {attempts.attempts} attempt(s); last error: "
                                     f"{last.last_error if last else 'none'}",
                          address=f"{host.address}:{host.port}") from last


def _name(item: object) -> str:
    name = getattr(item, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"run_parallel: {item!r} has no .name; pass a mapping name -> item instead")
    return name


def run_parallel(hosts: Mapping[str, T] | Iterable[T], fn: Callable[[T], R], max_workers: int = 8) -> dict[str, R]:
    """`fn(item)` for every host at once (at most `max_workers` threads) → `{name: result}`.

    `hosts` is a mapping name → item (e.g. name → Session) or an iterable of items with a `.name`
    (Host, Session). Every call runs to the end; then, if any raised, one `HostsFailed` lists each
    host's error (`.errors`), with the successes in `.results`. Results keep the input order.
    """
    items = dict(hosts) if isinstance(hosts, Mapping) else {_name(h): h for h in hosts}
    if not items:
        return {}
    results: dict[str, R] = {}
    errors: dict[str, BaseException] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(items))),
                            thread_name_prefix="swarmlab-host") as pool:
        futures = {name: pool.submit(fn, item) for name, item in items.items()}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as e:  # noqa: BLE001 — collected and re-raised together
                errors[name] = e
    if errors:
        raise HostsFailed(errors, results)
    return results
