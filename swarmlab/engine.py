"""A docker SDK client for a lab host's engine, through SSH (`docker system dial-stdio`), or the local one.

docker-py's own `ssh://` transport cannot take our key, our pinned host keys or our sessions
(prefect-notes §8), so the tunnel is ours: a listener on 127.0.0.1:<random port> whose every
accepted connection runs `docker system dial-stdio` on the host over a new exec channel of an SSH
session and pumps bytes both ways. The SDK talks plain HTTP to `tcp://127.0.0.1:<port>`; the engine
sees an ordinary client on its socket. Nothing listens beyond loopback.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator

import docker
import paramiko

from swarmlab.hosts import HostError, Session

log = logging.getLogger(__name__)

DIAL_COMMAND = "docker system dial-stdio"
API_TIMEOUT_S = 900


class DialStdioTunnel:
    """127.0.0.1:<port> → `docker system dial-stdio` on `session`'s host, one exec channel per connection.

    The SSH user must be allowed to use the engine (the lab's `ubuntu` is in the `docker` group);
    `sudo=True` runs the dialer as root instead.
    """

    def __init__(self, session: Session, *, sudo: bool = False, command: str = DIAL_COMMAND):
        self.session = session
        self.sudo = sudo
        self.command = command
        self.describe = f"docker tunnel to {session.name}"
        self._listener: socket.socket | None = None
        self._closed = threading.Event()
        self._conns: set[tuple[socket.socket, paramiko.Channel]] = set()
        self._lock = threading.Lock()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> DialStdioTunnel:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        ls.settimeout(0.5)
        self._listener, self.port = ls, ls.getsockname()[1]
        threading.Thread(target=self._accept, name=f"dial-stdio-{self.session.name}", daemon=True).start()
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closed.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True,
                             name=f"dial-stdio-conn-{self.session.name}").start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            chan = self._channel()
        except HostError as e:
            log.warning("%s: %s", self.describe, e)
            sock.close()
            return
        with self._lock:
            self._conns.add((sock, chan))
        up = threading.Thread(target=self._sock_to_chan, args=(sock, chan), daemon=True)
        up.start()
        try:
            while True:
                data = chan.recv(65536)
                if not data:
                    break
                sock.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            up.join(timeout=5)
            chan.close()
            sock.close()
            with self._lock:
                self._conns.discard((sock, chan))

    def _channel(self) -> paramiko.Channel:
        return self.session.open_exec(self.command, sudo=self.sudo)

    @staticmethod
    def _sock_to_chan(sock: socket.socket, chan: paramiko.Channel) -> None:
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chan.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                chan.shutdown_write()

    def close(self) -> None:
        self._closed.set()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for sock, chan in conns:
            chan.close()
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> DialStdioTunnel:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class ForwardTunnel(DialStdioTunnel):
    """127.0.0.1:<port> → `host:port` as seen from `session`'s server (SSH direct-tcpip), e.g. a registry
    that only the lab can reach. The local engine treats 127.0.0.0/8 registries as insecure (TLS without
    verification): the hop to the server is SSH, and the server reaches the registry by its own name."""

    def __init__(self, session: Session, host: str, port: int):
        super().__init__(session)
        self.target = (host, port)
        self.describe = f"forward via {session.name} to {host}:{port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _channel(self) -> paramiko.Channel:
        return self.session.open_forward(*self.target)


@contextlib.contextmanager
def remote_engine(session: Session, *, timeout_s: float = API_TIMEOUT_S) -> Iterator[docker.DockerClient]:
    """A DockerClient for the engine of `session`'s host (through a `DialStdioTunnel`)."""
    with DialStdioTunnel(session) as tunnel:
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

    engine="ssh": `session`'s host engine through one `DialStdioTunnel` (give it a session of its own:
    a Session serialises its commands, and other tasks may be using the fleet's). engine="local":
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
