"""One line per lab for `swarmlab status` (pure): what its tags and its ledger say, plus what was observed
(HAProxy answering, nodes Ready) when it could be."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel

from swarmlab.cost.guard import LabView
from swarmlab.cost.ledger import Ledger
from swarmlab.render.keepalived import edge_addresses

PROFILE_RE = re.compile(r"\(profile (\w+)\)")


class LabStatus(BaseModel):
    lab: str
    zone: str
    profile: str | None = None
    created_at: datetime | None = None
    age_minutes: int | None = None
    expires: datetime | None = None
    budget_yen: int | None = None
    yen: float
    protected_until: datetime | None = None
    tearing_down: bool = False
    flags: list[str] = []
    address: str | None = None
    web_url: str | None = None
    docs_url: str | None = None
    haproxy: bool | None = None       # None: not checked (no HAProxy server / no address)
    nodes_ready: str | None = None    # "6/6", or None when no manager could be asked
    note: str = ""                    # why a check could not be made
    edge: str = ""                    # an `edge: pair`: "pair: VIP v, haproxy01 a, haproxy02 b, router r (block)"
    database: str | None = None       # `database: appliance` labs: "<name> at <ip>:<port>, <status>"


def profile_of(view: LabView) -> str | None:
    """The profile provision wrote in the switch's description (`... (profile local)`), if any."""
    for sw in view.resources.switches:
        m = PROFILE_RE.search(sw.description or "")
        if m:
            return m.group(1)
    return None


def _router(view: LabView):
    return next((r for r in view.resources.internets if r.name == f"{view.lab}-router"), None)


def haproxy_address(view: LabView) -> str | None:
    """Where the lab is reached: an `edge: pair`'s VIP (the router's block), else the shared-segment address of
    its HAProxy server (`<lab>-haproxy01`)."""
    rt = _router(view)
    if rt is not None and rt.subnet is not None and rt.subnet.network is not None:
        return str(edge_addresses(rt.subnet.network)[0])
    for s in view.resources.servers:
        if s.name.startswith(f"{view.lab}-haproxy"):
            return s.shared_ip
    return None


def edge_of(view: LabView) -> str:
    """An `edge: pair` in one line (VIP, both HAProxys' addresses, the router and its block); "" otherwise."""
    rt = _router(view)
    if rt is None or rt.subnet is None or rt.subnet.network is None:
        return ""
    vip, pair = edge_addresses(rt.subnet.network)
    names = sorted(s.name for s in view.resources.servers if s.name.startswith(f"{view.lab}-haproxy"))
    hosts = ", ".join(f"{n.removeprefix(view.lab + '-')} {a}" for n, a in zip(names, pair))
    return f"edge pair: VIP {vip}, {hosts or 'no HAProxy server'}, router {rt.name} ({rt.subnet.network})"


def database_of(view: LabView) -> str | None:
    """The lab's database appliance, as the API lists it (none for a `database: swarm` lab)."""
    dbs = view.resources.databases
    return "; ".join(f"{d.name} at {d.ip}:{d.port or '?'}, {d.status or d.availability or 'unknown'}"
                     for d in dbs) or None


def status_of(view: LabView, led: Ledger, now: datetime) -> LabStatus:
    created = led.created_at
    return LabStatus(lab=view.lab, zone=view.zone, profile=profile_of(view), created_at=created,
                     age_minutes=int((now - created).total_seconds() // 60) if created else None,
                     expires=view.expires, budget_yen=view.budget_yen, yen=led.total,
                     protected_until=view.protected_until, tearing_down=view.teardown_since is not None,
                     flags=[str(u) for u in view.life.unreadable], address=haproxy_address(view),
                     edge=edge_of(view), database=database_of(view))


def _age(minutes: int | None) -> str:
    if minutes is None:
        return "-"
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _yes_no(v: bool | None, yes: str, no: str) -> str:
    return "-" if v is None else (yes if v else no)


def text(labs: list[LabStatus], zones: list[str]) -> str:
    """A table of the labs, then one URL line per lab that has an HAProxy address."""
    if not labs:
        return f"No labs in {', '.join(zones)}.\n"
    head = ("LAB", "ZONE", "PROFILE", "AGE", "EXPIRES (UTC)", "BUDGET", "YEN", "HAPROXY", "NODES READY")
    rows = [(s.lab, s.zone, s.profile or "-", _age(s.age_minutes),
             f"{s.expires:%Y-%m-%d %H:%M}" if s.expires else "-", f"{s.budget_yen}" if s.budget_yen is not None else "-",
             f"{s.yen:g}", _yes_no(s.haproxy, "answering", "not answering"), s.nodes_ready or "-") for s in labs]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in (head, *rows)]
    for s in labs:
        extra = [f"web {s.web_url}", f"docs {s.docs_url}"] if s.web_url else []
        extra += [s.edge] if s.edge else []
        extra += [f"database appliance {s.database}"] if s.database else []
        extra += ["tearing down"] if s.tearing_down else []
        extra += [f"protected until {s.protected_until:%Y-%m-%d %H:%M}"] if s.protected_until else []
        extra += s.flags + ([s.note] if s.note else [])
        if extra:
            out.append(f"{s.lab}: " + "; ".join(extra))
    total = sum(s.yen for s in labs)
    out.append(f"{len(labs)} labs, {total:g} yen so far.")
    return "\n".join(out) + "\n"
