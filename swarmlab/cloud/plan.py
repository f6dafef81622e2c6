"""What `up` would do to a lab, without doing it (pure): resources to create, per-host package and swarm
changes, the stack, the cost for the TTL. Rendered Terraform-like (`text`) or as JSON (the model)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from swarmlab.cloud.provision import missing
from swarmlab.cloud.resources import LabResources
from swarmlab.hosts.prepare import AptStep
from swarmlab.render.filters import filter_name
from swarmlab.spec import LabSpec

Action = Literal["create", "change", "unknown"]
SIGN = {"create": "+", "change": "~", "unknown": "?"}


class Change(BaseModel):
    """One thing `up` would do: `create` a resource, `change` a host / the swarm / the stack, or `unknown`
    (could not be observed: `detail` says why)."""
    action: Action
    target: str
    detail: str = ""


class LabPlan(BaseModel):
    lab: str
    zone: str
    profile: str
    exists: bool
    resources: list[Change] = []
    hosts: list[Change] = []
    swarm: list[Change] = []
    stack: list[Change] = []
    existing: int = 0
    estimate_yen: float
    hours: float
    budget_yen: int
    price_source: str

    @property
    def changes(self) -> list[Change]:
        return [c for c in self.resources + self.hosts + self.swarm + self.stack if c.action != "unknown"]

    @property
    def unknown(self) -> list[Change]:
        return [c for c in self.resources + self.hosts + self.swarm + self.stack if c.action == "unknown"]

    @property
    def no_changes(self) -> bool:
        return not self.changes and not self.unknown

    def summary(self) -> dict:
        """The model plus counts, for `--json`."""
        return {**self.model_dump(mode="json"), "to_create": sum(c.action == "create" for c in self.resources),
                "to_change": sum(c.action == "change" for c in self.changes), "unknown": len(self.unknown),
                "no_changes": self.no_changes}


def plan_resources(spec: LabSpec, found: LabResources) -> list[Change]:
    """A `create` for every resource provision would still create (packet filters included)."""
    out = [Change(action="create", target=name) for name in missing(found, spec)]
    have = {f.name for f in found.packet_filters}
    wanted = dict.fromkeys(filter_name(spec, s.role) for s in spec.servers)
    return out + [Change(action="create", target=name, detail="packet filter") for name in wanted if name not in have]


def plan_hosts(steps: dict[str, list[AptStep]]) -> list[Change]:
    """Per host, the apt/reboot steps prepare would run (hosts with none are left out)."""
    return [Change(action="change", target=f"host {host}", detail=", ".join(str(s) for s in todo))
            for host, todo in sorted(steps.items()) if todo]


def plan_edge(host: str, facts: dict[str, str], want_sha: str) -> list[Change]:
    """What configure_edge would do on the HAProxy host, from `release.edge.facts` (installed, sha, active)."""
    todo = [] if facts.get("installed") == "1" else ["install haproxy"]
    have = facts.get("sha") or ""
    if have != want_sha:
        todo.append(f"haproxy.cfg {have[:12] or 'missing'} → {want_sha[:12]}")
    if todo or facts.get("active") != "active":
        todo.append("reload haproxy")
    return [Change(action="change", target=f"host {host}", detail=", ".join(todo))] if todo else []


def plan_stack(spec: LabSpec, deployed: dict[str, str | None], digest: str) -> list[Change]:
    """A deploy when a service of the stack is missing or carries another stack hash than `digest`."""
    stale = {svc: have for svc, have in sorted(deployed.items()) if have != digest}
    if not stale:
        return []
    what = ", ".join(f"{svc} {'missing' if have is None else (have[:12] or 'unlabelled') + ' → ' + digest[:12]}"
                     for svc, have in stale.items())
    return [Change(action="change", target=f"stack {spec.stack.name}", detail=f"deploy ({what})")]


def plan_new(spec: LabSpec) -> tuple[list[Change], list[Change], list[Change]]:
    """(hosts, swarm, stack) for a lab that does not exist yet: everything is to do."""
    nodes = [spec.server_name(s) for s in spec.managers + spec.workers]
    hosts = [Change(action="change", target=f"host {n}", detail=f"apt update, upgrade, install {' '.join(spec.packages)}")
             for n in nodes]
    hosts += [Change(action="change", target=f"host {spec.server_name(h)}",
                     detail="install haproxy" + (" and keepalived" if spec.edge == "pair" else "")
                            + ", configure and reload") for h in spec.haproxies]
    m = [spec.server_name(s) for s in spec.managers]
    swarm = [Change(action="change", target="swarm", detail=f"init on {m[0]}, join {len(m) - 1} managers and "
                                                              f"{len(spec.workers)} workers, drain the managers")]
    stack = [Change(action="change", target=f"stack {spec.stack.name}",
                    detail="build and push web, app, postgres; deploy")]
    return hosts, swarm, stack


def unknown(target: str, why: str) -> Change:
    return Change(action="unknown", target=target, detail=why)


def make_plan(spec: LabSpec, zone: str, found: LabResources, *, estimate_yen: float, price_source: str,
              hosts: list[Change] = (), swarm: list[Change] = (), stack: list[Change] = ()) -> LabPlan:
    """The plan from a snapshot of the lab (`find_lab`), the observed host/swarm/stack changes and the
    estimate for the spec's TTL (swarmlab.cost.estimate; cost sits above cloud in the import order)."""
    return LabPlan(lab=spec.name, zone=zone, profile=spec.profile, exists=not found.empty,
                   resources=plan_resources(spec, found), hosts=list(hosts), swarm=list(swarm), stack=list(stack),
                   existing=len(found.names()), estimate_yen=estimate_yen, hours=spec.ttl_hours,
                   budget_yen=spec.budget_yen, price_source=price_source)


def line(change: Change) -> str:
    """`  + target: detail` (the sign of its action)."""
    return f"  {SIGN[change.action]} {change.target}" + (f": {change.detail}" if change.detail else "")


def text(plan: LabPlan) -> str:
    """Terraform-like: `+` create, `~` change, `?` unknown, then the summary line and the cost."""
    lines = [f"Lab {plan.lab} in {plan.zone} (profile {plan.profile}): "
             + (f"{plan.existing} resources exist" if plan.exists else "does not exist yet")]
    for title, changes in (("Resources", plan.resources), ("Hosts", plan.hosts), ("Swarm", plan.swarm),
                           ("Stack", plan.stack)):
        lines.append(f"{title}:" if changes else f"{title}: no changes")
        lines += [line(c) for c in changes]
    creates = sum(c.action == "create" for c in plan.resources)
    lines.append("")
    if plan.no_changes:
        lines.append("No changes. The lab matches its spec.")
    else:
        lines.append(f"Plan: {creates} to create, {len(plan.changes) - creates} to change"
                     + (f", {len(plan.unknown)} unknown" if plan.unknown else "") + ".")
    verdict = "over budget" if plan.estimate_yen > plan.budget_yen else "within budget"
    lines.append(f"Cost: {plan.estimate_yen:g} yen for the lab's TTL of {plan.hours:g} h ({plan.price_source} "
                 f"prices), budget {plan.budget_yen} yen ({verdict}).")
    return "\n".join(lines) + "\n"

