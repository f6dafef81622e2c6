"""Inventory: what a lab is made of in the cloud, as provision found or created it."""

from __future__ import annotations

from ipaddress import IPv4Network

from pydantic import BaseModel, ConfigDict

from swarmlab.render.keepalived import edge_addresses
from swarmlab.spec import Role


class ServerInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    role: Role
    id: str
    address: str | None          # public IP (shared segment; a pair's HAProxy: its router-block address): SSH
    private_ip: str
    status: str


class Inventory(BaseModel):
    lab: str
    zone: str
    switch_id: str
    servers: list[ServerInfo]
    nfs_id: str
    nfs_ip: str
    registry_id: str
    registry_fqdn: str
    registry_user: str
    router_id: str | None = None        # edge: pair: the router+switch and its block of public addresses
    router_block: str | None = None
    db_id: str | None = None            # database: appliance: the appliance and where it listens (`ip:port`)
    db_address: str | None = None
    created: list[str] = []
    unchanged: list[str] = []

    def by_role(self, role: Role) -> list[ServerInfo]:
        return [s for s in self.servers if s.role == role]

    def server(self, name: str) -> ServerInfo:
        return next(s for s in self.servers if s.name == name)

    @property
    def private_ips(self) -> dict[str, str]:
        """Server name → its lab-switch address: what swarm, HAProxy and the stack's checks use."""
        return {s.name: s.private_ip for s in self.servers}

    @property
    def vip(self) -> str | None:
        """An `edge: pair` lab's floating address (keepalived moves it between the pair); None for a single edge."""
        return str(edge_addresses(IPv4Network(self.router_block))[0]) if self.router_block else None

    @property
    def edge_address(self) -> str | None:
        """Where users reach the lab: the VIP of a pair, else the HAProxy server's address."""
        return self.vip or next((s.address for s in self.by_role(Role.haproxy)), None)

    @property
    def changed(self) -> bool:
        return bool(self.created)
