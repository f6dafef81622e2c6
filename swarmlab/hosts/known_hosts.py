"""Host-key pinning tied to a stable identity (the server's cloud ID), not to an address.

Lab servers get new host keys every time they are created, and their addresses are reused by
other labs, so an OpenSSH known_hosts file keyed by address either rejects every new lab or
accepts anything. Here a pin is keyed by the server's cloud ID: provision pins the host key it
generated and shipped (`pin`) before the server's disk exists, and every contact must present that
key, else `HostKeyMismatch`. With `tofu=False` (the lab's fleet) a server without a pin is refused
(`HostKeyUnknown`); with `tofu=True` its first key is recorded (trust on first use).

The pin file is JSON: ``{"<server id>": {"type": "ssh-ed25519", "key": "<base64>", "host": ...,
"address": ..., "pinned_at": ...}}``. Writes are atomic (temp file + rename) and serialised by a
thread lock plus an `flock` on a sibling lock file, so concurrent threads and processes merge
their pins instead of overwriting each other's.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko
from pydantic import BaseModel, ConfigDict

from .errors import HostKeyMismatch, HostKeyUnknown

if TYPE_CHECKING:
    from .session import Host

__all__ = ["HostKeyPin", "KnownHosts", "PinningPolicy", "fingerprint"]


def fingerprint(key_b64: str) -> str:
    """`SHA256:…` of a base64 public key blob, as OpenSSH prints it."""
    digest = hashlib.sha256(base64.b64decode(key_b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class HostKeyPin(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    key: str
    host: str = ""
    address: str = ""
    pinned_at: str = ""

    @property
    def fingerprint(self) -> str:
        return f"{self.type} {fingerprint(self.key)}"

    def pkey(self) -> paramiko.PKey:
        return paramiko.PKey.from_type_string(self.type, base64.b64decode(self.key))


class KnownHosts:
    """Pins keyed by server id, persisted in `path` (None: in memory only); `tofu`: pin unknown servers'
    first key instead of refusing them."""

    def __init__(self, path: str | Path | None = None, *, tofu: bool = True):
        self.path = Path(path) if path is not None else None
        self.tofu = tofu
        self._lock = threading.RLock()
        self._pins: dict[str, HostKeyPin] = {}
        self._reload()

    # -- reading -----------------------------------------------------------------------------
    def _read_file(self) -> dict[str, HostKeyPin]:
        if self.path is None or not self.path.exists():
            return {}
        text = self.path.read_text()
        if not text.strip():
            return {}
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"host-key pin file {self.path} is not valid JSON ({e}); fix or delete it") from None
        return {sid: HostKeyPin.model_validate(v) for sid, v in raw.items()}

    def _reload(self) -> None:
        with self._lock:
            self._pins = self._read_file()

    def get(self, server_id: str) -> HostKeyPin | None:
        with self._lock:
            self._reload()
            return self._pins.get(server_id)

    def __contains__(self, server_id: str) -> bool:
        return self.get(server_id) is not None

    def pins(self) -> dict[str, HostKeyPin]:
        with self._lock:
            self._reload()
            return dict(self._pins)

    # -- writing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _file_lock(self):
        if self.path is None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lf, fcntl.LOCK_UN)

    def _write(self) -> None:
        if self.path is None:
            return
        data = {sid: pin.model_dump() for sid, pin in sorted(self._pins.items())}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=2)
                f.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def pin(self, server_id: str, key_type: str, key_b64: str, *, host: str = "", address: str = "",
            replace: bool = False) -> HostKeyPin:
        """Record `server_id`'s host key (e.g. learned from the console). An existing different pin
        raises `HostKeyMismatch` unless `replace`."""
        new = HostKeyPin(type=key_type, key=key_b64, host=host, address=address,
                         pinned_at=datetime.now(UTC).isoformat(timespec="seconds"))
        with self._lock, self._file_lock():
            self._pins = self._read_file()
            old = self._pins.get(server_id)
            if old is not None and (old.type, old.key) == (key_type, key_b64):
                return old
            if old is not None and not replace:
                raise HostKeyMismatch(host or old.host or server_id, server_id, expected=old.fingerprint,
                                      got=new.fingerprint, pin_file=str(self.path or ""),
                                      address=address or old.address)
            self._pins[server_id] = new
            self._write()
            return new

    def forget(self, server_id: str) -> bool:
        """Delete a pin (the server was re-created). True if there was one."""
        with self._lock, self._file_lock():
            self._pins = self._read_file()
            if self._pins.pop(server_id, None) is None:
                return False
            self._write()
            return True

    # -- paramiko ----------------------------------------------------------------------------
    def prepare(self, client: paramiko.SSHClient, host: Host) -> None:
        """Pre-load `host`'s pin into `client` (paramiko then rejects another key itself and
        prefers the pinned key type) and install the trust-on-first-use policy."""
        sid = host.identity
        pin = self.get(sid)
        if pin is not None:
            client.get_host_keys().add(_hostkey_name(host.address, host.port), pin.type, pin.pkey())
        client.set_missing_host_key_policy(PinningPolicy(self, host))

    def check(self, host: Host, key: paramiko.PKey) -> None:
        """Accept `key` for `host` if it matches the pin, record it if there is none (tofu), else raise."""
        if not self.tofu and self.get(host.identity) is None:
            raise HostKeyUnknown(host.name, host.identity, got=f"{key.get_name()} {fingerprint(key.get_base64())}",
                                 pin_file=str(self.path or ""), address=f"{host.address}:{host.port}")
        self.pin(host.identity, key.get_name(), key.get_base64(), host=host.name, address=host.address)

    def mismatch(self, host: Host, got: paramiko.PKey) -> HostKeyMismatch:
        pin = self.get(host.identity)
        expected = pin.fingerprint if pin else "(no pin)"
        return HostKeyMismatch(host.name, host.identity, expected=expected,
                               got=f"{got.get_name()} {fingerprint(got.get_base64())}",
                               pin_file=str(self.path or ""), address=f"{host.address}:{host.port}")


def _hostkey_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


class PinningPolicy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko when the client holds no key for the address: pin on first use, or
    compare with the pin (the pin may have been written by another thread since `prepare`)."""

    def __init__(self, known_hosts: KnownHosts, host: Host):
        self.known_hosts = known_hosts
        self.host = host

    def missing_host_key(self, client, hostname, key):
        self.known_hosts.check(self.host, key)
