"""render_keepalived (edge: pair): addresses in the router's block, unicast peers, nopreempt, the check."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from swarmlab.render.keepalived import edge_addresses, render_keepalived, vrid
from swarmlab.spec import seed

BLOCK = IPv4Network("133.242.253.96/28")


def test_vip_and_the_pair_take_the_first_assignable_addresses():
    vip, pair = edge_addresses(BLOCK)
    assert (vip, pair) == (IPv4Address("133.242.253.100"), [IPv4Address("133.242.253.101"),
                                                             IPv4Address("133.242.253.102")])
    with pytest.raises(ValueError, match="too small"):
        edge_addresses(IPv4Network("10.0.0.0/30"))


def test_each_side_names_itself_and_its_peer_and_both_share_the_vip():
    spec = seed("lab", edge="pair")
    one, two = (render_keepalived(spec, h, BLOCK, "eth2") for h in spec.haproxies)
    assert "unicast_src_ip 133.242.253.101" in one and "        133.242.253.102" in one
    assert "unicast_src_ip 133.242.253.102" in two and "        133.242.253.101" in two
    for text in (one, two):
        assert "        133.242.253.100/28 dev eth2" in text
        assert "    state BACKUP\n    nopreempt\n" in text          # a returning HAProxy does not take the VIP back
        assert f"virtual_router_id {vrid('lab')}" in text and "vrrp_version 3" in text
        assert 'script "/usr/bin/curl -fs -o /dev/null -m 1 http://192.168.1.4' in text
        assert "mcast" not in text                                  # SAKURA drops multicast
    assert "priority 150" in one and "priority 100" in two
    assert "router_id lab-haproxy01" in one and render_keepalived(spec, spec.haproxies[0], BLOCK, "eth2") == one


def test_refuses_a_single_edge_or_a_server_that_is_not_a_haproxy():
    with pytest.raises(ValueError, match="not a HAProxy server of an edge: pair lab"):
        render_keepalived(seed("lab"), seed("lab").haproxy, BLOCK, "eth2")
    pair = seed("lab", edge="pair")
    with pytest.raises(ValueError, match="lab-worker01"):
        render_keepalived(pair, pair.workers[0], BLOCK, "eth2")
    assert all(1 <= vrid(n) <= 255 for n in ("lab", "lab2", "z" * 32, "swarmlab"))
