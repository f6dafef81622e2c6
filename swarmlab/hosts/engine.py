"""Docker engines and the lab registry, reached from this machine over loopback relays.

- `DialStdioTunnel`: a lab host's engine. docker-py's own `ssh://` transport cannot take our key, our
  pinned host keys or our sessions, so every connection accepted on 127.0.0.1:<port>
  runs `docker system dial-stdio` on the host over a new exec channel of an SSH session; the SDK talks
  plain HTTP to `tcp://127.0.0.1:<port>` and the engine sees an ordinary client on its socket.
- `registry_route`: how this machine's engine pushes to the lab's registry: by name, through a
  `TcpRelay` (plain TCP to the registry's lab address) or a `ForwardTunnel` (SSH direct-tcpip).

All are a `Relay`: nothing listens beyond loopback.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import socket
import threading
from collections.abc import Callable, Iterator
from typing import NamedTuple

import docker
import paramiko

from swarmlab.hosts import HostError, Session

log = logging.getLogger(__name__)

DIAL_COMMAND = "docker system dial-stdio"
API_TIMEOUT_S = 900


def _close(upstream) -> None:
    """Close an upstream whose transport may be gone already (a paramiko channel raises EOFError then)."""
    with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
        upstream.close()


class Relay:
    """A listener on 127.0.0.1:<random port> that joins every accepted connection to a new upstream
    (`_open()`) and pumps bytes both ways until both sides are done. Nothing listens beyond loopback."""

    describe = "relay"

    def __init__(self):
        self._listener: socket.socket | None = None
        self._closed = threading.Event()
        self._conns: set[tuple[socket.socket, object]] = set()
        self._lock = threading.Lock()
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        ls.settimeout(0.5)
        self._listener, self.port = ls, ls.getsockname()[1]
        threading.Thread(target=self._accept, name=self.describe, daemon=True).start()
        return self

    def _open(self):
        """A new upstream connection: anything with recv, sendall and close."""
        raise NotImplementedError

    @staticmethod
    def _shutdown_write(upstream) -> None:
        upstream.shutdown(socket.SHUT_WR)

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closed.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True, name=f"{self.describe} conn").start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            upstream = self._open()
        except (HostError, OSError) as e:
            log.warning("%s: %s", self.describe, e)
            sock.close()
            return
        with self._lock:
            self._conns.add((sock, upstream))
        up = threading.Thread(target=self._pump, args=(sock, upstream, lambda: self._shutdown_write(upstream)),
                              daemon=True)
        up.start()
        try:
            self._pump(upstream, sock, lambda: sock.shutdown(socket.SHUT_WR))
        finally:
            up.join(timeout=5)
            _close(upstream)
            sock.close()
            with self._lock:
                self._conns.discard((sock, upstream))

    @staticmethod
    def _pump(src, dst, done: Callable[[], None]) -> None:
        """Copy `src` to `dst` until EOF or an error, then `done()` (half-close `dst`)."""
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                done()

    def close(self) -> None:
        self._closed.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):  # stops listening now, not when accept() next times out
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for sock, upstream in conns:
            _close(upstream)
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class DialStdioTunnel(Relay):
    """127.0.0.1:<port> → `docker system dial-stdio` on `session`'s host, one exec channel per connection.

    The SSH user must be allowed to use the engine (the lab's `ubuntu` is in the `docker` group);
    `sudo=True` runs the dialer as root instead.
    """

    def __init__(self, session: Session, *, sudo: bool = False, command: str = DIAL_COMMAND):
        super().__init__()
        self.session, self.sudo, self.command = session, sudo, command
        self.describe = f"docker tunnel to {session.name}"

    @property
    def base_url(self) -> str:
        return f"tcp://{self.address}"

    def _open(self) -> paramiko.Channel:
        return self.session.open_exec(self.command, sudo=self.sudo)

    @staticmethod
    def _shutdown_write(upstream) -> None:
        upstream.shutdown_write()


class ForwardTunnel(DialStdioTunnel):
    """127.0.0.1:<port> → `host:port` as seen from `session`'s server (SSH direct-tcpip), e.g. a registry
    that only the lab can reach."""

    def __init__(self, session: Session, host: str, port: int):
        super().__init__(session)
        self.target = (host, port)
        self.describe = f"forward via {session.name} to {host}:{port}"

    def _open(self) -> paramiko.Channel:
        return self.session.open_forward(*self.target)


class TcpRelay(Relay):
    """127.0.0.1:<port> → `host:port` over plain TCP from this machine (no SSH, no crypto in Python)."""

    def __init__(self, host: str, port: int, connect_timeout_s: float = 5.0):
        super().__init__()
        self.target, self.connect_timeout_s = (host, port), connect_timeout_s
        self.describe = f"relay to {host}:{port}"

    def _open(self) -> socket.socket:
        upstream = socket.create_connection(self.target, timeout=self.connect_timeout_s)
        upstream.settimeout(None)
        return upstream


def reachable(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """Does a TCP connection from this machine to host:port succeed?"""
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def addresses(name: str) -> set[str]:
    """The IPv4 addresses this machine resolves `name` to (empty when it does not)."""
    try:
        return {a[4][0] for a in socket.getaddrinfo(name, None, socket.AF_INET)}
    except OSError:
        return set()


class RegistryRoute(NamedTuple):
    """`via`: "127.0.0.1:PORT" to push to, or None to push by name. `lan`: this machine reaches the registry's
    lab address directly (the local lab's shared segment), so bytes to it cost no network."""
    via: str | None
    lan: bool = False


@contextlib.contextmanager
def registry_route(fqdn: str, port: int, session: Session) -> Iterator[RegistryRoute]:
    """How this machine's engine reaches the registry the lab knows as `fqdn`.

    The lab's view wins: `session`'s host resolves `fqdn`. By name (`via` None) when this machine resolves it
    to the same address (the real `<name>.sakuracr.jp`). Else through "127.0.0.1:PORT": a `TcpRelay` to that
    address when this machine reaches it (the local lab's shared segment: `lan`), else a `ForwardTunnel`
    through `session`. The engine treats 127.0.0.0/8 registries as insecure (TLS without verification); the
    bytes still go to the address the lab itself uses, never to what a name means outside the lab.
    """
    r = session.run(f"getent ahostsv4 {shlex.quote(fqdn)}", check=False, timeout_s=30)
    lab_address = r.stdout.split()[0] if r.ok and r.stdout.split() else None
    if lab_address and lab_address in addresses(fqdn):
        yield RegistryRoute(None)
        return
    lan = bool(lab_address) and reachable(lab_address, port)
    relay = TcpRelay(lab_address, port) if lan else ForwardTunnel(session, fqdn, port)
    log.info("registry %s: pushing through %s", fqdn, relay.describe)
    with relay:
        yield RegistryRoute(relay.address, lan)


@contextlib.contextmanager
def remote_engine(session: Session, *, timeout_s: float = API_TIMEOUT_S,
                  sudo: bool = False) -> Iterator[docker.DockerClient]:
    """A DockerClient for the engine of `session`'s host (through a `DialStdioTunnel`; `sudo`: dialer as root)."""
    with DialStdioTunnel(session, sudo=sudo) as tunnel:
        client = docker.DockerClient(base_url=tunnel.base_url, version="auto", timeout=timeout_s)
        try:
            yield client
        finally:
            client.close()


@contextlib.contextmanager
def local_engine(*, timeout_s: float = API_TIMEOUT_S) -> Iterator[docker.DockerClient]:
    """The controller's own engine (DOCKER_HOST or the default socket)."""
    client = docker.from_env(timeout=timeout_s)
    try:
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def engine_connector(session: Session | None, *, engine: str = "ssh",
                     timeout_s: float = API_TIMEOUT_S) -> Iterator[Callable[[], docker.DockerClient]]:
    """A factory of DockerClients (one per thread) for the build engine.

    engine="ssh": `session`'s host engine through one `DialStdioTunnel` (give it a session of its own, so
    other tasks' reconnects never touch its channels). engine="local":
    the controller's engine (`docker.from_env()`), for a controller that reaches the registry itself.
    """
    if engine == "local":
        yield lambda: docker.from_env(timeout=timeout_s)
        return
    if engine != "ssh":
        raise ValueError(f"engine must be 'ssh' (a manager's engine through SSH) or 'local', not {engine!r}")
    if session is None:
        raise ValueError("engine='ssh' needs a session to the build host")
    with DialStdioTunnel(session) as tunnel:
        yield lambda: docker.DockerClient(base_url=tunnel.base_url, version="auto", timeout=timeout_s)
