"""What the emulator's API layer asks of a backend: the side effects behind API state changes.

The API layer (state, transitions, errors) is the same for every backend. A backend only makes the
world match: `memory` does nothing, `docker` turns servers into VM containers. Calls may block for
seconds (the API layer runs them off the request thread) and must be idempotent: a call repeated
after a crash or restart converges on the same result.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Protocol

#: where routers' public address blocks come from (the docker backend skips blocks docker already uses)
ROUTER_POOL = ipaddress.IPv4Network("198.19.128.0/17")


def free_block(pool: ipaddress.IPv4Network, prefix: int, used) -> str | None:
    """The first /`prefix` of `pool` that overlaps none of `used` (networks or CIDR strings); None if full."""
    nets = [ipaddress.ip_network(u, strict=False) for u in used]
    for candidate in pool.subnets(new_prefix=prefix):
        if not any(candidate.overlaps(n) for n in nets if n.version == 4):
            return str(candidate)
    return None


@dataclass(frozen=True)
class PrivateNIC:
    switch_id: str
    ip: str | None          # the NIC's UserIPAddress, set by PUT /interface or the disk edit
    mask_len: int = 24


@dataclass(frozen=True)
class Note:
    id: str
    content: str            # startup script with @@@VAR@@@ placeholders already substituted


@dataclass(frozen=True)
class ServerRuntime:
    """Everything a backend needs to run a server, assembled from the server, its disk edit and NICs."""

    id: str
    name: str
    hostname: str
    shared_ip: str | None                   # NIC0 on the shared segment (assigned by the emulator)
    private_nics: list[PrivateNIC] = field(default_factory=list)
    ssh_public_keys: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FilterRule:
    """One packet-filter rule as stored by the API (ports: a number or `lo-hi`; None means any)."""

    protocol: str                           # tcp, udp, icmp, fragment, ip
    source_network: str | None
    source_port: str | None
    destination_port: str | None
    action: str                             # allow, deny


@dataclass(frozen=True)
class RegistryUser:
    username: str
    password_bcrypt: str
    permission: str


@dataclass(frozen=True)
class DatabaseRuntime:
    """A database appliance as a backend runs it: where it listens, who may connect, with what."""

    id: str
    switch_id: str
    ip: str
    mask_len: int
    port: int
    user: str
    password: str = field(repr=False)
    source_networks: list[str] = field(default_factory=list)   # [] = any source
    engine: str = "postgres"
    version: str = ""
    tags: list[str] = field(default_factory=list)


class Backend(Protocol):
    def start(self, live_ids: set[str]) -> None:
        """Called once at emulator start: remove anything this instance made whose id is not live."""

    def switch_created(self, switch_id: str, name: str, tags: list[str]) -> None: ...
    def switch_deleted(self, switch_id: str) -> None: ...

    def router_subnet(self, mask_len: int, taken: set[str]) -> str:
        """A free block (CIDR) of public addresses for a new router, overlapping none of `taken`."""

    def internet_created(self, switch_id: str, subnet: str, gateway: str, tags: list[str]) -> None:
        """Make the router's switch: `subnet` with `gateway` on this machine, so its addresses are
        reachable from here as the shared segment's are. `switch_deleted` removes it."""

    def server_power_on(self, server: ServerRuntime) -> None:
        """Create (first boot) or start the server's VM; return once it is running."""

    def server_power_off(self, server_id: str, force: bool) -> None: ...
    def server_deleted(self, server_id: str) -> None:
        """Remove the VM and its volumes (its disks are gone with it)."""

    def nfs_created(self, nfs_id: str, switch_id: str, ip: str, tags: list[str]) -> None: ...
    def nfs_deleted(self, nfs_id: str) -> None: ...
    def nfs_used_bytes(self, nfs_id: str) -> int | None:
        """Bytes the share holds now (for the database monitor's Free-Disk-Size); None if unknown."""

    def database_created(self, db: DatabaseRuntime) -> None:
        """Make the database (its data volume, its server) and start it; return once it accepts connections."""

    def database_power_on(self, db: DatabaseRuntime) -> None:
        """Start it with `db`'s settings; return once it accepts connections."""

    def database_power_off(self, db_id: str, force: bool) -> None: ...
    def database_settings_changed(self, db: DatabaseRuntime) -> None:
        """Apply port, password and source networks (`PUT /appliance/{id}/config`) if it is running."""

    def database_deleted(self, db_id: str) -> None:
        """Remove the server and its data."""

    def database_engine_status(self, db_id: str) -> str:
        """The engine's state for the status endpoint: `running`, or "" if it does not answer."""

    def registry_created(self, registry_id: str, fqdn: str, tags: list[str]) -> None: ...
    def registry_users_changed(self, registry_id: str, users: list[RegistryUser]) -> None: ...
    def registry_deleted(self, registry_id: str) -> None: ...

    def packet_filters_changed(self, table: dict[str, list[FilterRule]]) -> None:
        """The whole table: shared-segment address -> its NIC's filter rules (first match wins). Enforce it
        on packets arriving at those addresses; addresses absent from the table are not filtered."""

    def stop(self) -> None:
        """Emulator shutdown: leave the world as it is (state persists; a restart adopts it)."""


class MemoryBackend:
    """API only: no side effects."""

    def start(self, live_ids: set[str]) -> None: pass
    def switch_created(self, switch_id: str, name: str, tags: list[str]) -> None: pass
    def switch_deleted(self, switch_id: str) -> None: pass

    def router_subnet(self, mask_len: int, taken: set[str]) -> str:
        block = free_block(ROUTER_POOL, mask_len, taken)
        if block is None:
            raise RuntimeError(f"no free /{mask_len} left in {ROUTER_POOL}")
        return block

    def internet_created(self, switch_id: str, subnet: str, gateway: str, tags: list[str]) -> None: pass
    def server_power_on(self, server: ServerRuntime) -> None: pass
    def server_power_off(self, server_id: str, force: bool) -> None: pass
    def server_deleted(self, server_id: str) -> None: pass
    def nfs_created(self, nfs_id: str, switch_id: str, ip: str, tags: list[str]) -> None: pass
    def nfs_deleted(self, nfs_id: str) -> None: pass
    def nfs_used_bytes(self, nfs_id: str) -> int | None: return 0
    def database_created(self, db: DatabaseRuntime) -> None: pass
    def database_power_on(self, db: DatabaseRuntime) -> None: pass
    def database_power_off(self, db_id: str, force: bool) -> None: pass
    def database_settings_changed(self, db: DatabaseRuntime) -> None: pass
    def database_deleted(self, db_id: str) -> None: pass
    def database_engine_status(self, db_id: str) -> str: return "running"
    def registry_created(self, registry_id: str, fqdn: str, tags: list[str]) -> None: pass
    def registry_users_changed(self, registry_id: str, users: list[RegistryUser]) -> None: pass
    def registry_deleted(self, registry_id: str) -> None: pass
    def packet_filters_changed(self, table: dict[str, list[FilterRule]]) -> None: pass
    def stop(self) -> None: pass
