"""Packet filters: the client against the emulator process (CRUD, validation, attach/detach on a NIC)."""

from __future__ import annotations

import pytest
import requests

from swarmlab.sakura import BadRequest, Conflict, NotFound, PacketFilterRule
from tests.api.test_client import make_client

SSH = PacketFilterRule(protocol="tcp", source_network="203.0.113.0/24", destination_port="22", action="allow")
RETURN = PacketFilterRule(protocol="tcp", destination_port="32768-61000", action="allow")
ICMP = PacketFilterRule(protocol="icmp", action="allow")
DENY = PacketFilterRule(protocol="ip", action="deny")


@pytest.fixture
def client(emulator):
    with make_client(emulator) as c:
        yield c


def raw(emulator, method: str, path: str, body=None) -> requests.Response:
    return requests.request(method, emulator.url(path), json=body, auth=emulator.auth, timeout=5)


def test_crud_keeps_the_real_shapes(client, emulator):
    pf = client.packet_filters.create("lab-filter", [SSH, RETURN, ICMP, DENY], description="swarmlab-lab=lab")
    assert pf.id and pf.name == "lab-filter" and pf.description == "swarmlab-lab=lab"
    assert [(r.protocol, r.source_network, r.destination_port, r.action) for r in pf.expression] == [
        ("tcp", "203.0.113.0/24", "22", "allow"), ("tcp", "", "32768-61000", "allow"),
        ("icmp", "", "", "allow"), ("ip", "", "", "deny")]
    body = raw(emulator, "GET", f"packetfilter/{pf.id}").json()["PacketFilter"]
    assert set(body["Expression"][0]) >= {"Protocol", "SourceNetwork", "SourcePort", "DestinationPort", "Action"}
    assert "DestinationPort" not in body["Expression"][2] and body["Expression"][1]["SourceNetwork"] is None
    assert "Tags" not in body
    assert [f.id for f in client.packet_filters.find("lab-filter")] == [pf.id]
    assert client.packet_filters.find("lab-filte") == []
    up = client.packet_filters.update(pf.id, [ICMP, DENY])
    assert [r.protocol for r in up.expression] == ["icmp", "ip"] and up.description == "swarmlab-lab=lab"
    assert client.packet_filters.delete(pf.id) is True
    assert client.packet_filters.delete(pf.id) is False
    with pytest.raises(NotFound):
        client.packet_filters.get(pf.id)


def test_validation_errors_name_the_rule(client, emulator):
    too_many = [{"Protocol": "tcp", "DestinationPort": str(1000 + i), "Action": "allow"} for i in range(31)]
    cases = [
        (too_many, "30"),
        ([{"Protocol": "sctp", "Action": "allow"}], "Expression[0].Protocol"),
        ([{"Protocol": "tcp", "Action": "permit"}], "Expression[0].Action"),
        ([ICMP.model_dump(by_alias=True), {"Protocol": "tcp", "DestinationPort": "70000", "Action": "allow"}],
         "Expression[1].DestinationPort"),
        ([{"Protocol": "tcp", "DestinationPort": "61000-32768", "Action": "allow"}], "DestinationPort"),
        ([{"Protocol": "udp", "SourceNetwork": "10.0.0.0/33", "Action": "allow"}], "SourceNetwork"),
    ]
    for expr, needle in cases:
        r = raw(emulator, "POST", "packetfilter", {"PacketFilter": {"Name": "bad", "Expression": expr}})
        body = r.json()
        assert (r.status_code, body["error_code"], body["is_fatal"]) == (400, "invalid_format", True), expr
        assert needle in body["error_msg"], (needle, body["error_msg"])
    r = raw(emulator, "POST", "packetfilter", {"PacketFilter": {"Name": "bad", "Expression": [
        {"Protocol": "icmp", "DestinationPort": "22", "Action": "allow"}]}})
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_param_comb")
    r = raw(emulator, "POST", "packetfilter", {"PacketFilter": {"Expression": []}})
    assert (r.status_code, r.json()["error_code"]) == (400, "missing_param")
    ok = raw(emulator, "POST", "packetfilter", {"PacketFilter": {"Name": "mask", "Expression": [
        {"Protocol": "udp", "SourceNetwork": "192.0.2.0/255.255.255.0", "SourcePort": "53", "Action": "allow"}]}})
    assert ok.status_code == 201
    with pytest.raises(ValueError, match="31 rules, at most 30"):
        client.packet_filters.create("x", [ICMP] * 31)
    assert client.packet_filters.find("bad") == []


def test_attach_shows_on_the_nic_and_blocks_delete(client, emulator):
    pf = client.packet_filters.create("lab-filter", [SSH, DENY])
    srv = client.servers.create(name="lab-web01", tags=["swarmlab"], cpu=1, memory_gb=1, switch_ids=[])
    nic = srv.interfaces[0]
    assert nic.packet_filter is None
    attached = client.packet_filters.attach(nic.id, pf.id)
    assert attached.packet_filter and attached.packet_filter.id == pf.id
    got = client.servers.get(srv.id).interfaces[0].packet_filter
    assert got.id == pf.id and got.name == "lab-filter" and [r.protocol for r in got.expression] == ["tcp", "ip"]
    nic_body = raw(emulator, "GET", f"interface/{nic.id}").json()["Interface"]["PacketFilter"]
    assert set(nic_body) == {"ID", "Name", "RequiredHostVersion", "Expression"}
    with pytest.raises(Conflict):
        client.packet_filters.delete(pf.id)
    client.packet_filters.update(pf.id, [DENY])
    assert [r.protocol for r in client.servers.get(srv.id).interfaces[0].packet_filter.expression] == ["ip"]
    with pytest.raises(NotFound):
        client.packet_filters.attach(nic.id, "113999999999")
    assert client.packet_filters.detach(nic.id) is True
    assert client.packet_filters.detach(nic.id) is False
    assert client.servers.get(srv.id).interfaces[0].packet_filter is None
    assert client.packet_filters.delete(pf.id) is True
    with pytest.raises(BadRequest) as ei:
        client.request("DELETE", f"interface/{nic.id}/to/packetfilter")
    assert (ei.value.status, ei.value.error_code) == (400, "res_already_disconnected")
