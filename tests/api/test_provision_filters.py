"""provision's packet filters against a real emulator process (memory backend): created once, attached to
every shared NIC before boot, updated in place, refused on the seed profile without admin_cidrs, torn down."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network

import pytest
import requests

from blocks.sakura import SakuraCloudCredentials
from flows.provision import provision
from flows.teardown import teardown_lab
from swarmlab.cloud.provision import LabFilters
from swarmlab.render.filters import AdminCidrsRequired
from swarmlab.spec import Role, local, seed

from tests.api.test_provision_flow import listing


def filters(emu) -> dict[str, dict]:
    r = requests.get(emu.url("packetfilter"), auth=emu.auth, timeout=10)
    r.raise_for_status()
    return {f["Name"]: f for f in r.json()["PacketFilters"]}


def attached(emu, lab: str) -> dict[str, str]:
    r = requests.get(emu.url("server"), auth=emu.auth, timeout=10)
    return {s["Name"]: (s["Interfaces"][0]["PacketFilter"] or {}).get("ID") for s in r.json()["Servers"]
            if s["Name"].startswith(f"{lab}-")}


def test_filters_are_created_attached_idempotent_and_torn_down(cloud_env, prefect_api):
    spec = local("pf-a")
    inv = provision(spec)
    pfs = filters(cloud_env)
    assert set(pfs) == {"pf-a-filter", "pf-a-filter-edge"}
    assert all(f["Description"].startswith("swarmlab-lab=pf-a ") for f in pfs.values())
    ssh = [r for r in pfs["pf-a-filter"]["Expression"] if r.get("DestinationPort") == "22"]
    assert [r["SourceNetwork"] for r in ssh] == ["198.18.0.1"], "local admin = the shared segment's gateway"
    assert pfs["pf-a-filter"]["Expression"][-1] == {"Protocol": "ip", "SourceNetwork": None, "Action": "deny",
                                                     "Description": "everything else"}
    edge = pfs["pf-a-filter-edge"]["ID"]
    want = {s.name: edge if s.role == Role.haproxy else pfs["pf-a-filter"]["ID"] for s in inv.servers}
    assert attached(cloud_env, "pf-a") == want

    again = provision(spec)
    assert again.created == [] and filters(cloud_env) == pfs and attached(cloud_env, "pf-a") == want

    moved = provision(spec.model_copy(update={"admin_cidrs": [IPv4Network("203.0.113.0/28")]}))
    assert moved.created == [], "a changed rule set is updated in place: no NIC re-attached"
    now = filters(cloud_env)
    assert {n: f["ID"] for n, f in now.items()} == {n: f["ID"] for n, f in pfs.items()}
    assert [r["SourceNetwork"] for r in now["pf-a-filter"]["Expression"] if r.get("DestinationPort") == "22"] \
        == ["203.0.113.0/28"]

    report = teardown_lab("pf-a", "is1a")
    assert {"packet_filters pf-a-filter", "packet_filters pf-a-filter-edge"} <= set(report.deleted)
    assert report.plan.index("delete packet_filters pf-a-filter") < report.plan.index("delete switches pf-a-switch")
    assert filters(cloud_env) == {}


def test_seed_without_admin_cidrs_is_refused_before_anything_is_created(cloud_env, prefect_api):
    with pytest.raises(AdminCidrsRequired, match="admin_cidrs is not set"):
        provision(seed("pf-b"))
    assert not listing(cloud_env, "pf-b") and filters(cloud_env) == {}


def test_a_foreign_filter_of_the_same_name_is_not_adopted(cloud_env, prefect_api):
    body = {"PacketFilter": {"Name": "pf-c-filter", "Description": "made by hand", "Expression": []}}
    requests.post(cloud_env.url("packetfilter"), json=body, auth=cloud_env.auth, timeout=10).raise_for_status()
    with pytest.raises(RuntimeError, match="pf-c-filter .* without the marker of lab pf-c"):
        provision(local("pf-c"))
    assert teardown_lab("pf-c", "is1a").deleted and "pf-c-filter" in filters(cloud_env), "not ours: left"


def test_one_run_ensures_its_filters_once_and_the_next_run_reads_again(cloud_env):
    client = SakuraCloudCredentials.from_env().client("is1a")
    run = LabFilters(client, local("pf-d"))
    with ThreadPoolExecutor(8) as pool:  # as the run's server tasks do
        got = list(pool.map(lambda _: run.ids("198.18.0.1"), range(8)))
    assert all(g == got[0] for g in got)
    assert {n: f["ID"] for n, f in filters(cloud_env).items()} == got[0], "each filter created once"

    gone = got[0]["pf-d-filter"]
    requests.delete(cloud_env.url(f"packetfilter/{gone}"), auth=cloud_env.auth, timeout=10).raise_for_status()
    assert run.ids("198.18.0.1") == got[0], "within a run the filters are ensured once"
    again = LabFilters(client, local("pf-d")).ids("198.18.0.1")  # same client: nothing of the last run is kept
    assert again["pf-d-filter"] != gone and again["pf-d-filter-edge"] == got[0]["pf-d-filter-edge"]
    assert {n: f["ID"] for n, f in filters(cloud_env).items()} == again
