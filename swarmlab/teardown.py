"""Find everything a lab owns (exact tags + name prefix) and delete it in dependency order."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict

from swarmlab.sakura import ResourceFailed, SakuraClient
from swarmlab.spec import LAB_TAG

log = logging.getLogger("swarmlab.teardown")
KINDS = ("servers", "disks", "nfs", "registries", "notes", "switches")  # deletion order
STOP_TIMEOUT_S = 600.0


class LabResources(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    servers: list = []
    disks: list = []
    nfs: list = []
    registries: list = []
    notes: list = []
    switches: list = []

    def names(self) -> list[str]:
        return sorted(f"{kind}:{r.name}" for kind in KINDS for r in getattr(self, kind))

    @property
    def empty(self) -> bool:
        return not self.names()


def lab_tags(lab: str) -> list[str]:
    return [LAB_TAG, f"{LAB_TAG}-lab={lab}"]


def owned(resource, lab: str) -> bool:
    """Ours only if it carries both tags AND its name is the lab's (`<lab>-...`)."""
    return set(lab_tags(lab)) <= set(resource.tags) and resource.name.startswith(f"{lab}-")


def find_lab(client: SakuraClient, lab: str) -> LabResources:
    """Every resource of `lab` in the client's zone."""
    tags = lab_tags(lab)
    return LabResources(**{kind: [r for r in getattr(client, kind).find(tags=tags) if owned(r, lab)]
                           for kind in KINDS})


def _settle(wait) -> None:
    """Wait for a transition to end; one that ends `failed` is as good for deleting."""
    try:
        wait()
    except ResourceFailed:
        pass


def delete_server(client: SakuraClient, server) -> str:
    """Force off if running, then delete with its disks."""
    srv = client.servers.get(server.id)
    copying = [d.id for d in srv.disks if d.availability == "migrating"]
    for disk_id in copying:  # a build killed mid-way: the disk copy must finish before anything is deleted
        _settle(lambda: client.disks.wait_available(disk_id, timeout_s=STOP_TIMEOUT_S))
    if copying:
        srv = client.servers.get(srv.id)
    if srv.status != "down":
        client.servers.power_off(srv.id, force=True)
        client.servers.wait_down(srv.id, timeout_s=STOP_TIMEOUT_S)
    client.servers.delete(srv.id, with_disks=[d.id for d in srv.disks])
    return f"servers {srv.name}"


def delete_nfs(client: SakuraClient, nfs) -> str:
    cur = client.nfs.get(nfs.id)
    if cur.availability == "migrating":  # still being created (a build killed mid-way): it boots once created
        _settle(lambda: client.nfs.wait_up(cur.id, timeout_s=STOP_TIMEOUT_S))
        cur = client.nfs.get(cur.id)
    if cur.status != "down":
        client.nfs.power_off(cur.id, force=True)
        client.nfs.wait_down(cur.id, timeout_s=STOP_TIMEOUT_S)
    client.nfs.delete(cur.id)
    return f"nfs {cur.name}"


def delete_simple(client: SakuraClient, kind: str, resource) -> str:
    getattr(client, kind).delete(resource.id)
    return f"{kind} {resource.name}"


def mark_teardown(client: SakuraClient, lab: str, now: datetime | None = None) -> list[str]:
    """Tag the lab's switch `swarmlab-teardown=<now>` (kept if already there) so provision stops adopting it.

    The switch is deleted last, so the marker stays visible until nothing else of the lab is left.
    """
    from swarmlab.lifecycle import parse_teardown, teardown_tag

    marked = []
    for sw in client.switches.find(name=f"{lab}-switch", tags=lab_tags(lab)):
        if owned(sw, lab) and parse_teardown(sw.tags) is None:
            client.switches.set_tags(sw.id, [*sw.tags, teardown_tag(now or datetime.now(timezone.utc))])
            marked.append(sw.name)
    return marked
