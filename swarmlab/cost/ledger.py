"""Accrued cost of a lab from what the API reports, and the estimate of a planned lab.

What the API tells us about a resource now: `CreatedAt`, its `ServiceClass`, and for a server
`Instance.Status` + `Instance.StatusChangedAt`. It does not tell past power states, so:

- a disk, switch, NFS appliance or registry is billed from `CreatedAt` to now (it bills while it exists);
- a server or database appliance that is up (or in any state but down) is billed from `CreatedAt` to now: a stop before its
  last boot is invisible, so it is counted as running (never cheaper than the truth, by at most
  the time it was stopped plus the minutes between creation and first boot);
- a server that is down is billed from `CreatedAt` to `StatusChangedAt` (its last stop), counting
  any earlier stop as running; one that never booted (no change after creation) costs nothing;
- an hour begun counts whole; an existing resource has always begun its first hour.

Resources already deleted are not listed by the API and are not in the ledger: take it before teardown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from swarmlab.cost.prices import (REGISTRY_CLASS, SWITCH_CLASS, PriceTable, database_class, disk_class,
                                  ip_block_class, nfs_class, router_class, server_class)
from swarmlab.errors import SwarmlabError
from swarmlab.spec import LabSpec

# LabResources field → resource kind
KIND_OF = {"servers": "server", "disks": "disk", "nfs": "nfs", "databases": "database", "registries": "registry",
           "notes": "note",
           "switches": "switch", "internets": "router"}


class OverBudget(SwarmlabError, RuntimeError):
    """A planned lab's estimate exceeds its budget: the build does not start (never retried)."""

    def __init__(self, estimate: Estimate):
        self.estimate = estimate
        top = ", ".join(f"{g['count']}× {g['kind']} {g['yen']:g}" for g in estimate.grouped())
        super().__init__(
            f"lab {estimate.lab}: estimated {estimate.total:g} yen for {estimate.hours:g} h ({top}; "
            f"{estimate.price_source} prices) exceeds its budget of {estimate.budget_yen} yen; raise budget_yen, "
            f"shorten ttl_hours or plan a smaller lab")


class Line(BaseModel):
    """One resource's cost: what it is, which span is billed, at which rate."""
    model_config = ConfigDict(frozen=True)
    kind: str
    name: str
    service_class: str
    rate: str
    rate_source: str
    hours: int
    yen: float
    billed_from: datetime | None = None
    billed_to: datetime | None = None
    note: str = ""


def _group(lines: Iterable[Line]) -> list[dict]:
    groups: dict[tuple, dict] = {}
    for ln in lines:
        g = groups.setdefault((ln.kind, ln.service_class, ln.rate, ln.hours),
                              {"kind": ln.kind, "service_class": ln.service_class, "rate": ln.rate,
                               "hours": ln.hours, "count": 0, "yen": 0.0})
        g["count"] += 1
        g["yen"] += ln.yen
    return list(groups.values())


class Ledger(BaseModel):
    """A lab's accrued cost at `at`, one line per existing resource."""
    lab: str
    at: datetime
    lines: list[Line]
    price_source: str

    @property
    def total(self) -> float:
        return round(sum(ln.yen for ln in self.lines), 2)

    @property
    def created_at(self) -> datetime | None:
        starts = [ln.billed_from for ln in self.lines if ln.billed_from is not None]
        return min(starts) if starts else None

    def grouped(self) -> list[dict]:
        return _group(self.lines)


class Estimate(BaseModel):
    """What a planned lab costs for a run of `hours`, one line per resource it will create."""
    lab: str
    hours: float
    lines: list[Line]
    budget_yen: int
    price_source: str

    @property
    def total(self) -> float:
        return round(sum(ln.yen for ln in self.lines), 2)

    @property
    def over_budget(self) -> bool:
        return self.total > self.budget_yen

    def grouped(self) -> list[dict]:
        return _group(self.lines)


def billed_hours(seconds: float) -> int:
    """An hour begun counts whole; an existing resource has begun its first hour."""
    return max(1, math.ceil(seconds / 3600))


def service_class_of(kind: str, resource) -> str:
    """The resource's `ServiceClass`, or one derived from its plan when the API left it out."""
    sc = getattr(resource, "service_class", "") or ""
    if sc:
        return sc
    if kind == "server" and getattr(resource, "cpu", None) and getattr(resource, "memory_gb", None):
        return server_class(resource.cpu, resource.memory_gb)
    if kind == "disk" and getattr(resource, "size_gb", None):
        plan_id = resource.plan.id if getattr(resource, "plan", None) else None
        return disk_class({"4": "ssd", "2": "hdd"}.get(str(plan_id), "ssd"), resource.size_gb)
    return {"switch": SWITCH_CLASS, "registry": REGISTRY_CLASS}.get(kind, "")


