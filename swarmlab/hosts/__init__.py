"""SSH to lab servers (paramiko): sessions, uploads, waiting for boot, host-key pinning."""

from .errors import (
    AuthFailed,
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    HostError,
    HostKeyMismatch,
    HostKeyUnknown,
    HostsFailed,
    HostUnreachable,
    redact,
)
from .keys import KeyPair, SSHKey
from .known_hosts import HostKeyPin, KnownHosts
from .parallel import run_parallel, wait_reachable
from .session import Host, Result, Session

__all__ = [
    "AuthFailed",
    "CommandFailed",
    "CommandTimeout",
    "ConnectionLost",
    "Host",
    "HostError",
    "HostKeyMismatch",
    "HostKeyPin",
    "HostKeyUnknown",
    "HostUnreachable",
    "HostsFailed",
    "KeyPair",
    "KnownHosts",
    "Result",
    "SSHKey",
    "Session",
    "redact",
    "run_parallel",
    "wait_reachable",
]
