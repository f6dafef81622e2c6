"""Lifecycle tag parsing (fail safe), teardown's refusal and its deletion plan: pure, over API models."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from swarmlab.cloud import lifecycle as lc
from swarmlab.cost import PriceTable, ledger, projected
from swarmlab.cost import guard as g
from swarmlab.sakura.models import NFS, Disk, Note, Registry, Server, Switch
from swarmlab.cloud.resources import LabResources
from swarmlab.cloud.teardown import data_warning, plan_teardown

NOW = datetime(2026, 11, 29, 2, 0, tzinfo=timezone.utc)
LAB = ["swarmlab", "swarmlab-lab=lab"]


@pytest.mark.parametrize("value, expected", [
    ("2099-06-01", datetime(2099, 6, 1, tzinfo=timezone.utc)),
    ("2099-06-01T00:00+09:00", datetime(2099, 5, 31, 15, tzinfo=timezone.utc)),
    ("2099-06-01T00:00+0900", datetime(2099, 5, 31, 15, tzinfo=timezone.utc)),
    ("2099-06-01T00:00-05:30", datetime(2099, 6, 1, 5, 30, tzinfo=timezone.utc)),
    ("2099-06-01T00:00Z", datetime(2099, 6, 1, tzinfo=timezone.utc)),
    ("2099-06-01T00:00:30Z", datetime(2099, 6, 1, 0, 0, 30, tzinfo=timezone.utc)),
])
def test_the_forms_users_write_parse_to_utc(value, expected):
    assert lc.parse_time(value) == expected
    assert lc.read_time([lc.PROTECT_PREFIX + value], lc.PROTECT_PREFIX) == expected


@pytest.mark.parametrize("value", ["2099-06-01T00:00", "next week", "2099-13-01", "2099-06-01T25:00Z", ""])
def test_a_tag_that_does_not_parse_is_unreadable_not_absent(value):
    got = lc.read_time([lc.PROTECT_PREFIX + value], lc.PROTECT_PREFIX)
    assert isinstance(got, lc.Unreadable) and got.value == value
    assert str(got) == f"tag swarmlab-protect-until={value} does not parse; fix it to " \
                       f"swarmlab-protect-until=YYYY-MM-DDTHH:MMZ (UTC, e.g. 2099-06-01T00:00Z)"
    assert lc.read_time(["swarmlab"], lc.PROTECT_PREFIX) is None
    assert isinstance(lc.read_budget(["swarmlab-budget=lots"]), lc.Unreadable)
    assert lc.fmt_time(lc.parse_time("2099-06-01T09:00+09:00")) == "2099-06-01T00:00Z"  # canonical form


def switch(tags: list[str], id: int = 10, name: str = "lab-switch") -> Switch:
    return Switch.model_validate({"ID": id, "Name": name, "Tags": tags, "CreatedAt": NOW.isoformat(),
                                  "ServiceClass": "cloud/switch/default"})


@pytest.mark.parametrize("value", ["2099-06-01", "2099-06-01T00:00+09:00"])
def test_a_date_or_an_offset_protects_the_lab_from_teardown_and_the_guard(value):
    life = lc.lab_lifecycle([*LAB, lc.PROTECT_PREFIX + value], [])
    with pytest.raises(lc.LabProtected, match=re.escape(f"swarmlab-protect-until={value} (until") + ".*--force.*remove the tag"):
        lc.check_teardown("lab", life, NOW)
    res = LabResources(switches=[switch([*LAB, lc.expiry_tag(NOW - timedelta(hours=1)),
                                         lc.PROTECT_PREFIX + value])])
    assert decide(res).action == "keep" and decide(res).reason.startswith("protected until 2099-")


def decide(res: LabResources, default_budget: int = 1000) -> g.Decision:
    prices = PriceTable.bundled()
    return g.decide(g.view("lab", "is1a", res), ledger("lab", res, prices, NOW),
                    projected("lab", res, prices, NOW, timedelta(minutes=10)), NOW, default_budget)


@pytest.mark.parametrize("tag", [lc.PROTECT_PREFIX + "2099-06-01 09:00", lc.EXPIRES_PREFIX + "tomorrow",
                                 lc.BUDGET_PREFIX + "500yen"])
def test_an_unreadable_lifecycle_tag_is_kept_and_flagged_by_the_guard_and_refused_by_teardown(tag):
    expired = lc.expiry_tag(NOW - timedelta(hours=1)) if not tag.startswith(lc.EXPIRES_PREFIX) else "x"
    res = LabResources(switches=[switch([*LAB, expired, tag])])
    d = decide(res, default_budget=1)  # expired and over its default budget: old code tore it down
    assert d.action == "keep" and f"tag {tag} does not parse; fix it to" in d.reason
    assert d.flags == [f"tag {tag} does not parse; fix it to " + d.flags[0].split("fix it to ")[1]]
    md = g.report([d], now=NOW, interval=timedelta(minutes=10), dry_run=False)
    assert "Flagged" in md and tag in md
    with pytest.raises(lc.LabTagUnreadable, match=f"tag {tag} does not parse.*--force"):
        lc.check_teardown("lab", lc.lab_lifecycle(res.switches[0].tags, []), NOW)


def test_an_unreadable_tag_on_any_resource_wins_when_the_switch_has_none():
    life = lc.lab_lifecycle(LAB, [[*LAB, lc.protect_tag(NOW - timedelta(days=1))], [*LAB, lc.PROTECT_PREFIX + "?"]])
    assert isinstance(life.protected_until, lc.Unreadable)
    life = lc.lab_lifecycle([*LAB, lc.PROTECT_PREFIX + "2099-06-01"], [[*LAB, lc.PROTECT_PREFIX + "?"]])
    assert life.protected(NOW) and life.protect_value == "2099-06-01"  # the switch decides
    lc.check_teardown("lab", lc.lab_lifecycle([*LAB, lc.protect_tag(NOW - timedelta(minutes=1))], []), NOW)


def nic(id: int, switch_id: str | None, scope: str = "user", name: str = "") -> dict:
    return {"ID": id, "Switch": {"ID": switch_id, "Scope": scope, "Name": name} if switch_id else None}


def snapshot() -> LabResources:
    def srv(id, name, disks, nics):
        return Server.model_validate({"ID": id, "Name": name, "Tags": LAB, "Disks": disks, "Interfaces": nics})

    own1 = {"ID": 201, "Name": "lab-manager01-disk"}
    own2 = {"ID": 202, "Name": "lab-worker01-disk"}
    hand = {"ID": 299, "Name": "precious-data"}  # attached by hand, not the lab's
    return LabResources(
        servers=[srv(101, "lab-manager01", [own1], [nic(1, "100000000001", "shared"), nic(2, "10")]),
                 srv(102, "lab-worker01", [own2, hand], [nic(3, "10"), nic(4, "77", name="their-switch")])],
        disks=[Disk.model_validate({**d, "Tags": LAB}) for d in (own1, own2, {"ID": 203, "Name": "lab-spare-disk"})],
        nfs=[NFS.model_validate({"ID": 301, "Name": "lab-nfs", "Tags": LAB})],
        registries=[Registry.model_validate({"ID": 401, "Name": "lab-registry", "Tags": LAB})],
        notes=[Note.model_validate({"ID": 501, "Name": "lab-startup", "Tags": LAB})],
        switches=[switch(LAB)])


def test_the_plan_lists_every_resource_in_order_and_leaves_what_is_not_the_labs():
    plan = [str(s) for s in plan_teardown(snapshot(), {"301": 3 * 10**9})]
    assert plan == [
        "delete servers lab-manager01 (with disk lab-manager01-disk)",
        "disconnect nic lab-worker01#1 (from switch their-switch, not the lab's: the switch is left)",
        "detach disks precious-data (from server lab-worker01; not the lab's: left)",
        "delete servers lab-worker01 (with disk lab-worker01-disk)",
        "delete nfs lab-nfs (share lab-nfs holds ~3.0 GB; it will be lost)",
        "delete disks lab-spare-disk",
        "delete registries lab-registry",
        "delete notes lab-startup",
        "delete switches lab-switch",
    ]
    assert "could not be read; whatever it holds will be lost" in str(plan_teardown(snapshot())[4])
    assert data_warning("lab-nfs", 12 * 10**6) == "share lab-nfs holds ~12.0 MB; it will be lost"
    assert plan_teardown(LabResources()) == []
