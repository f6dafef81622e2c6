"""One SSH session per host (paramiko): run commands, upload files, reconnect after a reboot.

Every socket operation is bounded: TCP connect (`connect_timeout_s`), the SSH banner, the
authentication, opening a channel, and each command (`timeout_s`). The host key is checked
against `KnownHosts` (pinned by server id). paramiko never raises on a non-zero exit status;
`run(check=True)` does, with `CommandFailed` whose text is redacted of every `secrets` value.
"""

from __future__ import annotations

import errno
import io
import select
import shlex
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

import paramiko
from paramiko.ssh_exception import NoValidConnectionsError
from pydantic import BaseModel, ConfigDict, SecretStr

from swarmlab.sakura.wait import Deadline

from .errors import (
    AuthFailed,
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    HostKeyMismatch,
    HostUnreachable,
    redact,
    tail,
)
from .keys import SSHKey
from .known_hosts import KnownHosts

T = TypeVar("T")

__all__ = ["Host", "Result", "Session", "sudo_wrap"]

#: errors that mean "the network / sshd is not (yet) there"; auth and host-key errors are not among them
NETWORK_ERRORS = (NoValidConnectionsError, socket.timeout, TimeoutError, EOFError, ConnectionError, OSError,
                  paramiko.SSHException)


class Host(BaseModel):
    """A server we SSH to. `server_id` (the cloud ID) is the identity host keys are pinned to."""

    model_config = ConfigDict(frozen=True)

    name: str
    address: str
    private_ip: str | None = None
    user: str = "ubuntu"
    port: int = 22
    server_id: str | None = None

    @property
    def identity(self) -> str:
        """The key of this host's host-key pin: the cloud server ID, else the name."""
        return self.server_id or self.name

    def __str__(self) -> str:
        return f"{self.name} ({self.user}@{self.address}:{self.port})"


class Result(BaseModel):
    """What a command produced. Text is redacted of the `secrets` given to `run`."""

    model_config = ConfigDict(frozen=True)

    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


def sudo_wrap(command: str, user: str) -> str:
    """`command` run by root through `sudo -n sh -c` (as is when already root)."""
    if user == "root":
        return command
    return f"sudo -n -- sh -c {shlex.quote(command)}"