def span(kind: str, resource, now: datetime) -> tuple[datetime | None, datetime | None, str]:
    """(billed from, billed to, note); (None, None, why) when nothing is billed."""
    created = getattr(resource, "created_at", None)
    if kind == "note":
        return None, None, "free"
    if kind not in ("server", "database"):   # a (non-redundant) database is not billed while stopped, as a server
        return created, now, "" if created else "no CreatedAt: one hour counted"
    status = getattr(resource, "status", "") or ""
    inst = getattr(resource, "instance", None)
    changed = inst.status_changed_at if inst is not None else None
    if status != "down":
        return created, now, f"{status or 'unknown state'}: counted as running since creation"
    if changed is None or created is None or changed <= created:
        return None, None, "down, never started"
    return created, changed, f"down since {changed:%Y-%m-%d %H:%M}: counted as running until then"


def line_for(kind: str, resource, prices: PriceTable, now: datetime) -> Line:
    sc = service_class_of(kind, resource)
    rate, source = prices.rate(kind, sc)
    start, end, note = span(kind, resource, now)
    if end is None:
        hours = 0
    else:
        hours = billed_hours((end - start).total_seconds() if start else 0)
    return Line(kind=kind, name=resource.name, service_class=sc, rate=rate.describe(), rate_source=source,
                hours=hours, yen=rate.charge(hours), billed_from=start, billed_to=end, note=note)


def ledger(lab: str, resources: Mapping[str, list] | BaseModel, prices: PriceTable, now: datetime) -> Ledger:
    """Accrued cost of every resource in `resources` (LabResources, or {"servers": [...], ...}) at `now`."""
    if isinstance(resources, BaseModel):
        resources = {k: getattr(resources, k) for k in KIND_OF}
    lines = [line_for(KIND_OF[field], r, prices, now) for field, items in resources.items()
             if field in KIND_OF and field != "notes" for r in items]  # notes (startup scripts) are free
    return Ledger(lab=lab, at=now, lines=lines, price_source=prices.source)


def projected(lab: str, resources, prices: PriceTable, now: datetime, ahead: timedelta) -> Ledger:
    """The ledger at `now + ahead` if nothing changes meanwhile (running things keep running)."""
    return ledger(lab, resources, prices, now + ahead)


def planned(spec: LabSpec) -> list[tuple[str, str, str]]:
    """(kind, name, service class) of every billable resource provision creates for `spec`."""
    out = []
    for s in spec.servers:
        name = spec.server_name(s)
        out.append(("server", name, server_class(spec.plan.cpu, spec.plan.memory_gb)))
        out.append(("disk", f"{name}-disk", disk_class(spec.plan.disk_plan, spec.plan.disk_gb)))
    out.append(("switch", spec.resource_name("switch"), SWITCH_CLASS))
    out.append(("nfs", spec.resource_name("nfs"), nfs_class(spec.nfs.plan, spec.nfs.size_gb)))
    if spec.database == "appliance":
        gb = {"1t": 1000}.get(spec.db_appliance.plan) or int(spec.db_appliance.plan.rstrip("g"))
        out.append(("database", spec.resource_name("db"), database_class(gb)))
    out.append(("registry", spec.resource_name("registry"), REGISTRY_CLASS))
    if spec.edge == "pair":
        out.append(("router", spec.resource_name("router"), router_class(spec.router.band_width_mbps)))
        out.append(("ip block", f"{spec.resource_name('router')}-/{spec.router.mask_len}",
                    ip_block_class(spec.router.mask_len)))
    return out


def estimate(spec: LabSpec, hours: float, prices: PriceTable) -> Estimate:
    """What `spec` costs if every resource exists (servers running) for `hours`."""
    billed = billed_hours(hours * 3600)
    lines = []
    for kind, name, sc in planned(spec):
        rate, source = prices.rate(kind, sc)
        lines.append(Line(kind=kind, name=name, service_class=sc, rate=rate.describe(), rate_source=source,
                          hours=billed, yen=rate.charge(billed)))
    return Estimate(lab=spec.name, hours=hours, lines=lines, budget_yen=spec.budget_yen, price_source=prices.source)


def check_budget(spec: LabSpec, hours: float, prices: PriceTable) -> Estimate:
    """The estimate, or OverBudget when it exceeds `spec.budget_yen`."""
    est = estimate(spec, hours, prices)
    if est.over_budget:
        raise OverBudget(est)
    return est
