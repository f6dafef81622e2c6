from ipaddress import IPv4Address

import pytest
from pydantic import ValidationError

from swarmlab.spec import LabSpec, RegistrySpec, Role, ServerSpec, local, seed


def test_seed_matches_the_walkthrough():
    s = seed()
    assert [str(m.private_ip) for m in s.managers] == ["192.168.1.20", "192.168.1.21", "192.168.1.22"]
    assert [str(w.private_ip) for w in s.workers] == ["192.168.1.30", "192.168.1.31", "192.168.1.32"]
    assert str(s.haproxy.private_ip) == "192.168.1.40"
    assert str(s.nfs.ip) == "192.168.1.200"
    assert s.server_name(s.managers[0]) == "swarmlab-manager01"
    assert s.stack.publish_mode == "ingress" and s.stack.web_replicas == 10


def test_local_profile_uses_host_publishing_and_dnsrr():
    s = local(subnet="10.77.0.0/24")
    assert (s.stack.publish_mode, s.stack.endpoint_mode) == ("host", "dnsrr")
    assert str(s.managers[0].private_ip) == "10.77.0.20" and str(s.nfs.ip) == "10.77.0.200"


def _with(**kw):
    base = seed().model_dump()
    base.update(kw)
    return LabSpec(**base)


def test_duplicate_ip_names_the_field():
    servers = seed().model_dump()["servers"]
    servers[1]["private_ip"] = servers[0]["private_ip"]
    with pytest.raises(ValidationError, match="duplicate private IP 192.168.1.20"):
        _with(servers=servers)


def test_ip_outside_subnet_is_refused():
    servers = seed().model_dump()["servers"]
    servers[0]["private_ip"] = IPv4Address("10.0.0.5")
    with pytest.raises(ValidationError, match="10.0.0.5 is not a host address in subnet 192.168.1.0/24"):
        _with(servers=servers)


def test_seed_needs_three_managers_and_even_counts_warn():
    servers = [s for s in seed().model_dump()["servers"] if not (s["role"] == Role.manager and s["index"] == 3)]
    with pytest.raises(ValidationError, match="at least 3 managers"):
        _with(servers=servers)
    with pytest.warns(UserWarning, match="2 managers"):
        _with(servers=servers, profile="local")


def test_names_sakura_refuses():
    with pytest.raises(ValidationError, match="lab name"):
        _with(name="Bad_Name")
    with pytest.raises(ValidationError, match="registry name"):
        seed(registry={"name": "no.dots"})


def test_unknown_field_is_an_error():
    with pytest.raises(ValidationError, match="colour"):
        _with(colour="blue")


def test_one_haproxy_required():
    servers = seed().model_dump()["servers"] + [
        ServerSpec(role=Role.haproxy, index=2, private_ip=IPv4Address("192.168.1.41")).model_dump()]
    with pytest.raises(ValidationError, match="edge 'single' needs exactly 1 haproxy server, got 2"):
        _with(servers=servers)


def test_edge_pair_has_two_haproxies_and_a_router_block():
    spec = seed(edge="pair")
    assert spec.edge == "pair" and [spec.server_name(s) for s in spec.haproxies] == [
        "swarmlab-haproxy01", "swarmlab-haproxy02"]
    assert [str(s.private_ip) for s in spec.haproxies] == ["192.168.1.40", "192.168.1.41"]
    assert spec.haproxy == spec.haproxies[0] and (spec.router.mask_len, spec.router.band_width_mbps) == (28, 100)
    assert seed().edge == "single" and len(seed().haproxies) == 1       # the walkthrough's default
    assert local(edge="pair").haproxies[1].index == 2
    with pytest.raises(ValidationError, match="edge 'pair' needs exactly 2 haproxy servers, got 1"):
        seed(edge="pair", servers=seed().model_dump()["servers"])
    with pytest.raises(ValidationError, match="mask_len"):
        seed(edge="pair", router={"mask_len": 29})


def test_a_run_names_its_own_lab_from_its_start_in_utc():
    from datetime import datetime, timedelta, timezone

    from swarmlab.spec import run_lab_name

    jst = timezone(timedelta(hours=9))
    assert run_lab_name("nightly", datetime(2026, 11, 29, 2, 0, tzinfo=jst)) == "nightly-20261128-1700"
    with pytest.raises(ValueError, match="lab_prefix 'a-very-long-prefix-for-ci'.*at most 18"):
        run_lab_name("a-very-long-prefix-for-ci", datetime(2026, 11, 29, tzinfo=jst))
    with pytest.raises(ValueError, match="lab_prefix 'Nightly'"):
        run_lab_name("Nightly", datetime(2026, 11, 29, tzinfo=jst))


def test_renaming_a_lab_moves_a_registry_named_after_it_and_keeps_a_chosen_one():
    spec = local("swarmlab", "192.168.5.0/24", ttl_hours=1.0)
    moved = spec.renamed("nightly-20261128-1700")
    assert (moved.name, moved.registry.name) == ("nightly-20261128-1700", "nightly-20261128-1700")
    assert moved.subnet == spec.subnet and moved.ttl_hours == 1.0 and moved.servers == spec.servers
    chosen = local("swarmlab", registry=RegistrySpec(name="my-registry")).renamed("other")
    assert chosen.registry.name == "my-registry"
    with pytest.raises(ValidationError, match="lab name must be"):
        spec.renamed("Bad Name")


def test_a_spec_names_no_zone_unless_asked_so_the_credentials_decide():
    assert local("lab1").zone is None
    assert local("lab1", zone="tk1b").zone == "tk1b"


HOSTILE = ["; reboot", "$(id)", "two words", "it's", '"quoted"', "`id`", "a|b", "x\nreboot"]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field,build", [
    ("packages", lambda v: {"packages": ["vim", v]}),
    ("nfs.export", lambda v: {"nfs": {"ip": "192.168.1.200", "export": "/export" + v}}),
    ("nfs.mount_point", lambda v: {"nfs": {"ip": "192.168.1.200", "mount_point": "/mnt/" + v}}),
    ("stack.name", lambda v: {"stack": {"name": "stack" + v}}),
    ("ssh_user", lambda v: {"ssh_user": "ubuntu" + v}),
    ("registry.user", lambda v: {"registry": {"name": "swarmlab", "user": "swarmlab" + v}}),
])
def test_hostile_values_of_shell_fields_are_refused_naming_the_field(field, build, value):
    with pytest.raises(ValidationError) as e:
        _with(**build(value))
    assert f"{field}: " in str(e.value)


def test_relative_or_dotdot_paths_are_refused():
    with pytest.raises(ValidationError, match="nfs.export: 'export' is not an absolute path"):
        _with(nfs={"ip": "192.168.1.200", "export": "export"})
    with pytest.raises(ValidationError, match="nfs.mount_point: '/mnt/../etc' must not contain '..'"):
        _with(nfs={"ip": "192.168.1.200", "mount_point": "/mnt/../etc"})


def test_ordinary_shell_fields_are_accepted():
    s = _with(packages=["vim", "nfs-common", "libc6=2.36-9+deb12u4", "g++"], ssh_user="ubuntu",
              nfs={"ip": "192.168.1.200", "export": "/export/lab_1", "mount_point": "/mnt/nfs-data"},
              stack={"name": "stack_01"}, registry={"name": "swarmlab", "user": "ci.bot-1"})
    assert s.stack.name == "stack_01" and s.registry.user == "ci.bot-1"
