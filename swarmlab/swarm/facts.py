"""Pure parsers of what Docker says about a node's swarm (pyinfra style: command + process).

- `docker info --format '{{json .Swarm}}'`   → `NodeSwarmFacts` (`SWARM_INFO_COMMAND`)
- `docker node ls --format '{{json .}}'`     → `list[NodeRow]`  (`NODE_LS_COMMAND`)
- `docker node inspect <ids>`                → `list[NodeInspect]`
- stderr / Error text that means "no leader" → `is_no_leader`, `raise_if_no_leader`

Field names follow Docker 20.10+ (`types.Info.Swarm`): NodeID, NodeAddr, LocalNodeState,
ControlAvailable, Error, RemoteManagers [{NodeID, Addr}], Nodes, Managers (managers only) and
Cluster {ID, ...} (managers only; workers have no cluster ID, moby#32166).
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import SwarmFactsError, SwarmNoLeader

__all__ = [
    "NODE_LS_COMMAND",
    "SWARM_INFO_COMMAND",
    "LocalNodeState",
    "NodeInspect",
    "NodeRow",
    "NodeSwarmFacts",
    "is_no_leader",
    "parse_node_inspect",
    "parse_node_ls",
    "parse_swarm_info",
    "raise_if_no_leader",
]

SWARM_INFO_COMMAND = "docker info --format '{{json .Swarm}}'"
NODE_LS_COMMAND = "docker node ls --format '{{json .}}'"
SWARM_PORT = 2377

#: what a manager says while quorum is lost: first a deadline, then this
NO_LEADER_MARKERS = ("does not have a leader", "context deadline exceeded")


def is_no_leader(text: str) -> bool:
    low = text.lower()
    return any(m in low for m in NO_LEADER_MARKERS)


def raise_if_no_leader(host: str, text: str) -> None:
    if is_no_leader(text):
        raise SwarmNoLeader(host, text.strip().splitlines()[-1] if text.strip() else "")


def ip_of(addr: str) -> str:
    """`192.168.1.20:2377` → `192.168.1.20` (also `[fe80::1]:2377` → `fe80::1`)."""
    if addr.startswith("["):
        return addr[1:].split("]", 1)[0]
    return addr.rsplit(":", 1)[0] if addr.count(":") == 1 else addr


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class LocalNodeState(str, Enum):
    inactive = "inactive"
    pending = "pending"
    active = "active"
    error = "error"
    locked = "locked"


class NodeSwarmFacts(Model):
    """One node's view of its swarm (`docker info` .Swarm)."""

    local_node_state: LocalNodeState
    node_id: str = ""
    node_addr: str = ""
    control_available: bool = Field(False, description="the node is a manager")
    cluster_id: str = Field("", description="only managers with a leader know it")
    remote_managers: list[str] = Field(default_factory=list, description="manager addresses, ip:port")
    remote_manager_ids: list[str] = Field(default_factory=list)
    nodes: int = 0
    managers: int = 0
    error: str = ""

    @property
    def in_swarm(self) -> bool:
        """Part of some swarm (maybe still joining, locked or broken)."""
        return self.local_node_state != LocalNodeState.inactive

    @property
    def is_manager(self) -> bool:
        return self.control_available

    @property
    def remote_manager_ips(self) -> set[str]:
        return {ip_of(a) for a in self.remote_managers}

    @property
    def no_leader(self) -> bool:
        return bool(self.error) and is_no_leader(self.error)


def parse_swarm_info(output: str | dict[str, Any], host: str = "?") -> NodeSwarmFacts:
    """`docker info --format '{{json .Swarm}}'` (or the whole `{{json .}}`) → facts."""
    try:
        data = json.loads(output) if isinstance(output, str) else output
    except json.JSONDecodeError as e:
        raise SwarmFactsError(host, f"docker info output is not JSON ({e}): {str(output)[:200]!r}") from None
    if not isinstance(data, dict):
        raise SwarmFactsError(host, f"docker info output is not a JSON object: {str(output)[:200]!r}")
    if "Swarm" in data and "LocalNodeState" not in data:
        data = data["Swarm"] or {}
    state = (data.get("LocalNodeState") or "").lower()
    if state not in LocalNodeState._value2member_map_:
        raise SwarmFactsError(host, f"unknown LocalNodeState {data.get('LocalNodeState')!r}")
    peers = data.get("RemoteManagers") or []
    cluster = data.get("Cluster") or {}
    return NodeSwarmFacts(
        local_node_state=LocalNodeState(state),
        node_id=data.get("NodeID") or "",
        node_addr=data.get("NodeAddr") or "",
        control_available=bool(data.get("ControlAvailable")),
        cluster_id=cluster.get("ID") or "",
        remote_managers=[p.get("Addr", "") for p in peers if p.get("Addr")],
        remote_manager_ids=[p.get("NodeID", "") for p in peers if p.get("NodeID")],
        nodes=int(data.get("Nodes") or 0),
        managers=int(data.get("Managers") or 0),
        error=data.get("Error") or "",
    )


