"""The lab's packet filters, rendered (pure)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from pydantic import ValidationError

from swarmlab.render.filters import (AdminCidrsRequired, TooManyRules, admin_cidrs, owned, render_filter,
                                     render_filters)
from swarmlab.sakura.packet_filters import expression
from swarmlab.spec import Role, local, seed

ADMIN = [IPv4Network("203.0.113.7/32")]


def rows(f):
    return [(r.protocol, r.source_network, r.destination_port, r.action) for r in f.rules]


def test_servers_get_ssh_from_admins_return_traffic_and_an_explicit_deny():
    f = render_filter(seed("lab"), Role.worker, ADMIN + [IPv4Network("198.51.100.0/24")])
    assert f.name == "lab-filter" and owned("lab", f.name, f.description)
    assert rows(f) == [
        ("tcp", "203.0.113.7", "22", "allow"), ("tcp", "198.51.100.0/24", "22", "allow"),
        ("tcp", "", "32768-61000", "allow"), ("udp", "", "32768-61000", "allow"),
        ("fragment", "", "", "allow"), ("icmp", "", "", "allow"), ("ip", "", "", "deny")]
    assert render_filter(seed("lab"), Role.manager, ADMIN) == render_filter(seed("lab"), Role.worker, ADMIN)


def test_a_pairs_edge_filter_lets_the_pairs_vrrp_through_and_no_one_elses():
    pair = [IPv4Address("198.19.128.5"), IPv4Address("198.19.128.6")]
    f = render_filter(seed("lab", edge="pair"), Role.haproxy, ADMIN, pair)
    assert rows(f)[3:5] == [("ip", "198.19.128.5", "", "allow"), ("ip", "198.19.128.6", "", "allow")]
    assert rows(f)[-1] == ("ip", "", "", "deny")
    assert rows(render_filter(seed("lab"), Role.worker, ADMIN, pair)) == rows(render_filter(seed("lab"), Role.worker,
                                                                                            ADMIN)), "edge only"


def test_no_swarm_or_app_port_is_inside_an_allowed_range():
    f = render_filter(seed("lab"), Role.haproxy, ADMIN)
    open_from_any = []
    for r in f.rules:
        if r.action == "allow" and r.protocol in ("tcp", "udp") and not r.source_network:
            lo, _, hi = r.destination_port.partition("-")
            open_from_any += [p for p in (22, 2377, 7946, 4789, 5432, 80, 8000) if int(lo) <= p <= int(hi or lo)]
    assert open_from_any == [80, 8000]   # the edge, nothing else


def test_haproxy_adds_80_and_8000_from_public_cidrs():
    spec = seed("lab", public_cidrs=[IPv4Network("0.0.0.0/0")])
    f = render_filter(spec, Role.haproxy, ADMIN)
    assert f.name == "lab-filter-edge"
    assert rows(f)[1:3] == [("tcp", "", "80", "allow"), ("tcp", "", "8000", "allow")]
    narrow = render_filter(seed("lab", public_cidrs=[IPv4Network("192.0.2.0/24")]), Role.haproxy, ADMIN)
    assert rows(narrow)[1:3] == [("tcp", "192.0.2.0/24", "80", "allow"), ("tcp", "192.0.2.0/24", "8000", "allow")]
    assert [f.name for f in render_filters(seed("lab"), ADMIN)] == ["lab-filter", "lab-filter-edge"]


def test_the_30_rule_limit():
    admins = [IPv4Network(f"10.0.{i}.0/24") for i in range(25)]
    assert len(render_filter(seed("lab"), Role.worker, admins).rules) == 30
    with pytest.raises(TooManyRules, match="lab-filter-edge: 32 rules.*at most 30"):
        render_filter(seed("lab", public_cidrs=[IPv4Network("0.0.0.0/0")]), Role.haproxy, admins[:-1] + admins[:1])
    with pytest.raises(TooManyRules, match="31 rules"):
        render_filter(seed("lab"), Role.worker, admins + [IPv4Network("10.1.0.0/24")])


def test_admin_cidrs_has_no_silent_default_on_seed():
    with pytest.raises(AdminCidrsRequired, match="admin_cidrs is not set.*ifconfig.me"):
        admin_cidrs(seed("lab"), "198.18.0.1")
    assert admin_cidrs(seed("lab", admin_cidrs=ADMIN), None) == ADMIN
    assert admin_cidrs(local("lab"), "198.18.77.1") == [IPv4Network("198.18.77.1/32")]
    assert admin_cidrs(local("lab", admin_cidrs=ADMIN), "198.18.77.1") == ADMIN
    with pytest.raises(ValueError, match="set admin_cidrs"):
        admin_cidrs(local("lab"), None)
    with pytest.raises(ValidationError):
        seed("lab", admin_cidrs=["not-a-network"])


def test_owned_needs_the_prefix_and_the_marker():
    assert not owned("lab", "lab-filter", "made by hand")
    assert not owned("lab", "other-filter", "swarmlab-lab=lab (swarmlab packet filter)")
    assert not owned("la", "la-filter", "swarmlab-lab=lab (swarmlab packet filter)")


def test_wire_form_matches_the_fixture_shapes():
    wire = expression(render_filter(seed("lab"), Role.worker, ADMIN).rules)
    assert wire[0] == {"Protocol": "tcp", "SourceNetwork": "203.0.113.7", "SourcePort": None,
                       "DestinationPort": "22", "Action": "allow", "Description": "ssh from admin"}
    assert wire[-1] == {"Protocol": "ip", "SourceNetwork": None, "Action": "deny", "Description": "everything else"}
