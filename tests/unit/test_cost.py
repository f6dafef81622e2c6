"""Prices, ledger, estimate, budget check and the guard's decisions: pure, over API models."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from swarmlab.cloud import lifecycle as lc
from swarmlab.cost import OverBudget, PriceTable, Rate, check_budget, estimate, ledger, projected
from swarmlab.cost import guard as g
from swarmlab.sakura.models import NFS, Disk, Server, ServiceClass, Switch
from swarmlab.spec import local, seed
from swarmlab.cloud.resources import LabResources

T0 = datetime(2025, 5, 1, 0, 0, tzinfo=timezone.utc)
PRICES = PriceTable.bundled()
SERVER = "cloud/plan/core/1/memory/1"


def iso(t: datetime) -> str:
    return t.isoformat()


def server(name: str, created: datetime, status: str = "up", changed: datetime | None = None, **kw) -> Server:
    return Server.model_validate({
        "ID": 1, "Name": name, "Tags": kw.get("tags", []), "CreatedAt": iso(created), "ServiceClass": SERVER,
        "Instance": {"Status": status, "StatusChangedAt": iso(changed or created)}})


def switch(name: str, created: datetime, tags: list[str] | None = None) -> Switch:
    return Switch.model_validate({"ID": 2, "Name": name, "Tags": tags or [], "CreatedAt": iso(created),
                                  "ServiceClass": "cloud/switch/default"})


def nfs(name: str, created: datetime) -> NFS:
    return NFS.model_validate({"ID": 3, "Name": name, "Tags": [], "CreatedAt": iso(created),
                               "ServiceClass": "cloud/nfs/hdd/100", "Instance": {"Status": "up"}})


def test_rate_hourly_capped_daily_then_monthly():
    r = Rate(hourly=9, daily=100, monthly=1991)
    assert [r.charge(h) for h in (0, 1, 2, 11, 12, 24, 25)] == [0, 9, 18, 99, 100, 100, 109]
    assert r.charge(30 * 24) == 1991 and r.charge(30 * 24 + 1) == 1991 + 9


def test_one_minute_run_bills_one_hour():
    led = ledger("lab", {"servers": [server("lab-manager01", T0)]}, PRICES, T0 + timedelta(minutes=1))
    assert [(ln.hours, ln.yen) for ln in led.lines] == [(1, 9)]


def test_25_hours_of_a_server_bill_one_day_plus_one_hour():
    led = ledger("lab", {"servers": [server("lab-manager01", T0)]}, PRICES, T0 + timedelta(hours=25))
    assert led.total == 100 + 9


def test_a_server_stopped_for_an_hour_is_not_billed_for_it():
    stopped = server("lab-worker01", T0, status="down", changed=T0 + timedelta(hours=1))
    led = ledger("lab", {"servers": [stopped]}, PRICES, T0 + timedelta(hours=2))
    assert [(ln.hours, ln.yen) for ln in led.lines] == [(1, 9)]
    never = server("lab-worker02", T0, status="down", changed=T0)
    assert ledger("lab", {"servers": [never]}, PRICES, T0 + timedelta(hours=2)).total == 0


def test_disks_switch_and_nfs_bill_from_creation_whatever_their_state():
    res = {"switches": [switch("lab-switch", T0)], "nfs": [nfs("lab-nfs", T0)],
           "disks": [Disk.model_validate({"ID": 4, "Name": "lab-manager01-disk", "CreatedAt": iso(T0),
                                           "ServiceClass": "cloud/disk/ssd/20"})]}
    led = ledger("lab", res, PRICES, T0 + timedelta(minutes=61))
    assert {ln.kind: ln.yen for ln in led.lines} == {"switch": 22, "nfs": 18, "disk": 0}  # disk folded into server


def test_walkthrough_lab_for_two_hours_costs_166_yen():
    spec = seed("lab")
    assert estimate(spec, 2, PRICES).total == 166
    now = T0 + timedelta(hours=2)
    res = {"servers": [server(spec.server_name(s), T0) for s in spec.servers],
           "switches": [switch("lab-switch", T0)], "nfs": [nfs("lab-nfs", T0)]}
    assert ledger("lab", res, PRICES, now).total == 166


def test_estimate_from_the_api_price_list_prices_disks_when_it_lists_them():
    classes = [ServiceClass.model_validate({"ServiceClassPath": p, "Price": {"Hourly": h, "Daily": d, "Monthly": m}})
               for p, h, d, m in [(SERVER, 9, 100, 1991), ("cloud/switch/default", 11, 110, 2200),
                                  ("cloud/nfs/hdd/100", 9, 99, 1980), ("cloud/disk/ssd/20", 2, 20, 400),
                                  ("cloud/containerregistry", 0, 0, 0)]]
    prices = PriceTable.from_service_classes(classes)
    est = estimate(seed("lab"), 2, prices)
    assert est.price_source == "api" and est.total == 166 + 7 * 2 * 2
    assert sorted({ln.kind for ln in est.lines}) == ["disk", "nfs", "registry", "server", "switch"]
    assert len(est.lines) == 7 + 7 + 3


def test_edge_pair_prices_the_second_haproxy_and_the_router_with_its_block():
    single, pair = estimate(seed("lab"), 2, PRICES), estimate(seed("lab", edge="pair"), 2, PRICES)
    extra = {(ln.kind, ln.name, ln.service_class, ln.rate_source.split(" ")[0]) for ln in pair.lines} - {
        (ln.kind, ln.name, ln.service_class, ln.rate_source.split(" ")[0]) for ln in single.lines}
    assert extra == {("server", "lab-haproxy02", SERVER, "bundled"),
                     ("disk", "lab-haproxy02-disk", "cloud/disk/ssd/20", "assumed"),  # in the server price
                     ("router", "lab-router", "cloud/internet/router/100m", "assumed"),
                     ("ip block", "lab-router-/28", "cloud/global-ipaddress-v4/28", "assumed")}
    assert pair.total == single.total + 9 * 2 + 14 * 2 + 12 * 2


def test_unpriced_class_falls_back_to_the_walkthrough_rate_and_says_so():
    rate, how = PriceTable(rates={}, source="api").rate("server", "cloud/plan/core/4/memory/8")
    assert rate.hourly == 9 and how.startswith("assumed")


def test_over_budget_stops_the_build_with_the_numbers():
    spec = seed("lab", budget_yen=100, ttl_hours=2)
    with pytest.raises(OverBudget, match=r"166 yen for 2 h.*budget of 100 yen.*raise budget_yen"):
        check_budget(spec, spec.ttl_hours, PRICES)
    assert check_budget(seed("lab", budget_yen=166, ttl_hours=2), 2, PRICES).total == 166


def test_a_partial_hour_of_planned_run_counts_whole():
    assert estimate(local("lab"), 0.1, PRICES).total == 7 * 9 + 11 + 9


def lab_res(tags: list[str], created: datetime = T0) -> LabResources:
    return LabResources(switches=[switch("lab-switch", created, tags)],
                        servers=[server("lab-manager01", created, tags=tags)])


def decide(tags: list[str], now: datetime, default_budget: int = 1000) -> g.Decision:
    res = lab_res(tags)
    v = g.view("lab", "is1a", res)
    return g.decide(v, ledger("lab", res, PRICES, now), projected("lab", res, PRICES, now, timedelta(minutes=10)),
                    now, default_budget)


def test_guard_keeps_a_young_lab_and_tears_down_an_expired_one():
    tags = ["swarmlab", "swarmlab-lab=lab", lc.expiry_tag(T0 + timedelta(hours=2)), lc.budget_tag(500)]
    assert decide(tags, T0 + timedelta(hours=1)).action == "keep"
    d = decide(tags, T0 + timedelta(hours=2, minutes=1))
    assert d.action == "teardown" and d.reason.startswith("expired")


def test_guard_tears_down_a_lab_that_would_cross_its_budget_by_the_next_run():
    tags = ["swarmlab", "swarmlab-lab=lab", lc.budget_tag(40)]
    # accrued 2 h: 2×(9+11) = 40; 10 min later a third hour begins: 60 > 40
    d = decide(tags, T0 + timedelta(hours=1, minutes=55))
    assert (d.action, d.accrued_yen, d.projected_yen, d.budget_yen) == ("teardown", 40, 60, 40)
    assert decide(tags, T0 + timedelta(minutes=30)).action == "keep"
    assert decide(["swarmlab", "swarmlab-lab=lab"], T0 + timedelta(hours=3), default_budget=50).action == "teardown"


def test_guard_honours_a_protect_tag_until_it_ends():
    tags = ["swarmlab", "swarmlab-lab=lab", lc.expiry_tag(T0), lc.protect_tag(T0 + timedelta(hours=5))]
    assert decide(tags, T0 + timedelta(hours=1)).action == "keep"
    assert decide(tags, T0 + timedelta(hours=6)).action == "teardown"


def test_guard_finishes_a_started_teardown():
    tags = ["swarmlab", "swarmlab-lab=lab", lc.expiry_tag(T0 + timedelta(days=1)), lc.teardown_tag(T0)]
    d = decide(tags, T0 + timedelta(minutes=5))
    assert d.action == "teardown" and "finishing" in d.reason


def test_provision_refuses_expired_or_marked_labs():
    now = T0 + timedelta(hours=1)
    lc.check_adoptable("lab", ["swarmlab", lc.expiry_tag(T0 + timedelta(hours=2))], now)
    with pytest.raises(lc.LabExpired, match="teardown_lab lab"):
        lc.check_adoptable("lab", [lc.expiry_tag(T0)], now)
    with pytest.raises(lc.LabTearingDown, match="let teardown_lab lab finish"):
        lc.check_adoptable("lab", [lc.expiry_tag(T0 + timedelta(hours=2)), lc.teardown_tag(T0)], now)


def test_lifecycle_tags_round_trip():
    at = datetime(2025, 5, 1, 12, 34, 56, tzinfo=timezone.utc)
    assert lc.expiry_tag(at) == "swarmlab-expires=2025-05-01T12:34Z"
    assert lc.parse_expiry([lc.expiry_tag(at, seconds=True)]) == at
    assert lc.parse_budget(["x", "swarmlab-budget=500"]) == 500
    assert lc.lab_names(["swarmlab", "swarmlab-lab=a", "swarmlab-lab="]) == {"a"}


def test_report_lists_each_lab_with_its_action():
    now = T0 + timedelta(hours=3)
    d = decide(["swarmlab", "swarmlab-lab=lab", lc.expiry_tag(T0)], now)
    md = g.report([d], now=now, interval=timedelta(minutes=10), dry_run=True)
    assert "| lab | is1a | 3h00m |" in md and "would tear down" in md and "dry run" in md
