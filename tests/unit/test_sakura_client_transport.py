"""The resource modules' calls, seen through an in-memory transport (`SakuraClient(transport=...)`):
which method, path, zone, body and query each operation sends, and what it makes of the answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from swarmlab.sakura import SakuraClient
from swarmlab.sakura.errors import NotFound, error_for
from swarmlab.sakura.transport import SakuraTransport


@dataclass
class Call:
    method: str
    path: str
    body: Any
    query: Any
    zone: str | None


class Recorder:
    """Answers each call with the next scripted document (or raises it, if an exception); records the calls."""

    api_root = "memory://sakura"

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[Call] = []
        self.closed = False

    def request(self, method: str, path: str, *, body: Any = None, query: Any = None,
                zone: str | None = None) -> dict[str, Any]:
        self.calls.append(Call(method, path, body, query, zone))
        answer = self.answers.pop(0) if self.answers else {}
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        self.closed = True


def client(*answers: Any) -> tuple[SakuraClient, Recorder]:
    rec = Recorder(*answers)
    return SakuraClient(zone="tk1b", transport=rec, poll_interval_s=0.01), rec


def test_recorder_is_a_sakura_transport_and_the_client_uses_it_whole():
    c, rec = client()
    assert isinstance(rec, SakuraTransport)
    assert c.transport is rec and c.api_root == "memory://sakura"
    with c:
        pass
    assert rec.closed


def test_switch_create_sends_its_body_to_the_clients_zone():
    c, rec = client({"Switch": {"ID": 113500000001, "Name": "lab-switch", "Tags": ["swarmlab"]}})
    sw = c.switches.create("lab-switch", ["swarmlab", "swarmlab-lab=lab"], description="d")
    assert sw.id == "113500000001" and sw.name == "lab-switch"
    assert rec.calls == [Call("POST", "switch", {"Switch": {"Name": "lab-switch", "Description": "d",
                                                            "Tags": ["swarmlab", "swarmlab-lab=lab"]}},
                              None, "tk1b")]


def test_global_resources_go_through_the_global_zone():
    c, rec = client({"Note": {"ID": "1", "Name": "lab-startup"}})
    c.notes.create("lab-startup", ["swarmlab"], "#!/bin/bash\n")
    assert rec.calls[0].zone == "is1a" and rec.calls[0].path == "note"
    assert rec.calls[0].body == {"Note": {"Name": "lab-startup", "Tags": ["swarmlab"], "Class": "shell",
                                          "Content": "#!/bin/bash\n"}}


def test_find_filters_by_exact_name_and_tags_and_rechecks_what_the_api_returns():
    page = {"Total": 2, "Servers": [{"ID": "1", "Name": "lab-worker1", "Tags": ["swarmlab", "x"]},
                                    {"ID": "2", "Name": "lab-worker10", "Tags": ["swarmlab"]}]}
    c, rec = client(page)
    found = c.servers.find("lab-worker1", ["swarmlab"])
    assert [s.id for s in found] == ["1"], "the API's partial name match is dropped client-side"
    (call,) = rec.calls
    assert (call.method, call.path, call.zone) == ("GET", "server", "tk1b")
    assert call.query == {"Count": 100, "Filter": {"Name": ["lab-worker1"], "Tags.Name": [["swarmlab"]]}}


def test_find_reads_every_page():
    first = {"Total": 101, "Switches": [{"ID": str(i), "Name": f"s{i}"} for i in range(100)]}
    second = {"Total": 101, "Switches": [{"ID": "100", "Name": "s100"}]}
    c, rec = client(first, second)
    assert len(c.switches.find()) == 101
    assert [call.query.get("From") for call in rec.calls] == [None, 100]


def test_power_on_of_a_server_already_up_only_reads_it():
    c, rec = client({"Server": {"ID": "7", "Name": "m1", "Instance": {"Status": "up"}}})
    assert c.servers.power_on("7").status == "up"
    assert [(x.method, x.path) for x in rec.calls] == [("GET", "server/7")]


def test_delete_of_a_server_already_gone_is_false_and_sends_with_disk():
    gone = error_for(404, "not_found", "no such server", "DELETE", "/tk1b/server/7")
    c, rec = client(gone, {})
    assert c.servers.delete("7", with_disks=["8"]) is False
    assert rec.calls[0] == Call("DELETE", "server/7", {"WithDisk": ["8"]}, None, "tk1b")
    assert c.servers.delete("7") is True and rec.calls[1].body is None


def test_errors_from_the_transport_reach_the_caller_typed():
    c, _ = client(error_for(404, "not_found", "no such switch", "GET", "/tk1b/switch/9"))
    with pytest.raises(NotFound):
        c.switches.get("9")


def test_without_a_transport_the_client_needs_a_token_and_a_zone():
    with pytest.raises(ValueError, match="token"):
        SakuraClient("", "s", "is1a")
    with pytest.raises(ValueError, match="zone"):
        SakuraClient(transport=Recorder())
