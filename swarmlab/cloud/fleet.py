"""Fleet: SSH sessions to a lab's servers, opened lazily and shared by every task of a flow run."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from swarmlab.hosts import Host, KnownHosts, Session, SSHKey, run_parallel, wait_reachable
from swarmlab.cloud.inventory import Inventory
from swarmlab.spec import Role

REACHABLE_TIMEOUT_S = 600.0


def known_hosts_path(lab: str) -> Path:
    """Host keys are pinned per lab, keyed by server ID (provision pins the key it ships to each server)."""
    return Path(os.environ.get("SWARMLAB_STATE_DIR", ".state")) / "known_hosts" / f"{lab}.json"


class Fleet:
    """The lab's hosts by name; `session(name)` waits for the host to answer SSH on first use."""

    def __init__(self, inventory: Inventory, key: SSHKey, user: str = "ubuntu",
                 known_hosts: KnownHosts | None = None, timeout_s: float = REACHABLE_TIMEOUT_S):
        self.inventory = inventory
        self.key = key
        self.known_hosts = known_hosts or KnownHosts(known_hosts_path(inventory.lab), tofu=False)
        self.timeout_s = timeout_s
        self.hosts = {s.name: Host(name=s.name, address=s.address, private_ip=s.private_ip, user=user,
                                   server_id=s.id) for s in inventory.servers}
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._host_locks = {name: threading.Lock() for name in self.hosts}

    def names(self, *roles: Role) -> list[str]:
        return [s.name for s in self.inventory.servers if not roles or s.role in roles]

    def session(self, name: str) -> Session:
        with self._host_locks[name]:
            s = self._sessions.get(name)
            if s is None or not s.connected:
                s = wait_reachable(self.hosts[name], self.key, self.known_hosts, timeout_s=self.timeout_s)
                with self._lock:
                    self._sessions[name] = s
            return s

    def sessions(self, names: list[str]) -> dict[str, Session]:
        """Sessions to `names`, connected in parallel."""
        return run_parallel({n: n for n in names}, self.session)

    def drop(self, name: str) -> None:
        """Close and forget `name`'s session (its host is going away): the next use opens a new one."""
        with self._host_locks[name]:
            with self._lock:
                s = self._sessions.pop(name, None)
            if s is not None:
                s.close()

    def close(self) -> None:
        with self._lock:
            for s in self._sessions.values():
                s.close()
            self._sessions.clear()