class Session:
    """A reusable SSH connection to one host. Commands run side by side, each on its own channel; a lock
    guards the connection: a dead transport (e.g. after a reboot) is reconnected once per call, before the
    command starts — a command is never sent twice."""

    def __init__(self, host: Host, key: SSHKey, known_hosts: KnownHosts, *, connect_timeout_s: float = 10.0,
                 banner_timeout_s: float = 15.0, auth_timeout_s: float = 15.0, channel_timeout_s: float = 15.0,
                 keepalive_s: int = 15):
        self.host = host
        self.key = key
        self.known_hosts = known_hosts
        self.connect_timeout_s = connect_timeout_s
        self.banner_timeout_s = banner_timeout_s
        self.auth_timeout_s = auth_timeout_s
        self.channel_timeout_s = channel_timeout_s
        self.keepalive_s = keepalive_s
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.RLock()

    @property
    def name(self) -> str:
        return self.host.name

    def __repr__(self) -> str:
        state = "connected" if self.connected else "closed"
        return f"Session({self.host}, {state})"

    # -- connection --------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        t = self._client.get_transport() if self._client else None
        return bool(t and t.is_active())

    def connect(self, *, timeout_s: float | None = None) -> Session:
        """Open the connection (no-op when connected). Raises `AuthFailed` or `HostKeyMismatch`
        (never worth retrying) or `HostUnreachable` (worth retrying while a host boots)."""
        with self._lock:
            if self.connected:
                return self
            self.close()
            h = self.host
            tcp = min(self.connect_timeout_s, timeout_s) if timeout_s else self.connect_timeout_s
            client = paramiko.SSHClient()
            self.known_hosts.prepare(client, h)
            try:
                client.connect(
                    hostname=h.address, port=h.port, username=h.user, pkey=self.key.pkey, sock=tcp_connection(h, tcp),
                    timeout=tcp, banner_timeout=self.banner_timeout_s, auth_timeout=self.auth_timeout_s,
                    channel_timeout=self.channel_timeout_s, look_for_keys=False, allow_agent=False,
                )
            except HostKeyMismatch:
                client.close()
                raise
            except paramiko.BadHostKeyException as e:
                client.close()
                raise self.known_hosts.mismatch(h, e.key) from None
            except paramiko.AuthenticationException as e:
                client.close()
                raise AuthFailed(h.name, h.user, address=f"{h.address}:{h.port}",
                                 fingerprint=self.key.fingerprint, detail=str(e)) from None
            except NETWORK_ERRORS as e:
                client.close()
                raise HostUnreachable(h.name, _describe(e), address=f"{h.address}:{h.port}") from e
            except BaseException:
                client.close()
                raise
            transport = client.get_transport()
            if transport is not None and self.keepalive_s:
                transport.set_keepalive(self.keepalive_s)
            self._client = client
            return self

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> Session:
        return self.connect()

    def __exit__(self, *exc) -> None:
        self.close()

    def _open_channel(self) -> paramiko.Channel:
        """A new session channel; reconnects once if the transport is dead or the open fails."""
        def open_() -> paramiko.Channel:
            transport = self._client.get_transport()
            if transport is None:
                raise EOFError("no transport")
            return transport.open_session(timeout=self.channel_timeout_s)
        return self._reconnecting("could not open a channel", open_)

    def _sftp(self) -> paramiko.SFTPClient:
        def open_() -> paramiko.SFTPClient:
            sftp = self._client.open_sftp()
            sftp.get_channel().settimeout(self.channel_timeout_s)
            return sftp
        return self._reconnecting("could not open SFTP", open_)

    def _reconnecting(self, what: str, open_: Callable[[], T]) -> T:
        """`open_()` on a connected session; on a dead transport close, reconnect and try once more."""
        for attempt in (1, 2):
            try:
                self.connect()
                return open_()
            except (EOFError, OSError, paramiko.SSHException) as e:
                # AuthFailed / HostKeyMismatch are not among these (HostUnreachable is an Exception, not OSError)
                self.close()
                if attempt == 2:
                    raise HostUnreachable(self.host.name, f"{what}: {_describe(e)}",
                                          address=f"{self.host.address}:{self.host.port}") from e
            except HostUnreachable:
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # -- commands ----------------------------------------------------------------------------
    def run(self, cmd: str, *, sudo: bool = False, timeout_s: float = 120, check: bool = True,
            secrets: Sequence[str | SecretStr] = (), input: str | None = None) -> Result:
        """Run `cmd` through the login shell; with `sudo`, as root via `sudo -n`.

        Raises `CommandFailed` on a non-zero exit when `check`, `CommandTimeout` after `timeout_s`,
        `ConnectionLost` if the connection drops mid-command. stdout/stderr of the Result and every
        error text are redacted of `secrets`.
        """
        secrets = list(secrets)
        command = sudo_wrap(cmd, self.host.user) if sudo else cmd
        with self._lock:  # held while the channel opens (and the session reconnects if it must), not while it runs
            chan = self._open_channel()
        try:
            out, err, status = self._exec(chan, command, cmd, timeout_s, secrets, input)
        finally:
            chan.close()
        result = Result(exit_status=status, stdout=redact(out, *secrets), stderr=redact(err, *secrets))
        if check and status != 0:
            raise CommandFailed(self.host.name, cmd, status, tail(err), stdout_tail=tail(out), secrets=secrets)
        return result

    def _exec(self, chan: paramiko.Channel, command: str, shown: str, timeout_s: float,
              secrets: list[str | SecretStr], input: str | None) -> tuple[str, str, int]:
        deadline = Deadline(timeout_s)
        out, err = bytearray(), bytearray()
        try:
            chan.settimeout(self.channel_timeout_s)
            chan.exec_command(command)
            if input is not None:
                chan.sendall(input.encode())
            chan.shutdown_write()
            while True:
                got = False
                while chan.recv_ready():
                    out += chan.recv(65536)
                    got = True
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                    got = True
                if chan.eof_received and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                if chan.closed or not chan.get_transport().is_active():
                    if chan.exit_status_ready():
                        break
                    raise EOFError("transport closed")
                if deadline.passed:
                    raise CommandTimeout(self.host.name, shown, timeout_s, secrets=secrets)
                if not got:  # until output or EOF arrives (the channel's fileno is a pipe paramiko sets then)
                    select.select([chan], [], [], 0.05)
            while not chan.exit_status_ready():
                if deadline.passed:
                    raise CommandTimeout(self.host.name, shown, timeout_s, secrets=secrets)
                if not chan.get_transport().is_active():
                    raise EOFError("transport closed before the exit status arrived")
                chan.status_event.wait(0.05)
            status = chan.recv_exit_status()
        except CommandTimeout:
            raise
        except (EOFError, OSError, paramiko.SSHException) as e:
            # the connection is left to the next call's `connect()`, which replaces it if it is dead: closing it
            # here would end the other commands on this host, or another thread's fresh connection
            raise ConnectionLost(self.host.name, redact(shown, *secrets), _describe(e),
                                 address=f"{self.host.address}:{self.host.port}") from None
        return out.decode(errors="replace"), err.decode(errors="replace"), status

    def open_exec(self, cmd: str, *, sudo: bool = False) -> paramiko.Channel:
        """A new channel running `cmd`, for the caller to stream (e.g. `docker system dial-stdio`).
        The session lock is held only while the channel opens; the caller closes the channel."""
        command = sudo_wrap(cmd, self.host.user) if sudo else cmd
        with self._lock:
            chan = self._open_channel()
        try:
            chan.exec_command(command)
        except (EOFError, OSError, paramiko.SSHException) as e:
            chan.close()
            raise ConnectionLost(self.host.name, cmd, _describe(e),
                                 address=f"{self.host.address}:{self.host.port}") from None
        return chan

    def open_forward(self, host: str, port: int) -> paramiko.Channel:
        """A `direct-tcpip` channel: a TCP connection from this server to `host:port` (resolved there)."""
        for attempt in (1, 2):
            with self._lock:
                try:
                    self.connect()
                    return self._client.get_transport().open_channel(
                        "direct-tcpip", (host, port), ("127.0.0.1", 0), timeout=self.channel_timeout_s)
                except (EOFError, OSError, paramiko.SSHException) as e:
                    if isinstance(e, paramiko.ChannelException) or attempt == 2:
                        raise HostUnreachable(self.host.name, f"could not forward to {host}:{port}: {_describe(e)}",
                                              address=f"{self.host.address}:{self.host.port}") from None
                    self.close()
        raise AssertionError("unreachable")

    # -- files -------------------------------------------------------------------------------
    def put(self, content: bytes | str, remote_path: str, mode: int = 0o644, sudo: bool = False, *,
            owner: str | None = None) -> None:
        """Write `content` to `remote_path` atomically over SFTP, with `mode`.

        With `sudo` (as a non-root user) the bytes go to a private temp file in the user's home and
        `sudo install -m MODE [-o OWNER] tmp remote_path` moves them in place. `owner` ("user" or
        "user:group") is applied with sudo.
        """
        data = content.encode() if isinstance(content, str) else bytes(content)
        direct = not (sudo or owner is not None) or self.host.user == "root"
        with self._lock:
            sftp = self._sftp()
            try:
                if direct:
                    tmp = f"{remote_path}.swarmlab-{uuid.uuid4().hex[:8]}.tmp"
                else:  # relative to the login user's home, where sftp-server starts
                    tmp = f".swarmlab-upload-{uuid.uuid4().hex}"
                try:
                    with sftp.open(tmp, "wb") as f:
                        sftp.chmod(tmp, 0o600)
                        f.set_pipelined(True)
                        f.write(data)
                    if direct:
                        sftp.chmod(tmp, mode)
                        sftp.posix_rename(tmp, remote_path)
                    else:
                        tmp = sftp.normalize(tmp)
                except (OSError, paramiko.SSHException) as e:
                    _quiet_remove(sftp, tmp)
                    raise CommandFailed(self.host.name, f"sftp put {remote_path}", -1, _describe(e)) from None
            finally:
                sftp.close()
            owner_args = ""
            if owner is not None:
                user, _, group = owner.partition(":")
                owner_args = f" -o {shlex.quote(user)}" + (f" -g {shlex.quote(group)}" if group else "")
            if direct:
                if owner is not None:
                    self.run(f"chown {shlex.quote(owner)} {shlex.quote(remote_path)}", timeout_s=60)
                return
            try:
                self.run(f"install -m {mode:o}{owner_args} {shlex.quote(tmp)} {shlex.quote(remote_path)}",
                         sudo=True, timeout_s=60)
            finally:
                self.run(f"rm -f {shlex.quote(tmp)}", check=False, timeout_s=30)

    def read(self, remote_path: str, *, sudo: bool = False) -> bytes:
        """The bytes of a remote file (SFTP; through `sudo cat` when `sudo` and not root)."""
        if sudo and self.host.user != "root":
            return self.run(f"cat {shlex.quote(remote_path)}", sudo=True).stdout.encode()
        with self._lock:
            sftp = self._sftp()
            try:
                buf = io.BytesIO()
                sftp.getfo(remote_path, buf)
                return buf.getvalue()
            finally:
                sftp.close()


def _quiet_remove(sftp: paramiko.SFTPClient, path: str) -> None:
    try:
        sftp.remove(path)
    except (OSError, paramiko.SSHException):
        pass


def tcp_connection(host: Host, timeout_s: float) -> socket.socket:
    """A TCP connection to `host` with Nagle's algorithm off. SSH sends small packets back to back (a channel's
    close, then the next one's open; the handshake's steps): with Nagle on, the second waits for the peer's
    delayed ACK, about 40 ms, on every command. Fails as paramiko's own connect does (NoValidConnectionsError
    when every address refuses)."""
    errors: dict = {}
    for family, _, _, _, addr in socket.getaddrinfo(host.address, host.port, socket.AF_UNSPEC, socket.SOCK_STREAM):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout_s)
            sock.connect(addr)
        except OSError as e:
            sock.close()
            if e.errno not in (errno.ECONNREFUSED, errno.EHOSTUNREACH):
                raise
            errors[addr] = e
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise NoValidConnectionsError(errors)


def _describe(e: BaseException) -> str:
    text = str(e) or repr(e)
    return f"{type(e).__name__}: {text}"

