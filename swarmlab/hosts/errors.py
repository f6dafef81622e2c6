"""Typed errors of the SSH layer. Every message names the host and says what to do next.

Hierarchy::

    HostError(host)
    ├── HostUnreachable(host, last_error)        no SSH session could be made (retryable)
    │   └── ConnectionLost(host, command)        the connection dropped while a command ran
    ├── AuthFailed(host, user, fingerprint)      the server refused our key (not retryable)
    ├── HostKeyRefused(host, ...)                a host key refused:
    │   ├── HostKeyMismatch(host, server_id, ...)  the server's host key differs from the pin
    │   └── HostKeyUnknown(host, server_id, got)   no pin for the server and trust on first use is off
    ├── CommandFailed(host, command, exit_status, stderr_tail, stdout_tail)
    ├── CommandTimeout(host, command, timeout_s) also a TimeoutError
    └── HostsFailed(errors, results)             one or more hosts of a parallel run failed

Commands and output are redacted before an error is built (see `redact`): a secret passed to
`Session.run(..., secrets=[...])` never reaches a message, a repr or a pickle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

from swarmlab.errors import SwarmlabError, redact

__all__ = [
    "AuthFailed",
    "CommandFailed",
    "CommandTimeout",
    "ConnectionLost",
    "HostError",
    "HostKeyMismatch",
    "HostKeyRefused",
    "HostUnreachable",
    "HostsFailed",
    "redact",
    "tail",
]


def tail(text: str, lines: int = 20, chars: int = 2000) -> str:
    """The last `lines` lines (at most `chars` characters) of `text`, stripped."""
    out = "\n".join(text.rstrip().splitlines()[-lines:])
    return out if len(out) <= chars else "…" + out[-chars:]


class HostError(SwarmlabError):
    """Base of every SSH-layer error; `host` is the server name (`<lab>-<role><nn>`)."""

    def __init__(self, host: str, message: str):
        super().__init__(message)
        self.host = host


class HostUnreachable(HostError):
    """No SSH session could be made to `host`: the last error seen is kept in `last_error`."""

    def __init__(self, host: str, last_error: str, *, address: str = ""):
        where = f" ({address})" if address else ""
        super().__init__(host, f"{host}{where} is not reachable over SSH: {last_error}. "
                               "Check that the server is up, its address and the SSH port, "
                               "then retry.")
        self.last_error = last_error
        self.address = address


class ConnectionLost(HostUnreachable):
    """The connection dropped while `command` ran (expected after e.g. `reboot`)."""

    def __init__(self, host: str, command: str, last_error: str, *, address: str = ""):
        super().__init__(host, f"connection lost while running `{command}` ({last_error}); "
                               "the command may or may not have completed", address=address)
        self.command = command


class AuthFailed(HostError):
    """The server refused our key. Retrying does not help, so this is raised at once."""

    def __init__(self, host: str, user: str, *, address: str = "", fingerprint: str = "", detail: str = ""):
        where = f" ({address})" if address else ""
        key = f" key {fingerprint}" if fingerprint else " our key"
        extra = f" [{detail}]" if detail else ""
        super().__init__(
            host,
            f"SSH authentication to {host}{where} as user {user!r} failed: the server refused{key}{extra}. "
            "Check that the SSH key block holds the private key whose public key was injected at "
            "provisioning (the disk edit's SSH key / LabSpec.ssh_public_key), and that the user is right. "
            "A server provisioned with another key must be re-created or have its authorized_keys fixed.",
        )
        self.user = user
        self.address = address
        self.fingerprint = fingerprint


def _at(address: str) -> str:
    return f" ({address})" if address else ""


def _in(pin_file: str) -> str:
    return f" in {pin_file}" if pin_file else ""


class HostKeyRefused(HostError):
    """Base of the host key refusals: the server's id, the key it presented (`got`), where it is pinned."""

    def __init__(self, host: str, message: str, *, server_id: str, got: str, pin_file: str, address: str):
        super().__init__(host, message)
        self.server_id, self.got, self.pin_file, self.address = server_id, got, pin_file, address


class HostKeyMismatch(HostKeyRefused):
    """The server's host key is not the one pinned for its server id."""

    def __init__(self, host: str, server_id: str, *, expected: str, got: str, pin_file: str = "",
                 address: str = ""):
        super().__init__(
            host,
            f"host key of {host}{_at(address)}, server id {server_id}, does not match its pin{_in(pin_file)}: "
            f"expected {expected}, got {got}. If the server was re-created (new disk, same id) or its "
            f"host keys were regenerated, delete the pin for {server_id}{_in(pin_file)} and connect again; "
            "otherwise something may be intercepting the connection, so do not proceed.",
            server_id=server_id, got=got, pin_file=pin_file, address=address,
        )
        self.expected = expected


class HostKeyUnknown(HostKeyRefused):
    """No host key is pinned for the server, and trust on first use is off."""

    def __init__(self, host: str, server_id: str, *, got: str, pin_file: str = "", address: str = ""):
        super().__init__(
            host,
            f"refusing {host}{_at(address)}, server id {server_id}: no host key is pinned for it{_in(pin_file)} "
            f"and it presented {got}. provision pins the key it ships to each server before the server exists; "
            "a server created another way needs its key pinned by hand (KnownHosts.pin, from the console), or "
            "re-create it with provision.",
            server_id=server_id, got=got, pin_file=pin_file, address=address,
        )


class CommandFailed(HostError):
    """A remote command exited non-zero. `command`, `stderr_tail` and `stdout_tail` are redacted."""

    def __init__(self, host: str, command: str, exit_status: int, stderr_tail: str, *,
                 stdout_tail: str = "", secrets: Iterable[str | SecretStr] = ()):
        secrets = list(secrets)
        command = redact(command, *secrets)
        stderr_tail = redact(stderr_tail, *secrets)
        stdout_tail = redact(stdout_tail, *secrets)
        detail = stderr_tail or stdout_tail or "(no output)"
        super().__init__(host, f"{host}: `{command}` exited with status {exit_status}: {detail}")
        self.command = command
        self.exit_status = exit_status
        self.stderr_tail = stderr_tail
        self.stdout_tail = stdout_tail


class CommandTimeout(HostError, TimeoutError):
    """A remote command did not finish within `timeout_s`; its channel was closed."""

    def __init__(self, host: str, command: str, timeout_s: float, *, secrets: Iterable[str | SecretStr] = ()):
        command = redact(command, *secrets)
        super().__init__(host, f"{host}: `{command}` did not finish within {timeout_s:g} s; "
                               "its channel was closed (the remote process may still be running)")
        self.command = command
        self.timeout_s = timeout_s


class HostsFailed(HostError):
    """Raised by `run_parallel` after every host finished, when at least one failed.

    `errors` maps host name → exception; `results` holds the hosts that succeeded.
    """

    def __init__(self, errors: Mapping[str, BaseException], results: Mapping[str, Any] | None = None):
        names = sorted(errors)
        lines = "\n".join(f"  - {name}: {type(errors[name]).__name__}: {errors[name]}" for name in names)
        super().__init__(", ".join(names), f"{len(names)} host(s) failed: {', '.join(names)}\n{lines}")
        self.errors = dict(errors)
        self.results = dict(results or {})
