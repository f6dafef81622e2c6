"""The lab plan (swarmlab/cloud/plan.py) and status lines (swarmlab/cost/status.py): pure, from fixtures."""

from datetime import datetime, timedelta, timezone

from swarmlab.cloud import plan as p
from swarmlab.cloud.resources import LabResources
from swarmlab.cost.guard import view
from swarmlab.cost.ledger import Ledger, Line
from swarmlab.cost.status import LabStatus, status_of, text
from swarmlab.hosts.prepare import AptStep
from swarmlab.sakura.models import NFS, Disk, Note, PacketFilter, Registry, Server, Switch
from swarmlab.spec import local

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def test_a_new_lab_plans_every_resource_and_all_the_host_work():
    spec = local("lab1")
    hosts, swarm, stack = p.plan_new(spec)
    plan = p.make_plan(spec, "is1a", LabResources(), estimate_yen=194, price_source="api", hosts=hosts,
                       swarm=swarm, stack=stack)
    assert len(plan.resources) == 20 and {c.action for c in plan.resources} == {"create"}
    assert "lab1-filter-edge" in {c.target for c in plan.resources}
    out = p.text(plan)
    assert "does not exist yet" in out and "+ lab1-switch\n" in out and "Plan: 20 to create, 9 to change." in out
    assert "Cost: 194 yen for the lab's TTL of 2 h (api prices), budget 500 yen (within budget)." in out
    assert plan.summary()["to_create"] == 20 and not plan.no_changes


def complete(spec) -> LabResources:
    """Every resource provision makes for `spec`, by name."""
    servers = [spec.server_name(x) for x in spec.servers]
    return LabResources(
        switches=[Switch(ID="1", Name=spec.resource_name("switch"))], notes=[Note(ID="2", Name=spec.resource_name("startup"))],
        nfs=[NFS(ID="3", Name=spec.resource_name("nfs"))], registries=[Registry(ID="4", Name=spec.resource_name("registry"))],
        servers=[Server(ID=str(10 + i), Name=n) for i, n in enumerate(servers)],
        disks=[Disk(ID=str(20 + i), Name=f"{n}-disk") for i, n in enumerate(servers)],
        packet_filters=[PacketFilter(ID="5", Name=f"{spec.name}-filter"), PacketFilter(ID="6", Name=f"{spec.name}-filter-edge")])


def test_a_complete_lab_with_nothing_to_do_plans_no_changes():
    spec = local("lab1")
    found = complete(spec)
    plan = p.make_plan(spec, "is1a", found, estimate_yen=10, price_source="bundled",
                       hosts=p.plan_hosts({"lab1-manager01": []}), stack=p.plan_stack(spec, {"web": "a" * 64}, "a" * 64))
    assert plan.resources == [] and plan.hosts == [] and plan.stack == [] and plan.no_changes
    assert plan.exists and plan.existing == 20
    out = p.text(plan)
    assert "Lab lab1 in is1a (profile local): 20 resources exist" in out and "Resources: no changes" in out
    assert "No changes. The lab matches its spec." in out

    without_edge = found.model_copy(update={"packet_filters": found.packet_filters[:1],
                                            "disks": found.disks[1:]})
    assert [c.target for c in p.plan_resources(spec, without_edge)] == ["lab1-manager01-disk", "lab1-filter-edge"]


def test_host_and_stack_changes_and_unknowns_are_counted():
    spec = local("lab1")
    hosts = p.plan_hosts({"lab1-worker01": [AptStep(kind="install", packages=("vim",))], "lab1-worker02": []})
    assert [p.line(c) for c in hosts] == ["  ~ host lab1-worker01: install vim"]
    stack = p.plan_stack(spec, {"app": "b" * 64, "db": None, "web": "a" * 64}, "a" * 64)
    assert stack[0].detail == f"deploy (app {'b' * 12} → {'a' * 12}, db missing)"
    plan = p.make_plan(spec, "is1a", LabResources(), estimate_yen=1, price_source="api", hosts=hosts, stack=stack,
                       swarm=[p.unknown("swarm", "not reachable over SSH")])
    assert "Plan: 20 to create, 2 to change, 1 unknown." in p.text(plan)
    assert "  ? swarm: not reachable over SSH" in p.text(plan)


