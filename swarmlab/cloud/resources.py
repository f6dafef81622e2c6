"""A lab's resources in the cloud: their kinds, which are the lab's (`owned`) and a snapshot of them all (`find_lab`)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from swarmlab.render.filters import owned as owned_filter
from swarmlab.sakura import SakuraClient
from swarmlab.sakura.base import Resource
from swarmlab.sakura.models import NFS, Database, Disk, Internet, Note, PacketFilter, Registry, Server, Switch
from swarmlab.spec import lab_tags


class Kind(StrEnum):
    """A kind of resource a lab owns; its value is the `SakuraClient` accessor and the `LabResources` field."""
    SERVERS = "servers"
    DISKS = "disks"
    NFS = "nfs"
    DATABASES = "databases"
    REGISTRIES = "registries"
    NOTES = "notes"
    SWITCHES = "switches"
    PACKET_FILTERS = "packet_filters"
    INTERNETS = "internets"

    def api(self, client: SakuraClient) -> Resource:
        """The client's accessor for this kind."""
        return {Kind.SERVERS: client.servers, Kind.DISKS: client.disks, Kind.NFS: client.nfs,
                Kind.DATABASES: client.databases, Kind.REGISTRIES: client.registries, Kind.NOTES: client.notes, Kind.SWITCHES: client.switches,
                Kind.PACKET_FILTERS: client.packet_filters, Kind.INTERNETS: client.internets}[self]


# tagged, deletion order (a router+switch goes with its switch, once no server is on it)
KINDS = (Kind.SERVERS, Kind.DISKS, Kind.NFS, Kind.DATABASES, Kind.REGISTRIES, Kind.NOTES, Kind.INTERNETS, Kind.SWITCHES)
FILTERS = Kind.PACKET_FILTERS  # no tags: owned by exact name prefix + the lab's marker in Description


class LabResources(BaseModel):
    """One lab's resources in one zone, as listed at one moment."""
    model_config = ConfigDict(arbitrary_types_allowed=True)
    servers: list[Server] = []
    disks: list[Disk] = []
    nfs: list[NFS] = []
    databases: list[Database] = []
    registries: list[Registry] = []
    notes: list[Note] = []
    switches: list[Switch] = []
    packet_filters: list[PacketFilter] = []
    internets: list[Internet] = []

    def of(self, kind: Kind) -> list:
        return {Kind.SERVERS: self.servers, Kind.DISKS: self.disks, Kind.NFS: self.nfs,
                Kind.DATABASES: self.databases, Kind.REGISTRIES: self.registries, Kind.NOTES: self.notes, Kind.SWITCHES: self.switches,
                Kind.PACKET_FILTERS: self.packet_filters, Kind.INTERNETS: self.internets}[Kind(kind)]

    @property
    def lab_switch_ids(self) -> set[str]:
        """The lab's switches and its routers' switches (a server's NIC on them is the lab's)."""
        return {str(s.id) for s in self.switches} | {str(r.switch_id) for r in self.internets if r.switch_id}

    def names(self) -> list[str]:
        return sorted(f"{kind}:{r.name}" for kind in (*KINDS, FILTERS) for r in self.of(kind))

    @property
    def empty(self) -> bool:
        return not self.names()


def owned(resource, lab: str) -> bool:
    """Ours only if it carries both tags AND its name is the lab's (`<lab>-...`)."""
    return set(lab_tags(lab)) <= set(resource.tags) and resource.name.startswith(f"{lab}-")


def find_lab(client: SakuraClient, lab: str) -> LabResources:
    """Every resource of `lab` in the client's zone."""
    tags = lab_tags(lab)
    found = {kind.value: [r for r in kind.api(client).find(tags=tags) if owned(r, lab)] for kind in KINDS}
    return LabResources(**found, packet_filters=find_filters(client, lab))


def find_filters(client: SakuraClient, lab: str) -> list[PacketFilter]:
    """The lab's packet filters: name `<lab>-filter...` and the lab's marker in Description."""
    raw = client.packet_filters.find_raw({"Name": f"{lab}-filter"})
    return [f for f in (client.packet_filters.model.model_validate(x) for x in raw)
            if owned_filter(lab, f.name, f.description)]
