"""The emulator's database appliance, pure parts: settings validation and the pg_hba.conf its server runs with."""

from __future__ import annotations

import pytest

from emulator.backend import DatabaseRuntime
from emulator.databases import check_settings
from emulator.docker.databases import render_hba
from emulator.errors import ApiError


def settings(**common):
    base = {"DefaultUser": "app", "UserPassword": "pass-word-1"}
    return {"DBConf": {"Common": {**base, **common}}}


def test_settings_normalised():
    out = check_settings(settings(ServicePort="6432", SourceNetwork=["192.168.1.7", "10.0.0.0/8"]))
    assert out == {"DBConf": {"Common": {"ServicePort": 6432, "SourceNetwork": ["192.168.1.7/32", "10.0.0.0/8"],
                                         "DefaultUser": "app", "UserPassword": "pass-word-1"}}}
    for any_source in ("", None, [], ["0.0.0.0/0"]):
        assert check_settings(settings(SourceNetwork=any_source))["DBConf"]["Common"]["SourceNetwork"] == []
    assert check_settings(settings())["DBConf"]["Common"]["ServicePort"] == 5432


def test_settings_update_keeps_what_is_not_sent():
    current = check_settings({"DBConf": {**settings(ServicePort=6000)["DBConf"], "Backup": {"Rotate": 3,
                                                                                          "Time": "01:30"}}})
    out = check_settings({"DBConf": {"Common": {"UserPassword": "another-pass"}}}, current)
    assert out["DBConf"]["Common"] == {"ServicePort": 6000, "SourceNetwork": [], "DefaultUser": "app",
                                       "UserPassword": "another-pass"}
    assert out["DBConf"]["Backup"] == {"Rotate": 3, "Time": "01:30"}


@pytest.mark.parametrize("bad,code", [
    ({"DefaultUser": None, "UserPassword": None}, "missing_param"),
    ({"DefaultUser": "1app"}, "invalid_format"),
    ({"UserPassword": "short"}, "invalid_format"),
    ({"ServicePort": 22}, "invalid_format"),
    ({"ServicePort": "x"}, "invalid_format"),
    ({"SourceNetwork": "10.0.0.0/8"}, "invalid_format"),
    ({"SourceNetwork": ["10.0.0.0/33"]}, "invalid_format"),
])
def test_settings_refused(bad, code):
    with pytest.raises(ApiError) as ei:
        check_settings(settings(**bad))
    assert (ei.value.status, ei.value.code) == (400, code)
    assert "pass-word-1" not in str(ei.value) and "short" not in ei.value.msg


def db(sources):
    return DatabaseRuntime(id="1", switch_id="2", ip="192.168.1.30", mask_len=24, port=5432, user="app",
                           password="never-in-hba", source_networks=sources)


def test_hba_allows_the_user_from_its_sources_only():
    hba = render_hba(db(["192.168.1.0/24", "10.1.2.3/32"]))
    rules = [line.split() for line in hba.splitlines() if line and not line.startswith("#")]
    assert rules == [["local", "all", "all", "peer"],
                     ["host", "all", "app", "192.168.1.0/24", "scram-sha-256"],
                     ["host", "all", "app", "10.1.2.3/32", "scram-sha-256"]]
    assert "never-in-hba" not in hba and "trust" not in hba


def test_hba_any_source():
    assert "host all app 0.0.0.0/0 scram-sha-256" in render_hba(db([]))
