"""Find everything a lab owns (exact tags + name prefix), plan its deletion (pure), and delete it in order.

Only what the lab owns is deleted. A disk attached to one of its servers that is not the lab's is
detached and left; a NIC of one of its servers on a switch that is not the lab's is disconnected from
that switch first (the NIC itself goes with its server, as SAKURA deletes a server's NICs with it).
NotFound while deleting means someone else (another teardown) got there first: it counts as done.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict

from swarmlab.cloud.resources import FILTERS, Kind, LabResources, owned
from swarmlab.sakura import NotFound, ResourceFailed, SakuraAPIError, SakuraClient
from swarmlab.spec import lab_tags

log = logging.getLogger("swarmlab.cloud.teardown")
STOP_TIMEOUT_S = 600.0
ALREADY_DETACHED = ("res_already_disconnected",)


class Step(BaseModel):
    """One line of a deletion plan: what happens to one resource."""
    model_config = ConfigDict(frozen=True)
    action: Literal["disconnect", "detach", "delete"]
    kind: str
    name: str
    id: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.name}" + (f" ({self.detail})" if self.detail else "")


class Outcome(BaseModel):
    """What one delete did: deleted by this run, detached and left, or already gone (another teardown)."""
    deleted: list[str] = []
    detached: list[str] = []
    gone: list[str] = []


class TeardownReport(BaseModel):
    """teardown_lab's result. `plan` is every resource in order with what happens to it; `detached` lists
    what was not the lab's and was left; `nfs_data_bytes` is what the lab's shares held (None: no share,
    or the figure could not be read; `data_destroyed` says whether a share was deleted either way)."""
    lab: str
    zone: str
    dry_run: bool
    forced: bool = False
    plan: list[str] = []
    deleted: list[str] = []
    detached: list[str] = []
    already_gone: list[str] = []
    nfs_data_bytes: int | None = None
    data_destroyed: bool = False
    warnings: list[str] = []

    def markdown(self) -> str:
        head = f"# Teardown of `{self.lab}` ({self.zone}){' — dry run: nothing deleted' if self.dry_run else ''}\n\n"
        if self.forced:
            head += "Forced: protection and unreadable lifecycle tags were overridden.\n\n"
        parts = [head + "## Plan\n\n" + ("\n".join(f"{i}. {p}" for i, p in enumerate(self.plan, 1))
                                         or "nothing to delete")]
        if self.warnings:
            parts.append("## Warnings\n\n" + "\n".join(f"- {w}" for w in self.warnings))
        if not self.dry_run:
            data = ("no NFS share" if not self.data_destroyed else
                    f"yes, {human_bytes(self.nfs_data_bytes)}" if self.nfs_data_bytes is not None
                    else "yes, amount unknown")
            parts.append("## Done\n\n" + "\n".join([f"- deleted {d}" for d in self.deleted]
                                                   + [f"- detached and left: {d}" for d in self.detached]
                                                   + [f"- already gone: {d}" for d in self.already_gone])
                         + f"\n\nData destroyed: {data}. A final listing by the lab's tags found nothing.")
        return "\n\n".join(parts) + "\n"


# ---- the plan (pure)
def human_bytes(n: int | None) -> str:
    if n is None:
        return "an unknown amount"
    return f"~{n / 1e9:.1f} GB" if n >= 1e9 else f"~{n / 1e6:.1f} MB"


def data_warning(name: str, n: int | None) -> str:
    if n is None:
        return f"share {name}: how much data it holds could not be read; whatever it holds will be lost"
    return f"share {name} holds {human_bytes(n)}; it will be lost"


def server_steps(server, owned_disks: set[str], lab_switches: set[str]) -> list[Step]:
    """Disconnect NICs on foreign switches, detach foreign disks, then delete the server with its own disks."""
    steps = [Step(action="disconnect", kind="nic", name=f"{server.name}#{i}", id=str(n.id),
                  detail=f"from switch {n.switch.name or n.switch_id}, not the lab's: the switch is left")
             for i, n in enumerate(server.interfaces)
             if n.switch_id and not n.is_shared and str(n.switch_id) not in lab_switches]
    steps += [Step(action="detach", kind="disks", name=d.name, id=str(d.id),
                   detail=f"from server {server.name}; not the lab's: left")
              for d in server.disks if str(d.id) not in owned_disks]
    mine = [d.name for d in server.disks if str(d.id) in owned_disks]
    steps.append(Step(action="delete", kind="servers", name=server.name, id=str(server.id),
                      detail=f"with disk{'s' if len(mine) > 1 else ''} {', '.join(mine)}" if mine else "no disk"))
    return steps


def plan_teardown(found: LabResources, nfs_bytes: dict[str, int | None] | None = None) -> list[Step]:
    """Every resource of the lab in deletion order: servers (with their own disks), NFS and database, the lab's
    disks left over, registries, notes, packet filters (unattached once the servers are gone), routers+switches
    (nothing is on their switch once the servers are gone), switches last."""
    owned_disks = {str(d.id) for d in found.disks}
    lab_switches = found.lab_switch_ids
    nfs_bytes = nfs_bytes or {}
    steps: list[Step] = []
    for s in sorted(found.servers, key=lambda s: s.name):
        steps += server_steps(s, owned_disks, lab_switches)
    steps += [Step(action="delete", kind="nfs", name=n.name, id=str(n.id),
                   detail=data_warning(n.name, nfs_bytes.get(str(n.id)))) for n in found.nfs]
    steps += [Step(action="delete", kind="databases", name=d.name, id=str(d.id),
                   detail=f"database {d.name}: its data will be lost") for d in found.databases]
    with_servers = {str(d.id) for s in found.servers for d in s.disks}
    steps += [Step(action="delete", kind="disks", name=d.name, id=str(d.id))
              for d in found.disks if str(d.id) not in with_servers]
    steps += [Step(action="delete", kind=kind, name=r.name, id=str(r.id))
              for kind in (Kind.REGISTRIES, Kind.NOTES, FILTERS, Kind.INTERNETS, Kind.SWITCHES)
              for r in found.of(kind)]
    return steps


# ---- side effects
def _settle(wait) -> None:
    """Wait for a transition to end; one that ends `failed` is as good for deleting."""
    try:
        wait()
    except ResourceFailed:
        pass


def _left(action, step: Step) -> str | None:
    """Run a detach/disconnect; None if the thing is already gone or already detached (another teardown)."""
    try:
        action(step.id)
    except NotFound:
        return None
    except SakuraAPIError as e:
        if e.error_code in ALREADY_DETACHED:
            return None
        raise
    return str(step)


def delete_server(client: SakuraClient, server, owned_disks: set[str], lab_switches: set[str]) -> Outcome:
    """Force off if running, detach what is not the lab's, then delete with the lab's own disks."""
    what = f"servers {server.name}"
    try:
        srv = client.servers.get(server.id)
        copying = [d.id for d in srv.disks if d.availability == "migrating"]
        for disk_id in copying:  # a build killed mid-way: the disk copy must finish before anything is deleted
            _settle(lambda: client.disks.wait_available(disk_id, timeout_s=STOP_TIMEOUT_S))
        if srv.status != "down":
            client.servers.power_off(srv.id, force=True)
            client.servers.wait_down(srv.id, timeout_s=STOP_TIMEOUT_S)
        srv = client.servers.get(srv.id)  # as it is now: a disk attached meanwhile is seen
        steps = server_steps(srv, owned_disks, lab_switches)
        detached = [x for s in steps if s.action != "delete"
                    for x in [_left(client.interfaces.disconnect if s.action == "disconnect"
                                    else client.disks.detach, s)] if x]
        for d in detached:
            log.warning("teardown: %s", d)
        mine = [d.id for d in srv.disks if str(d.id) in owned_disks]
        if client.servers.delete(srv.id, with_disks=mine):
            return Outcome(deleted=[what], detached=detached)
        return Outcome(gone=[what], detached=detached)
    except NotFound:
        return Outcome(gone=[what])


def nfs_data_bytes(client: SakuraClient, nfs) -> int | None:
    """How much the share holds (plan size minus the API's latest Free-Disk-Size); None if unreadable."""
    return client.nfs.used_bytes(nfs)


def delete_nfs(client: SakuraClient, nfs) -> Outcome:
    return delete_appliance(client, Kind.NFS, nfs)


def delete_appliance(client: SakuraClient, kind: Kind, appliance) -> Outcome:
    """An NFS or database appliance: wait out its create, force it off, delete it."""
    what = f"{kind} {appliance.name}"
    api = Kind(kind).api(client)
    try:
        cur = api.get(appliance.id)
        if cur.availability == "migrating":  # still being created (a build killed mid-way): it boots once created
            _settle(lambda: api.wait_up(cur.id, timeout_s=STOP_TIMEOUT_S))
            cur = api.get(cur.id)
        if cur.status != "down":
            api.power_off(cur.id, force=True)
            api.wait_down(cur.id, timeout_s=STOP_TIMEOUT_S)
        done = api.delete(cur.id)
    except NotFound:
        done = False
    return Outcome(deleted=[what]) if done else Outcome(gone=[what])


def delete_simple(client: SakuraClient, kind: Kind, resource) -> Outcome:
    what = f"{kind} {resource.name}"
    return Outcome(deleted=[what]) if Kind(kind).api(client).delete(resource.id) else Outcome(gone=[what])


def mark_teardown(client: SakuraClient, lab: str, now: datetime | None = None) -> list[str]:
    """Tag the lab's switch `swarmlab-teardown=<now>` (kept if already there) so provision stops adopting it.

    The switch is deleted last, so the marker stays visible until nothing else of the lab is left.
    """
    from swarmlab.cloud.lifecycle import parse_teardown, teardown_tag

    marked = []
    for sw in client.switches.find(name=f"{lab}-switch", tags=lab_tags(lab)):
        if owned(sw, lab) and parse_teardown(sw.tags) is None:
            try:
                client.switches.set_tags(sw.id, [*sw.tags, teardown_tag(now or datetime.now(timezone.utc))])
            except NotFound:  # another teardown finished meanwhile
                continue
            marked.append(sw.name)
    return marked
