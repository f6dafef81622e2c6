"""A lab's resources in the cloud: which are the lab's (`owned`) and a snapshot of them all (`find_lab`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from swarmlab.render.filters import owned as owned_filter
from swarmlab.sakura import SakuraClient
from swarmlab.spec import lab_tags

KINDS = ("servers", "disks", "nfs", "registries", "notes", "switches")  # tagged kinds, deletion order
FILTERS = "packet_filters"  # no tags: owned by exact name prefix + the lab's marker in Description


class LabResources(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    servers: list = []
    disks: list = []
    nfs: list = []
    registries: list = []
    notes: list = []
    switches: list = []
    packet_filters: list = []

    def names(self) -> list[str]:
        return sorted(f"{kind}:{r.name}" for kind in (*KINDS, FILTERS) for r in getattr(self, kind))

    @property
    def empty(self) -> bool:
        return not self.names()


def owned(resource, lab: str) -> bool:
    """Ours only if it carries both tags AND its name is the lab's (`<lab>-...`)."""
    return set(lab_tags(lab)) <= set(resource.tags) and resource.name.startswith(f"{lab}-")


def find_lab(client: SakuraClient, lab: str) -> LabResources:
    """Every resource of `lab` in the client's zone."""
    tags = lab_tags(lab)
    found = {kind: [r for r in getattr(client, kind).find(tags=tags) if owned(r, lab)] for kind in KINDS}
    return LabResources(**found, packet_filters=find_filters(client, lab))


def find_filters(client: SakuraClient, lab: str) -> list:
    """The lab's packet filters: name `<lab>-filter...` and the lab's marker in Description."""
    raw = client.packet_filters.find_raw({"Name": f"{lab}-filter"})
    return [f for f in (client.packet_filters.model.model_validate(x) for x in raw)
            if owned_filter(lab, f.name, f.description)]
