"""Golden tests of the database appliance: libsacloud's captured bodies (fixtures/sakura/README.md) through
swarmlab's models, including the value-shape quirks the real API sends, and the SDKs' plan lookup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from swarmlab.sakura import Database, DatabaseStatus, NoMatch
from swarmlab.sakura.databases import database_plan_gb, database_plan_id, settings_body

FIXTURES = Path(__file__).parent / "fixtures" / "sakura"


def real(name: str):
    return json.loads((FIXTURES / name).read_text())


def test_database():
    db = Database.model_validate(real("database-libsacloud-v1.json"))
    assert (db.id, db.klass, db.status, db.availability) == ("999999999999", "database", "down", "available")
    assert db.plan.id == "1" and db.remark.plan.id == "1" and db.service_class == "cloud/appliance/database/mini"
    assert (db.port, db.default_user) == (5432, "HogeHogeooo")   # ServicePort arrives as the string "5432"
    assert db.source_networks == ["192.168.11.1", "192.168.11.2"]
    assert (db.network.network_mask_len, db.network.default_route) == (24, "192.168.11.1")
    assert (db.engine.database_name, db.engine.database_version, db.engine.database_revision) == (
        "postgres", "9.4", "9.4.7")
    assert db.remark.servers == [] and db.remark.switch.id is None     # `Servers: [[]]`, `Switch: {Scope}`
    assert db.ip == "8.8.8.8" and db.settings_hash == "589300a0e9c9c8a6c6055ffb27f26155"
    backup = db.settings.db_conf.backup
    assert (backup.rotate, backup.time) == (8, "00:45")
    assert db.common.user_password.get_secret_value() == "HogeHogeooo"
    assert "user_password=SecretStr('**********')" in str(db.settings)   # the fixture's user is "HogeHogeooo" too


@pytest.mark.parametrize("sources,network,want_sources", [
    ("", [], []),                                    # the empty forms the real API returns
    (None, [], []),
    (["0.0.0.0/0"], [], []),                         # "any", as the SDKs send it
    (["192.168.1.0/24"], {"NetworkMaskLen": 24, "DefaultRoute": "192.168.1.1"}, ["192.168.1.0/24"]),
])
def test_database_value_shapes(sources, network, want_sources):
    doc = real("database-libsacloud-v1.json")
    doc["Settings"]["DBConf"]["Common"]["SourceNetwork"] = sources
    doc["Settings"]["DBConf"]["Backup"] = []
    doc["Remark"]["Network"] = network
    db = Database.model_validate(doc)
    assert db.source_networks == want_sources
    assert db.settings.db_conf.backup is None
    assert (db.network is None) == (network == [])


def test_database_without_settings():
    doc = {k: v for k, v in real("database-libsacloud-v1.json").items() if k != "Settings"}
    db = Database.model_validate(doc)
    assert (db.port, db.source_networks, db.default_user) == (None, [], "")


def test_database_status():
    st = DatabaseStatus.model_validate(real("database-status-libsacloud-v1.json"))
    assert (st.status, st.is_fatal, st.engine_status) == ("up", False, "running")   # MariaDB era body
    assert st.db_conf.version.tag == "1.0"
    assert [(b.availability, b.size) for b in st.backups] == [("discontinued", 3661539)] * 2
    assert st.backups[0].created_at.isoformat() == "2017-07-25T11:50:58+09:00"
    pg = DatabaseStatus.model_validate({"Status": "up", "is_fatal": False, "DBConf": {"postgres": {"status": "running"}}})
    assert pg.engine_status == "running" and pg.backups == []
    assert DatabaseStatus.model_validate({}).engine_status == ""


@pytest.mark.parametrize("plan,want", [("10g", "10"), ("30G", "30"), ("1t", "1000"), (90, "90"), ("1000", "1000")])
def test_plan_lookup_as_the_sdks(plan, want):
    assert database_plan_id(plan) == want
    assert database_plan_gb(want) == int(want)


@pytest.mark.parametrize("plan", ["20g", "2t", "", 0])
def test_plan_lookup_refuses_other_sizes(plan):
    with pytest.raises(NoMatch) as ei:
        database_plan_id(plan)
    assert "10g, 30g, 90g, 240g, 500g, 1t" in str(ei.value)
    assert database_plan_gb("1") is None and database_plan_gb(None) is None


def test_settings_body_sends_any_as_the_sdks():
    body = settings_body(5432, [], "app", SecretStr("pw"))
    assert body == {"DBConf": {"Common": {"ServicePort": 5432, "SourceNetwork": ["0.0.0.0/0"],
                                          "DefaultUser": "app", "UserPassword": "pw"}}}
    limited = settings_body(6543, ["192.168.1.0/24"], "app", SecretStr("pw"), {"Rotate": 7, "Time": "01:00"})
    assert limited["DBConf"]["Common"]["SourceNetwork"] == ["192.168.1.0/24"]
    assert limited["DBConf"]["Backup"] == {"Rotate": 7, "Time": "01:00"}
