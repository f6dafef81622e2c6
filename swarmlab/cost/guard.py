"""The cost guard's view of a zone: every lab (by its tags), its accrued cost and what to do with it.

`scan` reads the API; `view`, `decide` and `report` are pure. The guard only ever considers resources
tagged `swarmlab`, and a resource belongs to lab L only if it carries `swarmlab` and `swarmlab-lab=L`
and its name starts with `L-` (cloud.resources.owned); teardown_lab re-checks the same before each delete.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from swarmlab.cloud import lifecycle as lc
from swarmlab.cost.ledger import Ledger
from swarmlab.spec import LAB_TAG
from swarmlab.cloud.resources import KINDS, LabResources, owned

ZONAL = ("servers", "disks", "nfs", "databases", "switches")  # notes and registries are global (reached through is1a)


def scan(client) -> dict[str, LabResources]:
    """Every lab with a resource in the client's zone: one listing per kind by the `swarmlab` tag."""
    found: dict[str, dict[str, list]] = {}
    for kind in KINDS:
        for r in kind.api(client).find(tags=[LAB_TAG]):
            for lab in lc.lab_names(r.tags):
                if owned(r, lab):
                    found.setdefault(lab, {k.value: [] for k in KINDS})[kind.value].append(r)
    return {lab: LabResources(**kinds) for lab, kinds in sorted(found.items())}


class LabView(BaseModel):
    """What the tags of one lab's resources in one zone say (see lifecycle.lab_lifecycle)."""
    model_config = ConfigDict(arbitrary_types_allowed=True)
    lab: str
    zone: str
    resources: LabResources
    life: lc.Lifecycle = lc.Lifecycle()

    @property
    def zonal(self) -> bool:
        """Has resources of this zone (not only the global note/registry of a lab living elsewhere)."""
        return any(getattr(self.resources, k) for k in ZONAL)

    @property
    def expires(self) -> datetime | None:
        return _readable(self.life.expires)

    @property
    def budget_yen(self) -> int | None:
        return _readable(self.life.budget_yen)

    @property
    def protected_until(self) -> datetime | None:
        return _readable(self.life.protected_until)

    @property
    def teardown_since(self) -> datetime | None:
        return self.life.teardown_since


def _readable(v):
    return None if isinstance(v, lc.Unreadable) else v


def view(lab: str, zone: str, resources: LabResources) -> LabView:
    """Lifecycle tags from the switch first, else from any of the lab's resources."""
    switch_tags = [t for s in resources.switches for t in s.tags]
    every = [r.tags for k in KINDS for r in getattr(resources, k)]
    return LabView(lab=lab, zone=zone, resources=resources, life=lc.lab_lifecycle(switch_tags, every))


Action = Literal["keep", "teardown"]


class Decision(BaseModel):
    lab: str
    zone: str
    action: Action
    reason: str
    age: timedelta | None
    accrued_yen: float
    projected_yen: float
    budget_yen: int
    budget_from_tag: bool
    expires: datetime | None
    protected_until: datetime | None
    flags: list[str] = []       # lifecycle tags that do not parse: the lab is kept until they are fixed


def decide(v: LabView, accrued: Ledger, projected: Ledger, now: datetime, default_budget_yen: int) -> Decision:
    """keep or teardown, and why. Protection wins, then an unreadable lifecycle tag (keep and flag it);
    a started teardown is finished, not fought."""
    budget = v.budget_yen if v.budget_yen is not None else default_budget_yen
    created = accrued.created_at
    base = dict(lab=v.lab, zone=v.zone, age=(now - created) if created else None, accrued_yen=accrued.total,
                projected_yen=projected.total, budget_yen=budget, budget_from_tag=v.budget_yen is not None,
                expires=v.expires, protected_until=v.protected_until, flags=[str(u) for u in v.life.unreadable])

    def out(action: Action, reason: str) -> Decision:
        return Decision(action=action, reason=reason, **base)

    if v.protected_until is not None and v.protected_until > now:
        return out("keep", f"protected until {lc.fmt_time(v.protected_until)}")
    if v.life.unreadable:
        return out("keep", "; ".join(str(u) for u in v.life.unreadable) + " (kept until then: fail safe)")
    if not v.zonal:
        return out("keep", f"only global resources (note/registry) in {v.zone}: the lab lives in another zone; "
                           f"guard that zone")
    if v.teardown_since is not None:
        return out("teardown", f"teardown started {lc.fmt_time(v.teardown_since, seconds=True)}: finishing it")
    if v.expires is not None and v.expires <= now:
        return out("teardown", f"expired at {lc.fmt_time(v.expires)}")
    if projected.total > budget:
        return out("teardown", f"would cross its budget: {projected.total:g} yen by {projected.at:%H:%MZ} "
                               f"> {budget} yen")
    left = f"expires {lc.fmt_time(v.expires)}" if v.expires else "no expiry tag"
    return out("keep", f"{left}; {projected.total:g} of {budget} yen by the next run")


def _age(d: timedelta | None) -> str:
    if d is None:
        return "?"
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def report(decisions: list[Decision], *, now: datetime, interval: timedelta, dry_run: bool,
           outcomes: dict[tuple[str, str], str] | None = None) -> str:
    """The guard's markdown artifact: one row per lab."""
    outcomes = outcomes or {}
    head = (f"# Cost guard {lc.fmt_time(now, seconds=True)}{' (dry run: nothing deleted)' if dry_run else ''}\n\n"
            f"Projected to the next run in {int(interval.total_seconds() // 60)} min. Costs are estimated from "
            f"the API's CreatedAt and power state (see swarmlab/cost/ledger.py).\n\n")
    if not decisions:
        return head + "No lab found (no resource tagged `swarmlab`).\n"
    rows = ["| lab | zone | age | accrued ¥ | projected ¥ | budget ¥ | expires | action | why |",
            "|---|---|---|---:|---:|---:|---|---|---|"]
    for d in decisions:
        action = d.action
        if d.action == "teardown":
            action = "would tear down" if dry_run else outcomes.get((d.lab, d.zone), "teardown")
        budget = f"{d.budget_yen}" + ("" if d.budget_from_tag else " (default)")
        expires = lc.fmt_time(d.expires) if d.expires else "—"
        rows.append(f"| {d.lab} | {d.zone} | {_age(d.age)} | {d.accrued_yen:g} | {d.projected_yen:g} | {budget} "
                    f"| {expires} | {action} | {d.reason} |")
    flagged = [f"- **{d.zone}/{d.lab}**: {f}" for d in decisions for f in d.flags]
    tail = ("\n\n## Flagged: lifecycle tags that do not parse (the lab is kept)\n\n" + "\n".join(flagged)) if flagged else ""
    return head + "\n".join(rows) + tail + "\n"
