"""What every part of the docker backend shares: labels, errors, file writes, and `Scope`, one emulator
instance's view of the Docker daemon (names, labels, per-resource locks, waits and removals)."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import docker
from docker.errors import APIError, NotFound
from docker.types import Mount

from ..poll import poll_until

VM_IMAGE = "lab/vm:bookworm"
REGISTRY_IMAGE = "lab/registry:2.8"
BASE_IMAGE = "lab/base:bookworm"

L_INSTANCE = "sakura-emulator.instance"
L_RESOURCE = "sakura-emulator.resource"
L_KIND = "sakura-emulator.kind"
L_TAGS = "sakura-emulator.tags"

READY_TIMEOUT = 30          # seconds a registry (or the hub) has to answer on its port
EXITS_LOCK = Path(os.environ.get("SWARMLAB_EMULATOR_EXITS_LOCK", "/tmp/swarmlab-emulator-exits.lock"))

_exits_held = threading.local()
_exits_threads = threading.Lock()


class DockerBackendError(RuntimeError):
    pass


@contextmanager
def container_exits() -> Iterator[None]:
    """Held while one container is stopped, killed or removed, by every emulator process on this machine
    (a thread lock and a flock on EXITS_LOCK); re-entrant in a thread. Docker 20.10 (Debian 12's docker.io) can
    deadlock when containers on one network exit at once (libnetwork's getSvcRecords against
    processEndpointDelete, moby/moby#42545, fixed after 20.10.24): the whole daemon then hangs."""
    if getattr(_exits_held, "depth", 0):
        _exits_held.depth += 1
        try:
            yield
        finally:
            _exits_held.depth -= 1
        return
    with _exits_threads, open(EXITS_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        _exits_held.depth = 1
        try:
            yield
        finally:
            _exits_held.depth = 0
            fcntl.flock(f, fcntl.LOCK_UN)


def safe_name(s: str) -> str:
    s = re.sub(r"[^a-zA-Z0-9_.-]+", "-", s).strip("-.")
    return s or "x"


def safe_hostname(s: str) -> str:
    s = re.sub(r"[^a-zA-Z0-9-]+", "-", s).strip("-")[:63]
    return s or "localhost"


def write_file(path: Path, data: str | bytes, mode: int = 0o644) -> bool:
    """Atomic write; returns True when the content changed."""
    raw = data.encode() if isinstance(data, str) else data
    if path.exists() and path.read_bytes() == raw and (path.stat().st_mode & 0o777) == mode:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(raw)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def tcp_open(ip: str | None, port: int) -> bool:
    if not ip:
        return False
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


class Scope:
    """One emulator instance on the daemon: only objects labelled with its name are ever touched."""

    def __init__(self, instance: str, state_dir: Path, client: docker.DockerClient, cleanup_image: str) -> None:
        self.instance = instance
        self.state_dir = state_dir
        self.client = client
        self.cleanup_image = cleanup_image      # runs `rm -rf` on trees this process may not remove
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def labels(self, resource: str, kind: str, tags: list[str] | None = None) -> dict[str, str]:
        return {L_INSTANCE: self.instance, L_RESOURCE: resource, L_KIND: kind, L_TAGS: ",".join(tags or [])}

    def filters(self, resource: str | None = None, kind: str | None = None) -> dict:
        labels = [f"{L_INSTANCE}={self.instance}"]
        if resource is not None:
            labels.append(f"{L_RESOURCE}={resource}")
        if kind is not None:
            labels.append(f"{L_KIND}={kind}")
        return {"label": labels}

    def ours(self, labels: dict | None) -> bool:
        return (labels or {}).get(L_INSTANCE) == self.instance

    def lock(self, resource: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(resource, threading.Lock())

    def container(self, resource: str, kind: str):
        """The container of a resource (server, registry, hub), or None."""
        cs = self.client.containers.list(all=True, filters=self.filters(resource, kind))
        return cs[0] if cs else None

    def address_on(self, network: str, c) -> str | None:
        if c is None:
            return None
        return (c.attrs["NetworkSettings"]["Networks"].get(network) or {}).get("IPAddress") or None

    def ensure_volume(self, name: str, resource: str, kind: str, tags: list[str]) -> None:
        try:
            v = self.client.volumes.get(name)
            if not self.ours(v.attrs.get("Labels")):
                raise DockerBackendError(f"docker volume {name} exists but is not this instance's")
        except NotFound:
            self.client.volumes.create(name, labels=self.labels(resource, kind, tags))

    def remove_container(self, c) -> None:
        try:
            with container_exits():
                c.remove(force=True, v=True)
        except NotFound:
            pass
        except APIError as e:
            if "already in progress" not in str(e.explanation):
                raise

    def remove_volume(self, name: str) -> None:
        def removed() -> bool:
            try:
                self.client.volumes.get(name).remove(force=True)
            except NotFound:
                pass
            except APIError as e:
                if e.status_code == 409:        # still in use: its container is going away
                    return False
                raise
            return True

        if not poll_until(removed, 10):
            self.client.volumes.get(name).remove(force=True)    # the last try raises what stops it

    def remove_resource(self, resource: str) -> None:
        """Every container and volume labelled with this resource id."""
        for c in self.client.containers.list(all=True, filters=self.filters(resource)):
            self.remove_container(c)
        for v in self.client.volumes.list(filters=self.filters(resource)):
            self.remove_volume(v.name)

    def rmtree(self, d: Path) -> None:
        """Remove a tree that VMs' root may have filled; fall back to a throwaway container if we are not root."""
        try:
            shutil.rmtree(d)
        except PermissionError:
            self.client.containers.run(self.cleanup_image, entrypoint=["rm", "-rf", "/x/" + d.name], remove=True,
                                       mounts=[Mount("/x", str(d.parent), type="bind")],
                                       labels=self.labels("cleanup", "cleanup"))

    def wait_running(self, c, timeout: float = 10) -> None:
        def settled() -> bool:
            c.reload()
            return c.attrs["State"].get("Running") or c.attrs["State"].get("Status") == "exited"

        poll_until(settled, timeout, interval=0.05)
        st = c.attrs["State"]
        if not st.get("Running"):
            tail = c.logs(tail=20).decode(errors="replace")
            raise DockerBackendError(f"{c.name} is {st.get('Status')} (exit {st.get('ExitCode')}): {tail}")

    def wait_tcp(self, address: Callable[[], str | None], port: int, what: str) -> None:
        seen: list[str | None] = [None]

        def answers() -> bool:
            seen[0] = address()
            return tcp_open(seen[0], port)

        if not poll_until(answers, READY_TIMEOUT):
            raise DockerBackendError(f"{what} does not answer on {seen[0]}:{port} after {READY_TIMEOUT} s")
