"""Router+switch (`/internet`): the client against a memory-backend emulator process: create with a /28
and a bandwidth, its switch and addresses in the answers, a server's NIC on that switch, validation,
delete (the switch goes with the router, not without it)."""

from __future__ import annotations

import ipaddress

import pytest

from swarmlab.sakura import BadRequest, Conflict, NotFound
from tests.api.conformance import Raw
from tests.api.test_client import make_client


@pytest.fixture
def client(emulator):
    with make_client(emulator) as c:
        yield c


def test_create_read_find_delete(client):
    rt = client.internets.create("lab-router", ["swarmlab-lab=lab"], mask_len=28, band_width_mbps=100)
    assert (rt.name, rt.band_width_mbps, rt.network_mask_len, rt.tags) == ("lab-router", 100, 28, ["swarmlab-lab=lab"])
    assert rt.service_class == "cloud/internet/router/100m"
    net = rt.subnet.network
    assert net.prefixlen == 28 and rt.subnet.default_route == str(net.network_address + 1)
    assert rt.subnet.assignable == [str(net.network_address + i) for i in range(4, 15)]

    sw = client.switches.get(rt.switch_id)
    assert sw.internet.id == rt.id and sw.user_subnet is None
    [sub] = sw.subnets
    assert (sub.network_address, sub.network_mask_len) == (str(net.network_address), 28)
    assert sub.addresses == {"Min": str(net.network_address + 4), "Max": str(net.broadcast_address - 1)}
    assert [r.id for r in client.internets.find("lab-router", ["swarmlab-lab=lab"])] == [rt.id]
    assert client.internets.get(rt.id).subnet == rt.subnet

    with pytest.raises(BadRequest, match="/internet/"):
        client.switches.delete(rt.switch_id)          # a router's switch goes only with its router
    assert client.internets.delete(rt.id) is True
    with pytest.raises(NotFound):
        client.switches.get(rt.switch_id)
    assert client.internets.delete(rt.id) is False   # already gone: teardown may run again


def test_two_routers_get_disjoint_blocks(client):
    a = client.internets.create("a", [], mask_len=28)
    b = client.internets.create("b", [], mask_len=27)
    assert b.subnet.network.prefixlen == 27
    assert not a.subnet.network.overlaps(b.subnet.network)


def test_a_server_nic_joins_the_router_switch_with_an_address_of_the_block(client, emulator):
    rt = client.internets.create("edge", [])
    srv = Raw(emulator).ok("POST", "server", {"Server": {"Name": "haproxy01", "ServerPlan": {"ID": 100001001},
                                                         "ConnectedSwitches": [{"Scope": "shared"}]}})["Server"]
    nic = client.interfaces.add(srv["ID"])
    nic = client.interfaces.connect(nic.id, rt.switch_id)
    assert nic.switch_id == rt.switch_id and nic.switch.user_subnet.default_route == rt.subnet.default_route
    ip = rt.subnet.assignable[0]
    assert client.interfaces.set_user_ip(nic.id, ip).user_ip_address == ip
    with pytest.raises(BadRequest, match="UserIPAddress"):
        client.interfaces.set_user_ip(nic.id, rt.subnet.default_route)   # the router's own address
    assert client.switches.get(rt.switch_id).server_count == 1
    assert [s.name for s in client.switches.servers(rt.switch_id)] == ["haproxy01"]
    with pytest.raises(Conflict) as e:
        client.internets.delete(rt.id)
    assert e.value.error_code == "disconnect_b4_delete"
    client.interfaces.disconnect(nic.id)
    assert client.internets.delete(rt.id) is True


@pytest.mark.parametrize("body,code", [
    ({"Name": "x", "NetworkMaskLen": 24, "BandWidthMbps": 100}, "invalid_format"),   # /24 is not a member plan
    ({"Name": "x", "NetworkMaskLen": 28, "BandWidthMbps": 123}, "param_res_not_found"),
    ({"NetworkMaskLen": 28, "BandWidthMbps": 100}, "missing_param"),
])
def test_validation(emulator, body, code):
    r = Raw(emulator).send("POST", "internet", {"Internet": body})
    assert r.status_code == 400 and r.json()["error_code"] == code


def test_client_refuses_a_block_size_sakura_does_not_offer(client):
    with pytest.raises(ValueError, match="mask_len 29"):
        client.internets.create("x", [], mask_len=29)


def test_bigint_ids_and_the_block_is_public_shaped(emulator):
    api = Raw(emulator, bigint=True)
    rt = api.ok("POST", "internet", {"Internet": {"Name": "r", "NetworkMaskLen": 28, "BandWidthMbps": 100}})
    rt = rt["Internet"]
    assert isinstance(rt["ID"], int) and isinstance(rt["Switch"]["ID"], int)
    sub = rt["Switch"]["Subnets"][0]
    assert ipaddress.ip_network(f"{sub['NetworkAddress']}/{sub['NetworkMaskLen']}").prefixlen == 28
