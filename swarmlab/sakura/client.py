"""`SakuraClient`: one object per (credentials, zone), safe to share between threads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from .archives import Archives
from .databases import Databases
from .disks import Disks
from .interfaces import Interfaces
from .internet import Internets
from .nfs import NFSAppliances
from .packet_filters import PacketFilters
from .notes import Notes
from .prices import Prices
from .registries import Registries
from .servers import Servers
from .ssh_keys import SSHKeys
from .switches import Switches
from .transport import DEFAULT_API_ROOT, SakuraTransport, Transport

__all__ = ["GLOBAL_ZONE", "SakuraClient"]

GLOBAL_ZONE = "is1a"  # the SDK calls global resources (note, sshkey, commonserviceitem) via is1a


class SakuraClient:
    """SAKURA Cloud IaaS API 1.1 client.

    By default calls go over HTTP (`Transport`): `URL = {api_root}/{zone}/api/cloud/1.1/{path}`; HTTP
    Basic auth with the access token and secret; at most `rate_per_s` requests/s across threads, and
    `pace()` (when given) called before every attempt, for a limit shared beyond this process;
    retries per `transport` (503, 423, 409 still_creating, connection errors). `transport=` replaces
    all of that with any `SakuraTransport` (then token, secret, api_root, rate and retries are unused).
    Waiters poll every `poll_interval_s`. Global resources (notes, SSH keys, registries) are called
    through `global_zone`.
    """

    def __init__(self, token: str = "", secret: str | SecretStr = "", zone: str = "",
                 api_root: str = DEFAULT_API_ROOT, rate_per_s: float = 10.0,
                 max_retries: int = 8, timeout_s: float = 30.0, poll_interval_s: float = 2.0,
                 *, global_zone: str = GLOBAL_ZONE, backoff_base_s: float = 0.5,
                 backoff_cap_s: float = 30.0, transport: SakuraTransport | None = None,
                 pace: Callable[[], object] | None = None):
        if transport is None and not token:
            raise ValueError("SAKURA Cloud access token is empty")
        if not zone:
            raise ValueError("SakuraClient needs a zone (is1a, is1b, tk1a, tk1b or tk1v)")
        if transport is None:
            transport = Transport(token, secret, zone, api_root, rate_per_s, max_retries, timeout_s,
                                  backoff_base_s, backoff_cap_s, pace=pace)
        self.zone = zone
        self.global_zone = global_zone
        self.poll_interval_s = poll_interval_s
        self.transport: SakuraTransport = transport
        self.switches = Switches(self)
        self.servers = Servers(self)
        self.interfaces = Interfaces(self)
        self.disks = Disks(self)
        self.archives = Archives(self)
        self.notes = Notes(self)
        self.ssh_keys = SSHKeys(self)
        self.nfs = NFSAppliances(self)
        self.databases = Databases(self)
        self.registries = Registries(self)
        self.packet_filters = PacketFilters(self)
        self.internets = Internets(self)
        self.prices = Prices(self)

    @property
    def api_root(self) -> str:
        return self.transport.api_root

    def request(self, method: str, path: str, *, body: Any = None, query: dict | None = None,
                zone: str | None = None) -> dict[str, Any]:
        """A raw API call (paced, retried, errors typed), for what the accessors do not cover."""
        return self.transport.request(method, path, body=body, query=query, zone=zone)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> SakuraClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SakuraClient(zone={self.zone!r}, api_root={self.api_root!r})"
