"""A build racing a teardown: every create of provision re-reads the switch's teardown marker first (emulator)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest
from pydantic import SecretStr

from swarmlab.cloud import provision as lib
from swarmlab.cloud.lifecycle import LabTearingDown, teardown_tag
from swarmlab.spec import local
from tests.api.test_client import make_client
from tests.api.test_provision_flow import listing


@pytest.fixture
def client(emulator):
    with make_client(emulator) as c:
        yield c


def test_no_note_and_no_registry_once_the_switch_is_marked(emulator, client):
    spec = local("lab-m")
    switch_id, tags, created = lib.ensure_switch(client, spec)
    assert created
    sw = client.switches.get(switch_id)
    client.switches.set_tags(switch_id, [*sw.tags, teardown_tag(datetime.now(timezone.utc))])  # teardown began

    with pytest.raises(LabTearingDown, match="lab lab-m is being torn down"):
        lib.ensure_note(client, spec, switch_id=switch_id, tags=tags)
    with pytest.raises(LabTearingDown, match="lab lab-m is being torn down"):
        lib.ensure_registry(client, spec, switch_id=switch_id, tags=tags, password=SecretStr("pw-unused-1234"))
    assert listing(emulator, "lab-m") == Counter({"switch": 1}), "a note or registry was created for a marked lab"


def test_no_note_and_no_registry_once_the_switch_is_gone(emulator, client):
    spec = local("lab-n")
    switch_id, tags, _ = lib.ensure_switch(client, spec)
    client.switches.delete(switch_id)  # teardown deletes the switch last: nothing else of the lab is left

    with pytest.raises(LabTearingDown):
        lib.ensure_note(client, spec, switch_id=switch_id, tags=tags)
    with pytest.raises(LabTearingDown):
        lib.ensure_registry(client, spec, switch_id=switch_id, tags=tags, password=SecretStr("pw-unused-1234"))
    assert listing(emulator, "lab-n") == Counter()


def test_an_unmarked_lab_gets_its_note_and_registry(emulator, client):
    spec = local("lab-o")
    switch_id, tags, _ = lib.ensure_switch(client, spec)
    note_id, note_created = lib.ensure_note(client, spec, switch_id=switch_id, tags=tags)
    reg_id, fqdn, reg_created = lib.ensure_registry(client, spec, switch_id=switch_id, tags=tags,
                                                    password=SecretStr("pw-unused-1234"))
    assert note_created and reg_created and fqdn == "lab-o.sakuracr.jp"
    assert listing(emulator, "lab-o") == Counter({"switch": 1, "note": 1, "commonserviceitem": 1})