class NodeRow(Model):
    """One line of `docker node ls --format '{{json .}}'`."""

    id: str
    hostname: str
    status: str = ""
    availability: str = ""
    manager_status: str = ""
    engine_version: str = ""
    is_self: bool = Field(False, description="the node the command ran on")

    @property
    def is_manager(self) -> bool:
        return bool(self.manager_status)

    @property
    def is_leader(self) -> bool:
        return self.manager_status.lower() == "leader"

    @property
    def ready(self) -> bool:
        return self.status.lower() == "ready"

    @property
    def drained(self) -> bool:
        return self.availability.lower() == "drain"


def json_lines(output: str, what: str, host: str) -> list[dict[str, Any]]:
    """`docker ... --format '{{json .}}'` output: one JSON object per line, blank lines ignored."""
    out = []
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise SwarmFactsError(host, f"{what} line is not JSON ({e}): {line[:200]!r}") from None
        if not isinstance(d, dict):
            raise SwarmFactsError(host, f"{what} line is not a JSON object: {line[:200]!r}")
        out.append(d)
    return out


def parse_node_ls(output: str, host: str = "?") -> list[NodeRow]:
    """One JSON object per line (blank lines ignored). `Self` marks the node the command ran on
    (a trailing ` *` on the ID, as in the table format, is also understood)."""
    rows: list[NodeRow] = []
    for d in json_lines(output, "docker node ls", host):
        raw_id = str(d.get("ID", "")).strip()
        is_self = bool(d.get("Self")) or raw_id.endswith("*")
        rows.append(NodeRow(
            id=raw_id.rstrip("*").strip(), hostname=d.get("Hostname", ""), status=d.get("Status", ""),
            availability=d.get("Availability", ""), manager_status=d.get("ManagerStatus", ""),
            engine_version=d.get("EngineVersion", ""), is_self=is_self,
        ))
    return rows


class NodeInspect(Model):
    """The useful part of `docker node inspect`."""

    id: str
    hostname: str
    role: str
    availability: str
    state: str
    addr: str = Field("", description="Status.Addr: the address the node is seen at")
    manager_addr: str = Field("", description="ManagerStatus.Addr (managers only), ip:2377")
    leader: bool = False
    reachability: str = ""
    labels: dict[str, str] = Field(default_factory=dict)


def json_docs(output: str | list[dict[str, Any]], what: str, host: str) -> list[dict[str, Any]]:
    """`docker ... inspect` output (a JSON array, or one object) as a list of objects."""
    try:
        data = json.loads(output) if isinstance(output, str) else output
    except json.JSONDecodeError as e:
        raise SwarmFactsError(host, f"{what} output is not JSON ({e})") from None
    return [data] if isinstance(data, dict) else data


def parse_node_inspect(output: str | list[dict[str, Any]], host: str = "?") -> list[NodeInspect]:
    data = json_docs(output, "docker node inspect", host)
    out = []
    for n in data:
        spec, status, desc = n.get("Spec") or {}, n.get("Status") or {}, n.get("Description") or {}
        mgr = n.get("ManagerStatus") or {}
        out.append(NodeInspect(
            id=n.get("ID", ""), hostname=desc.get("Hostname", ""), role=spec.get("Role", ""),
            availability=spec.get("Availability", ""), state=status.get("State", ""),
            addr=status.get("Addr", ""), manager_addr=mgr.get("Addr", ""), leader=bool(mgr.get("Leader")),
            reachability=mgr.get("Reachability", ""), labels=spec.get("Labels") or {},
        ))
    return out
