"""LabSpec.hooks: validated like the other spec fields; the environment a hook sees (pure)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from flows.build_and_destroy import own_lab
from flows.naming import lab_of
from swarmlab.cloud.inventory import Inventory, ServerInfo
from swarmlab.spec import Role, local
from tasks.hooks import hook_env


@pytest.mark.parametrize("command,why", [("", "empty command"), ("  ", "empty command"),
                                         ("echo a\nrm -rf /", "one command line per entry"),
                                         ("x" * 5000, "at most 4096")])
def test_bad_hook_commands_are_refused_naming_the_entry(command, why):
    with pytest.raises(ValidationError) as e:
        local(hooks={"before_teardown": ["true", command]})
    assert "hooks.before_teardown[1]" in str(e.value) and why in str(e.value)


def test_hooks_default_to_none_and_survive_a_rename():
    assert local().hooks.after_build == [] and local().hooks.before_teardown == []
    spec = local("a1", hooks={"after_build": ['curl -fsS "$LAB_WEB_URL"']}).renamed("b2")
    assert spec.hooks.after_build == ['curl -fsS "$LAB_WEB_URL"']


def test_hook_env_has_the_urls_haproxy_and_the_inventory_as_json():
    inv = Inventory(lab="l1", zone="is1a", switch_id="1", nfs_id="2", nfs_ip="192.168.1.100", registry_id="3",
                    registry_fqdn="l1.sakuracr.jp", registry_user="u",
                    servers=[ServerInfo(name="l1-haproxy01", role=Role.haproxy, id="9", address="203.0.113.5",
                                        private_ip="192.168.1.30", status="up")])
    env = hook_env("l1", inv, "203.0.113.5")
    assert env["LAB_NAME"] == "l1" and env["LAB_HAPROXY"] == "203.0.113.5"
    assert env["LAB_WEB_URL"] == "http://203.0.113.5/" and env["LAB_DOCS_URL"] == "http://203.0.113.5:8000/docs"
    assert json.loads(env["LAB_INVENTORY"])["servers"][0]["name"] == "l1-haproxy01"
    assert hook_env("l1") == {"LAB_NAME": "l1"}  # before the lab answers: only its name


def test_the_state_hook_recomputes_the_run_lab_from_prefix_and_scheduled_start():
    start = datetime(2026, 11, 29, 3, 4, tzinfo=timezone.utc)
    assert own_lab("nightly", "swarmlab", start) == "nightly-20261129-0304"
    assert own_lab(None, "mine", start) == "mine"
    assert own_lab(None, None, start) == "swarmlab"
    assert lab_of({"name": "x1"}) == "x1" and lab_of(local("x2")) == "x2" and lab_of(None) is None