def test_the_edge_plan_follows_configure_edge():
    sha = "c" * 64
    assert p.plan_edge("lab1-haproxy01", {"installed": "1", "sha": sha, "active": "active"}, sha) == []
    (c,) = p.plan_edge("lab1-haproxy01", {"installed": "1", "sha": sha, "active": "failed"}, sha)
    assert c.detail == "reload haproxy"
    (c,) = p.plan_edge("lab1-haproxy01", {"installed": "", "sha": "", "active": "inactive"}, sha)
    assert (c.target, c.detail) == ("host lab1-haproxy01", f"install haproxy, haproxy.cfg missing → {'c' * 12}, "
                                                             "reload haproxy")


def test_status_reads_profile_age_expiry_budget_and_yen():
    sw = Switch(ID="9", Name="lab1-switch", Description="swarmlab lab lab1 (profile local)",
                Tags=["swarmlab", "swarmlab-lab=lab1", "swarmlab-expires=2026-11-29T14:00Z", "swarmlab-budget=500"])
    v = view("lab1", "is1a", LabResources(switches=[sw]))
    led = Ledger(lab="lab1", at=NOW, price_source="api", lines=[
        Line(kind="switch", name="lab1-switch", service_class="x", rate="r", rate_source="api", hours=2, yen=22,
             billed_from=NOW - timedelta(minutes=95), billed_to=NOW)])
    s = status_of(v, led, NOW)
    assert (s.profile, s.age_minutes, s.budget_yen, s.yen) == ("local", 95, 500, 22)
    assert s.expires == datetime(2026, 11, 29, 14, 0, tzinfo=timezone.utc)
    out = text([s, LabStatus(lab="lab2", zone="tk1b", yen=3.5, haproxy=True, nodes_ready="6/6",
                             web_url="http://203.0.113.9/", docs_url="http://203.0.113.9:8000/docs")], ["is1a", "tk1b"])
    lines = out.splitlines()
    assert lines[0].split() == ["LAB", "ZONE", "PROFILE", "AGE", "EXPIRES", "(UTC)", "BUDGET", "YEN", "HAPROXY",
                                "NODES", "READY"]
    assert lines[1].split() == ["lab1", "is1a", "local", "1h35m", "2026-11-29", "14:00", "500", "22", "-", "-"]
    assert lines[2].split() == ["lab2", "tk1b", "-", "-", "-", "-", "3.5", "answering", "6/6"]
    assert "lab2: web http://203.0.113.9/; docs http://203.0.113.9:8000/docs" in out
    assert out.endswith("2 labs, 25.5 yen so far.\n")
    assert text([], ["is1a"]) == "No labs in is1a.\n"


def test_status_of_a_pair_gives_the_vip_and_names_both_haproxys_and_the_router():
    from swarmlab.sakura.models import Internet

    sw = Switch(ID="9", Name="lab1-switch", Description="swarmlab lab lab1 (profile local)",
                Tags=["swarmlab", "swarmlab-lab=lab1"])
    rt = Internet.model_validate({"ID": "7", "Name": "lab1-router", "NetworkMaskLen": 28, "Switch": {
        "ID": "8", "Subnets": [{"NetworkAddress": "198.19.128.16", "NetworkMaskLen": 28,
                                "DefaultRoute": "198.19.128.17"}]}})
    servers = [Server(ID=str(i), Name=f"lab1-haproxy0{i}") for i in (1, 2)]
    s = status_of(view("lab1", "is1a", LabResources(switches=[sw], internets=[rt], servers=servers)),
                  Ledger(lab="lab1", at=NOW, price_source="api", lines=[]), NOW)
    assert s.address == "198.19.128.20"
    assert s.edge == ("edge pair: VIP 198.19.128.20, haproxy01 198.19.128.21, haproxy02 198.19.128.22, "
                      "router lab1-router (198.19.128.16/28)")
    assert s.edge in text([s], ["is1a"])
    single = status_of(view("lab1", "is1a", LabResources(switches=[sw])), Ledger(lab="lab1", at=NOW,
                                                                               price_source="api", lines=[]), NOW)
    assert single.edge == "" and single.address is None


def test_a_new_pair_plans_haproxy_and_keepalived_on_both():
    hosts, _, _ = p.plan_new(local("lab1", edge="pair"))
    assert [(c.target, c.detail) for c in hosts[-2:]] == [
        ("host lab1-haproxy01", "install haproxy and keepalived, configure and reload"),
        ("host lab1-haproxy02", "install haproxy and keepalived, configure and reload")]
