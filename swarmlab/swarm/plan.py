"""Pure planning: LabSpec + what each node says → the ordered swarm actions still needed.

Rules (see docs/architecture.md, "Hosts"):

- Membership is checked against *this* swarm, not just `LocalNodeState`: a manager is in it when
  its cluster ID equals the bootstrap manager's; a worker (which has no cluster ID, moby#32166) when
  its node ID is listed by the managers' `docker node ls` — or, without that list, when its remote
  managers are among this lab's manager IPs.
- A node of this lab in another swarm raises `ForeignSwarm`; the plan never makes a node leave.
- Bootstrap: the first manager (spec order) that is already a manager of a swarm; when no node is
  in any swarm, manager 1 — or, if manager 1 is unreachable, the next reachable manager. Only one
  `Init` is ever planned, and none when nodes are in a swarm whose managers cannot be reached.
- Order: Init → worker Joins (apply runs them in parallel) → manager Joins (one at a time) →
  Drains of the managers not already drained.
- Advertise and join addresses are the nodes' private IPs (the inventory's): the swarm runs on the private switch.
- A manager reporting no leader (quorum lost) raises `SwarmNoLeader`; locked, errored, pending
  nodes and role mismatches raise `SwarmNodeState` — things to fix by hand, not to paper over.
- Nodes missing from `facts` are unreachable: they get no Join, are listed in `unreachable`, and
  an unreachable manager is still drained when `docker node ls` shows it active.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..spec import LabSpec, Role
from .errors import ForeignSwarm, SwarmNoLeader, SwarmNodeState, SwarmUnavailable
from .facts import SWARM_PORT, LocalNodeState, NodeRow, NodeSwarmFacts

__all__ = ["Action", "Drain", "Init", "Join", "SwarmPlan", "plan_swarm"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Init(_Model):
    kind: Literal["init"] = "init"
    host: str
    advertise_addr: str

    def describe(self) -> str:
        return f"{self.host}: init a new swarm advertising {self.advertise_addr}"


class Join(_Model):
    kind: Literal["join"] = "join"
    host: str
    role: Literal["manager", "worker"]
    advertise_addr: str
    manager_addr: str = Field(description="ip:2377 of the bootstrap manager")

    def describe(self) -> str:
        return f"{self.host}: join as {self.role} via {self.manager_addr} advertising {self.advertise_addr}"


class Drain(_Model):
    kind: Literal["drain"] = "drain"
    host: str = Field(description="server name in the spec")
    node: str = Field(description="swarm node ID when known, else the hostname")

    def describe(self) -> str:
        return f"{self.host}: set availability drain (no tasks on managers)"


Action = Annotated[Init | Join | Drain, Field(discriminator="kind")]


class SwarmPlan(_Model):
    lab: str
    bootstrap: str = Field(description="manager that inits the swarm or already leads it; tokens come from it")
    bootstrap_addr: str
    cluster_id: str = Field("", description="the existing swarm's ID; empty when the plan inits one")
    actions: list[Action] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list, description="nodes already in this swarm")
    unreachable: list[str] = Field(default_factory=list, description="spec nodes without facts")
    noop: str | None = Field(None, description="why nothing needs doing, when `actions` is empty")
    nodes: list[NodeRow] = Field(default_factory=list, description="`docker node ls` the plan was made from")

    @property
    def init(self) -> Init | None:
        return next((a for a in self.actions if isinstance(a, Init)), None)

    @property
    def joins(self) -> list[Join]:
        return [a for a in self.actions if isinstance(a, Join)]

    @property
    def drains(self) -> list[Drain]:
        return [a for a in self.actions if isinstance(a, Drain)]

    def describe(self) -> list[str]:
        """One line per action, or the noop reason (for logs and artifacts)."""
        lines = [a.describe() for a in self.actions] or [f"nothing to do: {self.noop}"]
        if self.unreachable:
            lines.append(f"unreachable, not planned: {', '.join(self.unreachable)}")
        return lines


def _short(cluster_id: str) -> str:
    return cluster_id[:12] or "?"


def plan_swarm(spec: LabSpec, addresses: Mapping[str, str], facts: dict[str, NodeSwarmFacts],
               node_rows: list[NodeRow] | None = None) -> SwarmPlan:
    """The actions that make the reachable nodes of `spec` one swarm (see module docstring).

    `addresses` maps server name → private IP (the inventory's `private_ips`); `facts` maps server
    name → its `docker info` swarm facts (absent = unreachable); `node_rows` is `docker node ls` from a
    manager of the swarm, when there is one.
    """
    managers = [(n, addresses[n]) for n in (spec.server_name(s) for s in spec.managers)]
    workers = [(n, addresses[n]) for n in (spec.server_name(s) for s in spec.workers)]
    role_of = {n: Role.manager for n, _ in managers} | {n: Role.worker for n, _ in workers}
    manager_ips = {ip for _, ip in managers}
    nodes = managers + workers
    unreachable = [n for n, _ in nodes if n not in facts]
    reachable = [(n, ip) for n, ip in nodes if n in facts]

    # 1. states nobody should plan around
    for name, _ in reachable:
        f = facts[name]
        if f.no_leader:
            raise SwarmNoLeader(name, f.error)
        if f.local_node_state == LocalNodeState.locked:
            raise SwarmNodeState(name, "the swarm is locked on this node (autolock after a restart): run "
                                       "`docker swarm unlock` with the unlock key, then run the flow again")
        if f.local_node_state == LocalNodeState.error:
            raise SwarmNodeState(name, f"its swarm state is 'error' ({f.error or 'no detail'}): look at "
                                       "`docker info` there; `docker swarm leave --force` resets it")
        if f.local_node_state == LocalNodeState.pending:
            raise SwarmNodeState(name, "it is still joining a swarm (LocalNodeState pending): wait a minute "
                                       "and run again; if it stays pending, `docker swarm leave --force` on it")
        if f.in_swarm and f.control_available and not f.cluster_id:
            raise SwarmNoLeader(name, f.error or "manager reports no cluster ID")

    # 2. the bootstrap manager: already a manager of a swarm, else the first reachable manager
    existing = [(n, ip) for n, ip in managers if n in facts and facts[n].in_swarm and facts[n].control_available]
    cluster_id = facts[existing[0][0]].cluster_id if existing else ""
    row_ids = {r.id for r in node_rows} if node_rows is not None else None
    rows_by_id = {r.id: r for r in node_rows or []}
    rows_by_host = {r.hostname: r for r in node_rows or []}

    def worker_member(name: str, f: NodeSwarmFacts) -> bool:
        """A non-manager node in this swarm? (raises ForeignSwarm / SwarmNodeState otherwise)"""
        ours = bool(f.remote_manager_ips & manager_ips)
        if row_ids is not None and f.node_id in row_ids:
            return True
        if row_ids is not None and ours:
            raise ForeignSwarm(name, f"it believes it is in this lab's swarm, but the managers do not list its "
                                     f"node ID {f.node_id} (it was removed while away)")
        if row_ids is None and ours:
            return True
        addrs = ", ".join(f.remote_managers) or "unknown managers"
        raise ForeignSwarm(name, f"managed by {addrs}")

    if not existing:
        in_some = [n for n, _ in reachable if facts[n].in_swarm]
        if in_some:
            ours = [n for n in in_some if facts[n].remote_manager_ips & manager_ips]
            if ours:
                raise SwarmUnavailable(ours[0], f"{', '.join(ours)} are in a swarm managed by this lab's "
                                                f"managers, but none of them is reachable or a manager "
                                                f"({', '.join(n for n, _ in managers if n in unreachable) or 'all reachable'}"
                                                " unreachable)")
            f = facts[in_some[0]]
            raise ForeignSwarm(in_some[0], f"managed by {', '.join(f.remote_managers) or 'unknown managers'}")
        candidates = [(n, ip) for n, ip in managers if n in facts]
        if not candidates:
            raise SwarmUnavailable(spec.name, f"no manager of lab {spec.name} is reachable "
                                              f"({', '.join(n for n, _ in managers)})")
        bootstrap, bootstrap_ip = candidates[0]
    else:
        bootstrap, bootstrap_ip = existing[0]

    join_addr = f"{bootstrap_ip}:{SWARM_PORT}"
    actions: list[Init | Join | Drain] = []
    members: list[str] = []
    joining: set[str] = set()
    if not existing:
        actions.append(Init(host=bootstrap, advertise_addr=bootstrap_ip))
        joining.add(bootstrap)

    # 3. membership of every reachable node
    worker_joins: list[Join] = []
    manager_joins: list[Join] = []
    for name, ip in reachable:
        if name == bootstrap:
            if existing:
                members.append(name)
            continue
        f = facts[name]
        role = role_of[name]
        if not f.in_swarm:
            (manager_joins if role == Role.manager else worker_joins).append(
                Join(host=name, role=role.value, advertise_addr=ip, manager_addr=join_addr))
            joining.add(name)
            continue
        if f.control_available:
            if f.cluster_id != cluster_id:
                raise ForeignSwarm(name, f"cluster {_short(f.cluster_id)}, while this lab's is {_short(cluster_id)}")
            if role == Role.worker:
                raise SwarmNodeState(name, "it is a manager of this lab's swarm but the spec makes it a worker: "
                                           f"run `docker node demote {name}` on a manager, or fix the spec")
        elif worker_member(name, f) and role == Role.manager:
            raise SwarmNodeState(name, "it is in this lab's swarm as a worker but the spec makes it a manager: "
                                       f"run `docker node promote {name}` on a manager, or fix the spec")
        members.append(name)
    actions += worker_joins + manager_joins

    # 4. drain managers (by `docker node ls` availability when known)
    for name, _ in managers:
        f = facts.get(name)
        node = f.node_id if f is not None and f.node_id else name
        if name in joining:
            actions.append(Drain(host=name, node=name))
            continue
        row = rows_by_id.get(f.node_id) if f is not None and f.node_id else None
        row = row or rows_by_host.get(name)
        if name in members:
            if node_rows is None or row is None or not row.drained:
                actions.append(Drain(host=name, node=node))
        elif name in unreachable and row is not None and not row.drained:
            actions.append(Drain(host=name, node=row.id))

    noop = None
    if not actions:
        n_m = sum(1 for n in members if role_of[n] == Role.manager)
        noop = (f"swarm {_short(cluster_id)} already has every reachable node ({n_m} managers, "
                f"{len(members) - n_m} workers) and its managers are drained")
        if unreachable:
            noop += f"; unreachable: {', '.join(unreachable)}"
    return SwarmPlan(lab=spec.name, bootstrap=bootstrap, bootstrap_addr=bootstrap_ip, cluster_id=cluster_id,
                     actions=actions, members=members, unreachable=unreachable, noop=noop, nodes=node_rows or [])
