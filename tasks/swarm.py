"""Swarm tasks: observe → plan → apply, the node table, join-token rotation."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from swarmlab.cloud.fleet import Fleet
from swarmlab.spec import LabSpec
from swarmlab.swarm import apply as swarm
from swarmlab.swarm.facts import NodeRow
from swarmlab.swarm.plan import SwarmPlan, plan_swarm


@task(name="plan-swarm", cache_policy=NO_CACHE)
def plan(fleet: Fleet, spec: LabSpec, known: dict[str, dict] | None = None) -> SwarmPlan:
    """The swarm's plan; `known`: hosts whose engine's swarm state (`/info` .Swarm) was just read."""
    names = [spec.server_name(s) for s in spec.managers + spec.workers]
    facts, rows = swarm.observe(spec, fleet.sessions(names), known=known)
    return plan_swarm(spec, fleet.inventory.private_ips, facts, rows)


@task(name="apply-swarm", cache_policy=NO_CACHE)
def apply(fleet: Fleet, plan: SwarmPlan) -> list[str]:
    hosts = sorted({a.host for a in plan.actions} | ({plan.bootstrap} if plan.bootstrap else set()))
    return swarm.apply_plan(plan, fleet.sessions(hosts))


@task(name="node-table", cache_policy=NO_CACHE)
def node_table(fleet: Fleet, spec: LabSpec) -> list[NodeRow]:
    return swarm.node_table(fleet.session(spec.server_name(spec.managers[0])))


@task(name="rotate-join-tokens", cache_policy=NO_CACHE)
def rotate(fleet: Fleet, manager: str) -> None:
    swarm.rotate_join_tokens(fleet.session(manager))
