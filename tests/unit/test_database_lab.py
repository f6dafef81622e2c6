"""A `database: appliance` lab, pure parts: the spec, its estimate and ledger, what provision still has to
create, the teardown plan and the status line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from ipaddress import IPv4Address

import pytest
from pydantic import ValidationError

from swarmlab.cloud.provision import missing
from swarmlab.cloud.resources import LabResources
from swarmlab.cloud.teardown import plan_teardown
from swarmlab.cost import PriceTable, estimate, ledger
from swarmlab.cost.guard import view
from swarmlab.cost.ledger import Ledger
from swarmlab.cost.status import status_of, text
from swarmlab.sakura.models import NFS, Database, Switch
from swarmlab.spec import DatabaseSpec, local, seed

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
LAB = ["swarmlab", "swarmlab-lab=lab"]


def db(status="up", created=NOW - timedelta(hours=3), changed=None) -> Database:
    return Database.model_validate({
        "ID": 601, "Name": "lab-db", "Class": "database", "Tags": LAB, "CreatedAt": created.isoformat(),
        "ServiceClass": "cloud/appliance/database/10gb", "Availability": "available",
        "Instance": {"Status": status, "StatusChangedAt": (changed or created).isoformat()},
        "Remark": {"Servers": [{"IPAddress": "192.168.1.210"}]},
        "Settings": {"DBConf": {"Common": {"ServicePort": "5432", "SourceNetwork": ["192.168.1.0/24"]}}}})


def test_default_is_the_walkthroughs_swarm_database():
    spec = seed("lab")
    assert spec.database == "swarm" and "lab-db" not in missing(LabResources(), spec)
    assert [ln.kind for ln in estimate(spec, 2, PriceTable.bundled()).lines].count("database") == 0


def test_appliance_address_defaults_to_210_and_is_checked_like_the_others():
    spec = local("lab", database="appliance")
    assert spec.db_appliance_ip == IPv4Address("192.168.1.210") and spec.db_appliance.port == 5432
    assert local("lab", database="appliance", db_appliance=DatabaseSpec(ip="192.168.1.9")).db_appliance_ip == \
        IPv4Address("192.168.1.9")
    with pytest.raises(ValidationError, match="duplicate private IP 192.168.1.200"):
        local("lab", database="appliance", db_appliance=DatabaseSpec(ip="192.168.1.200"))      # the NFS's
    with pytest.raises(ValidationError, match="10.0.0.5 is not a host address"):
        local("lab", database="appliance", db_appliance=DatabaseSpec(ip="10.0.0.5"))
    local("lab", db_appliance=DatabaseSpec(ip="192.168.1.200"))     # unused unless database: appliance
    with pytest.raises(ValidationError):
        DatabaseSpec(plan="20g")


def test_estimate_prices_the_appliance():
    base, appl = (estimate(local("lab", database=d), 2, PriceTable.bundled()) for d in ("swarm", "appliance"))
    line, = [ln for ln in appl.lines if ln.kind == "database"]
    assert (line.name, line.service_class, line.rate_source.split(" ")[0]) == (
        "lab-db", "cloud/appliance/database/10gb", "assumed")
    assert appl.total == base.total + 22 * 2
    big = estimate(local("lab", database="appliance", db_appliance=DatabaseSpec(plan="1t")), 1, PriceTable.bundled())
    assert "cloud/appliance/database/1000gb" in {ln.service_class for ln in big.lines}


def test_a_stopped_database_is_not_billed_after_its_stop():
    running = ledger("lab", LabResources(databases=[db()]), PriceTable.bundled(), NOW)
    stopped = ledger("lab", LabResources(databases=[db("down", changed=NOW - timedelta(hours=2))]),
                     PriceTable.bundled(), NOW)
    assert [ln.hours for ln in running.lines] == [3] and [ln.hours for ln in stopped.lines] == [1]


def test_provision_still_creates_the_appliance_and_teardown_deletes_it_with_the_nfs():
    spec = local("lab", database="appliance")
    assert "lab-db" in missing(LabResources(), spec)
    assert "lab-db" not in missing(LabResources(databases=[db()]), spec)
    found = LabResources(nfs=[NFS.model_validate({"ID": 301, "Name": "lab-nfs", "Tags": LAB})], databases=[db()],
                         switches=[Switch.model_validate({"ID": 9, "Name": "lab-switch", "Tags": LAB})])
    assert [str(s) for s in plan_teardown(found, {"301": 0})] == [
        "delete nfs lab-nfs (share lab-nfs holds ~0.0 MB; it will be lost)",
        "delete databases lab-db (database lab-db: its data will be lost)",
        "delete switches lab-switch"]


def test_status_shows_the_appliance():
    s = status_of(view("lab", "is1a", LabResources(databases=[db()])), Ledger(lab="lab", at=NOW,
                                                                            price_source="api", lines=[]), NOW)
    assert s.database == "lab-db at 192.168.1.210:5432, up"
    assert "lab: database appliance lab-db at 192.168.1.210:5432, up" in text([s], ["is1a"])
