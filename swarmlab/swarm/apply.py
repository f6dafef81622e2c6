"""Side effects: read facts from the nodes and carry out a `SwarmPlan` through `hosts` sessions.

The swarm lives on the private switch: init and join give `--listen-addr`, `--advertise-addr` and
`--data-path-addr` the node's lab-switch address, so 2377/7946/4789 never listen on the shared NIC.
A join token never reaches a command line: it is read from `docker swarm join-token -q` output and
handed to the joining node's engine as the body of `POST /swarm/join` (docker SDK over a
`DialStdioTunnel`), so no argv, `ps` listing, sudo log or journal line on any host holds it. Tokens are
`SecretStr` and are redacted from every error. Docker commands run with `sudo=True`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import docker.errors
import requests
from pydantic import BaseModel, ConfigDict, SecretStr

from ..errors import redact
from ..hosts import CommandFailed, Session, run_parallel
from ..hosts.engine import remote_engine
from .errors import SwarmJoinFailed, SwarmNoLeader
from .facts import (
    NODE_LS_COMMAND,
    SWARM_PORT,
    SWARM_INFO_COMMAND,
    NodeRow,
    NodeSwarmFacts,
    is_no_leader,
    parse_node_ls,
    parse_swarm_info,
)
from .plan import Drain, Init, Join, SwarmPlan

if TYPE_CHECKING:
    from ..spec import LabSpec

__all__ = ["JoinTokens", "apply_plan", "gather_facts", "init_command", "join_request", "join_tokens", "node_table",
           "observe", "rotate_join_tokens", "swarm_facts"]

#: a manager without quorum hangs ~20 s before answering (the drills take quorum away and see it)
MANAGER_CALL_TIMEOUT_S = 60


class JoinTokens(BaseModel):
    model_config = ConfigDict(frozen=True)

    worker: SecretStr
    manager: SecretStr


def _docker(session: Session, cmd: str, *, timeout_s: float = MANAGER_CALL_TIMEOUT_S,
            secrets: list[SecretStr] | None = None, no_leader: bool = True) -> str:
    """Run a docker command as root; with `no_leader`, no-leader answers become `SwarmNoLeader`."""
    try:
        return session.run(cmd, sudo=True, timeout_s=timeout_s, secrets=secrets or []).stdout
    except CommandFailed as e:
        if no_leader and is_no_leader(e.stderr_tail):
            raise SwarmNoLeader(session.name, e.stderr_tail) from None
        raise


def swarm_facts(session: Session, *, timeout_s: float = MANAGER_CALL_TIMEOUT_S) -> NodeSwarmFacts:
    return parse_swarm_info(_docker(session, SWARM_INFO_COMMAND, timeout_s=timeout_s), session.name)


def gather_facts(sessions: Mapping[str, Session], *, max_workers: int = 8,
                 timeout_s: float = MANAGER_CALL_TIMEOUT_S) -> dict[str, NodeSwarmFacts]:
    """`docker info` swarm facts of every session, in parallel (`HostsFailed` lists failures)."""
    return run_parallel(sessions, lambda s: swarm_facts(s, timeout_s=timeout_s), max_workers=max_workers)


def node_table(session: Session, *, timeout_s: float = MANAGER_CALL_TIMEOUT_S) -> list[NodeRow]:
    """`docker node ls` on a manager. Raises `SwarmNoLeader` when quorum is lost."""
    return parse_node_ls(_docker(session, NODE_LS_COMMAND, timeout_s=timeout_s), session.name)


def observe(spec: LabSpec, sessions: Mapping[str, Session], *, known: Mapping[str, dict] | None = None,
            max_workers: int = 8,
            timeout_s: float = MANAGER_CALL_TIMEOUT_S) -> tuple[dict[str, NodeSwarmFacts], list[NodeRow] | None]:
    """Everything `plan_swarm` needs: facts of every session (the swarm nodes of `spec` among them; those in
    `known`, the engine's `/info` .Swarm just read, are not asked again), and `docker node ls` from the first
    manager (spec order) that is a manager of a swarm — None when there is none. Raises `SwarmNoLeader` when
    that manager has lost quorum."""
    in_swarm = {spec.server_name(s) for s in spec.managers + spec.workers}
    swarm_nodes = [n for n in sessions if n in in_swarm]
    read = {n: parse_swarm_info(d, n) for n, d in (known or {}).items() if n in in_swarm}
    read |= gather_facts({n: sessions[n] for n in swarm_nodes if n not in read}, max_workers=max_workers,
                         timeout_s=timeout_s)
    facts = {n: read[n] for n in swarm_nodes}
    for server in spec.managers:
        name = spec.server_name(server)
        f = facts.get(name)
        if f is not None and f.in_swarm and f.control_available:
            if f.no_leader:
                raise SwarmNoLeader(name, f.error)
            return facts, node_table(sessions[name], timeout_s=timeout_s)
    return facts, None


def _token(session: Session, role: str, rotate: bool = False) -> SecretStr:
    flag = " --rotate" if rotate else ""
    out = _docker(session, f"docker swarm join-token{flag} -q {role}").strip()
    return SecretStr(out.splitlines()[-1].strip() if out else "")


def join_tokens(session: Session) -> JoinTokens:
    """The current worker and manager join tokens (run on a manager)."""
    return JoinTokens(worker=_token(session, "worker"), manager=_token(session, "manager"))


def rotate_join_tokens(session: Session) -> JoinTokens:
    """Rotate both join tokens (nodes already joined are unaffected) and return the new ones."""
    return JoinTokens(worker=_token(session, "worker", rotate=True), manager=_token(session, "manager", rotate=True))


def init_command(addr: str) -> str:
    """`docker swarm init` bound to `addr` (the lab-switch address) for control, gossip and data."""
    a = shlex.quote(addr)
    return (f"docker swarm init --listen-addr {shlex.quote(f'{addr}:{SWARM_PORT}')} --advertise-addr {a} "
            f"--data-path-addr {a}")


def join_request(action: Join, token: SecretStr) -> dict:
    """The docker SDK's `swarm.join` arguments for `action`: every address the node's lab-switch one."""
    return dict(remote_addrs=[action.manager_addr], join_token=token.get_secret_value(),
                listen_addr=f"{action.advertise_addr}:{SWARM_PORT}", advertise_addr=action.advertise_addr,
                data_path_addr=action.advertise_addr)


def _join(session: Session, action: Join, token: SecretStr, timeout_s: float = 120) -> str:
    """`POST /swarm/join` on the node's engine through an SSH dial-stdio tunnel: the token is in the body."""
    try:
        with remote_engine(session, timeout_s=timeout_s, sudo=True) as engine:
            engine.swarm.join(**join_request(action, token))
    except docker.errors.APIError as e:
        detail = redact(str(e.explanation or e), token)
        raise SwarmJoinFailed(action.host, action.manager_addr, detail) from None
    except (requests.RequestException, OSError) as e:
        raise SwarmJoinFailed(action.host, action.manager_addr,
                              f"the engine API did not answer ({type(e).__name__})") from None
    return f"{action.host}: joined the swarm as {action.role} via {action.manager_addr}"


#: joins one node: (its session, the Join, the token) → the change line
Joiner = Callable[[Session, Join, SecretStr], str]


def apply_plan(plan: SwarmPlan, sessions: Mapping[str, Session], *, max_workers: int = 8,
               joiner: Joiner | None = None) -> list[str]:
    """Carry out `plan` and return one human-readable line per change ([] for a noop plan).

    Init on the bootstrap manager; join tokens fetched from it; workers join in parallel (all are
    attempted, failures raised together as `HostsFailed`); managers join one at a time (raft
    membership changes one by one); drains run on the bootstrap manager. `joiner` defaults to the
    Engine API join (`POST /swarm/join`, token in the request body).
    """
    join = joiner or _join
    if not plan.actions:
        return []
    changed: list[str] = []
    boot = sessions[plan.bootstrap]
    init = plan.init
    if init is not None:
        _docker(sessions[init.host], init_command(init.advertise_addr))
        changed.append(f"{init.host}: initialised a new swarm advertising {init.advertise_addr}")

    joins = plan.joins
    worker_joins = [a for a in joins if a.role == "worker"]
    manager_joins = [a for a in joins if a.role == "manager"]
    if worker_joins:
        token = _token(boot, "worker")
        done = run_parallel({a.host: a for a in worker_joins}, lambda a: join(sessions[a.host], a, token),
                            max_workers=max_workers)
        changed += done.values()
    if manager_joins:
        token = _token(boot, "manager")
        for a in manager_joins:
            changed.append(join(sessions[a.host], a, token))

    for d in plan.drains:
        node = _node_ref(d, sessions)
        _docker(boot, f"docker node update --availability drain {shlex.quote(node)}")
        changed.append(f"{d.host}: drained (availability drain)")

    extra = [a for a in plan.actions if not isinstance(a, Init | Join | Drain)]
    assert not extra, f"unknown actions {extra}"
    return changed


def _node_ref(drain: Drain, sessions: Mapping[str, Session]) -> str:
    """The node ID for a drain: from the plan, else asked of the node itself (it just joined)."""
    if drain.node != drain.host or drain.host not in sessions:
        return drain.node
    node_id = swarm_facts(sessions[drain.host]).node_id
    return node_id or drain.node
