"""plan_swarm: LabSpec + docker info facts (fixtures) → ordered actions, or a typed refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swarmlab import spec as specs
from swarmlab.swarm import (
    Drain,
    ForeignSwarm,
    Init,
    Join,
    NodeRow,
    NodeSwarmFacts,
    SwarmNoLeader,
    SwarmNodeState,
    SwarmPlan,
    SwarmUnavailable,
    parse_swarm_info,
    plan_swarm,
)

FIXTURES = Path(__file__).parent / "fixtures" / "docker_info"
SPEC = specs.seed("lab")
CLUSTER = "x3d2wq0fvqy2qzvdh3wbm1u6g"
M = ["lab-manager01", "lab-manager02", "lab-manager03"]
W = ["lab-worker01", "lab-worker02", "lab-worker03"]
IP = {**{m: f"192.168.1.{20 + i}" for i, m in enumerate(M)}, **{w: f"192.168.1.{30 + i}" for i, w in enumerate(W)}}
NODE_ID = {n: f"{n.replace('-', '')}id".ljust(25, "0")[:25] for n in M + W}


def info(fixture: str, **overrides) -> NodeSwarmFacts:
    data = json.loads((FIXTURES / f"{fixture}.json").read_text())
    data.update(overrides)
    return parse_swarm_info(data)


def fresh() -> dict[str, NodeSwarmFacts]:
    return {n: info("fresh") for n in M + W}


def joined(name: str) -> NodeSwarmFacts:
    if name in M:
        return info("manager_leader", NodeID=NODE_ID[name], NodeAddr=IP[name])
    return info("worker", NodeID=NODE_ID[name], NodeAddr=IP[name])


def rows(names, drained=M) -> list[NodeRow]:
    return [NodeRow(id=NODE_ID[n], hostname=n, status="Ready", availability="Drain" if n in drained else "Active",
                    manager_status=("Leader" if n == M[0] else "Reachable") if n in M else "",
                    engine_version="20.10.24") for n in names]


def test_fresh_lab_init_then_joins_then_drains():
    plan = plan_swarm(SPEC, IP, fresh())
    assert plan.bootstrap == "lab-manager01" and plan.bootstrap_addr == "192.168.1.20" and plan.cluster_id == ""
    assert plan.actions == [
        Init(host="lab-manager01", advertise_addr="192.168.1.20"),
        Join(host="lab-worker01", role="worker", advertise_addr="192.168.1.30", manager_addr="192.168.1.20:2377"),
        Join(host="lab-worker02", role="worker", advertise_addr="192.168.1.31", manager_addr="192.168.1.20:2377"),
        Join(host="lab-worker03", role="worker", advertise_addr="192.168.1.32", manager_addr="192.168.1.20:2377"),
        Join(host="lab-manager02", role="manager", advertise_addr="192.168.1.21", manager_addr="192.168.1.20:2377"),
        Join(host="lab-manager03", role="manager", advertise_addr="192.168.1.22", manager_addr="192.168.1.20:2377"),
        Drain(host="lab-manager01", node="lab-manager01"),
        Drain(host="lab-manager02", node="lab-manager02"),
        Drain(host="lab-manager03", node="lab-manager03"),
    ]
    assert plan.noop is None and plan.members == []
    assert plan.describe()[0] == "lab-manager01: init a new swarm advertising 192.168.1.20"
    # the plan is plain data: it survives a round trip (Prefect persists task results)
    assert SwarmPlan.model_validate_json(plan.model_dump_json()) == plan


def test_haproxy_is_never_part_of_the_swarm():
    facts = fresh() | {"lab-haproxy01": info("fresh")}
    assert all(a.host != "lab-haproxy01" for a in plan_swarm(SPEC, IP, facts).actions)


def test_converged_lab_is_a_noop():
    facts = {n: joined(n) for n in M + W}
    plan = plan_swarm(SPEC, IP, facts, rows(M + W))
    assert plan.actions == [] and plan.cluster_id == CLUSTER
    assert plan.members == M + W
    assert "already has every reachable node (3 managers, 3 workers)" in plan.noop
    assert plan.describe() == [f"nothing to do: {plan.noop}"]
    assert plan.nodes == rows(M + W)  # the node table it was made from: the flows' node table on a no-op


def test_converged_without_node_rows_still_drains():
    # without `docker node ls` the drain state is unknown: drains are planned (idempotent), joins are not
    plan = plan_swarm(SPEC, IP, {n: joined(n) for n in M + W})
    assert [type(a) for a in plan.actions] == [Drain, Drain, Drain]
    assert [a.node for a in plan.drains] == [NODE_ID[m] for m in M]


def test_one_manager_not_drained():
    plan = plan_swarm(SPEC, IP, {n: joined(n) for n in M + W}, rows(M + W, drained=M[:2]))
    assert plan.actions == [Drain(host="lab-manager03", node=NODE_ID["lab-manager03"])]


def test_one_worker_left_out_gets_one_join():
    facts = {n: joined(n) for n in M + W} | {"lab-worker02": info("fresh")}
    plan = plan_swarm(SPEC, IP, facts, rows([n for n in M + W if n != "lab-worker02"]))
    assert plan.actions == [Join(host="lab-worker02", role="worker", advertise_addr="192.168.1.31",
                                 manager_addr="192.168.1.20:2377")]


def test_worker_membership_from_remote_managers_without_rows():
    facts = {n: joined(n) for n in M + W}
    assert plan_swarm(SPEC, IP, facts).members == M + W


def test_foreign_worker():
    facts = {n: joined(n) for n in M + W} | {"lab-worker02": info("foreign_worker")}
    with pytest.raises(ForeignSwarm) as err:
        plan_swarm(SPEC, IP, facts, rows([n for n in M + W if n != "lab-worker02"]))
    assert err.value.host == "lab-worker02"
    assert "10.20.0.5:2377" in str(err.value) and "docker swarm leave" in str(err.value)


def test_foreign_manager():
    facts = {n: joined(n) for n in M + W} | {"lab-manager02": info("foreign_manager")}
    with pytest.raises(ForeignSwarm) as err:
        plan_swarm(SPEC, IP, facts, rows(M + W))
    assert err.value.host == "lab-manager02" and "e8j3kd9s0a7f" in str(err.value)


def test_foreign_swarm_on_a_fresh_lab():
    with pytest.raises(ForeignSwarm) as err:
        plan_swarm(SPEC, IP, fresh() | {"lab-worker03": info("foreign_worker")})
    assert err.value.host == "lab-worker03"


def test_worker_removed_from_swarm_while_away():
    facts = {n: joined(n) for n in M + W}
    with pytest.raises(ForeignSwarm) as err:
        plan_swarm(SPEC, IP, facts, rows([n for n in M + W if n != "lab-worker01"]))
    assert err.value.host == "lab-worker01" and "removed" in str(err.value)


def test_manager1_down_bootstrap_on_manager2_no_init():
    facts = {n: joined(n) for n in M[1:] + W} | {"lab-manager03": info("fresh")}
    plan = plan_swarm(SPEC, IP, facts, rows([n for n in M[:2] + W]))
    assert plan.bootstrap == "lab-manager02" and plan.init is None and plan.unreachable == ["lab-manager01"]
    assert plan.actions == [
        Join(host="lab-manager03", role="manager", advertise_addr="192.168.1.22", manager_addr="192.168.1.21:2377"),
        Drain(host="lab-manager03", node="lab-manager03"),
    ]


def test_unreachable_manager_still_drained_when_node_ls_shows_it_active():
    facts = {n: joined(n) for n in M[1:] + W}
    plan = plan_swarm(SPEC, IP, facts, rows(M + W, drained=M[1:]))
    assert plan.actions == [Drain(host="lab-manager01", node=NODE_ID["lab-manager01"])]


def test_fresh_lab_manager1_unreachable_bootstraps_manager2():
    facts = {n: f for n, f in fresh().items() if n != "lab-manager01"}
    plan = plan_swarm(SPEC, IP, facts)
    assert plan.bootstrap == "lab-manager02" and plan.unreachable == ["lab-manager01"]
    assert sum(isinstance(a, Init) for a in plan.actions) == 1
    assert plan.init.host == "lab-manager02"
    assert all(j.manager_addr == "192.168.1.21:2377" for j in plan.joins)
    assert "unreachable, not planned: lab-manager01" in plan.describe()


def test_no_manager_reachable_but_workers_in_our_swarm_never_inits():
    facts = {n: joined(n) for n in W}
    with pytest.raises(SwarmUnavailable) as err:
        plan_swarm(SPEC, IP, facts)
    assert "would split the lab" in str(err.value)


def test_no_manager_reachable_at_all():
    with pytest.raises(SwarmUnavailable):
        plan_swarm(SPEC, IP, {n: info("fresh") for n in W})


@pytest.mark.parametrize("fixture", ["no_leader", "deadline"])
def test_no_leader(fixture):
    facts = {n: joined(n) for n in M + W} | {"lab-manager01": info(fixture)}
    with pytest.raises(SwarmNoLeader) as err:
        plan_swarm(SPEC, IP, facts)
    assert err.value.host == "lab-manager01"


def test_locked_node():
    facts = {n: joined(n) for n in M + W} | {"lab-manager02": info("locked")}
    with pytest.raises(SwarmNodeState, match="docker swarm unlock"):
        plan_swarm(SPEC, IP, facts)


def test_spec_manager_that_is_a_worker_in_our_swarm():
    facts = {n: joined(n) for n in M + W} | {"lab-manager03": info("worker", NodeID=NODE_ID["lab-manager03"])}
    with pytest.raises(SwarmNodeState, match="docker node promote lab-manager03"):
        plan_swarm(SPEC, IP, facts, rows(M + W))


def test_local_profile_single_manager_lab():
    lab = specs.local("mini", servers=[
        specs.ServerSpec(role=specs.Role.manager, index=1, private_ip="192.168.1.20"),
        specs.ServerSpec(role=specs.Role.worker, index=1, private_ip="192.168.1.30"),
        specs.ServerSpec(role=specs.Role.haproxy, index=1, private_ip="192.168.1.40"),
    ])
    ips = {"mini-manager01": "192.168.1.20", "mini-worker01": "192.168.1.30"}
    plan = plan_swarm(lab, ips, {"mini-manager01": info("fresh"), "mini-worker01": info("fresh")})
    assert [a.kind for a in plan.actions] == ["init", "join", "drain"]


def test_addresses_come_from_the_inventory_not_the_spec():
    moved = {n: ip.replace("192.168.1.", "10.8.0.") for n, ip in IP.items()}
    plan = plan_swarm(SPEC, moved, fresh())
    assert plan.bootstrap_addr == "10.8.0.20"
    assert {a.advertise_addr for a in plan.joins} == {moved[n] for n in M[1:] + W}
    assert {a.manager_addr for a in plan.joins} == {"10.8.0.20:2377"}
