"""Release and edge on a real local lab: build_lab from nothing, HAProxy answers, data survives the db moving,
a re-run changes nothing, and the service operations of the walkthrough verify each step.

It uses the session's `built` lab (tests/lab/conftest.py), which the drills and the exposure probes use after it.

    .venv/bin/python -m pytest tests/lab/test_60_release.py -q -x -s
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from swarmlab.spec import Role
from tests.lab.conftest import BUILT as LAB, BUILT_SUBNET as SUBNET
from swarmlab.sakura.wait import Deadline

pytestmark = pytest.mark.lab


def wait_until(what: str, fn, timeout_s: float = 120, interval_s: float = 1.0):
    deadline = Deadline(timeout_s)
    last = None
    while not deadline.passed:
        try:
            value = fn()
            if value:
                return value
        except (requests.RequestException, ValueError) as e:
            last = e
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what} (last error: {last})")


def test_haproxy_answers_nginx_on_80_and_the_app_with_its_db_on_8000(built):
    r = built.result
    assert r.web_url == f"http://{built.address}/" and r.docs_url == f"http://{built.address}:8000/docs"
    assert any(c.startswith("deployed stack") for c in r.changes)
    assert all(":v-" in ref and not ref.endswith(":latest") for ref in r.images.values())
    web = requests.get(r.web_url, timeout=5)
    assert web.status_code == 200 and web.headers["Server"].startswith("nginx")
    assert r.images["web"].rsplit(":", 1)[1] in web.text  # the page shows the image's VERSION (= its tag)
    health = requests.get(f"http://{built.address}:8000/healthz", timeout=5)
    assert health.status_code == 200, health.text  # the app's /healthz queries PostgreSQL
    assert requests.get(r.docs_url, timeout=5).status_code == 200
    api = requests.get(f"http://{built.address}/api/version", timeout=5)  # nginx → app over the overlay
    assert api.status_code == 200 and api.json()["version"] == r.images["app"].rsplit(":", 1)[1]


def test_rerun_changes_nothing_and_is_fast(built):
    from flows.build import build_lab

    t0 = time.monotonic()
    again = build_lab(built.spec)
    took = time.monotonic() - t0
    print(f"\nbuild_lab re-run: {took:.1f} s (first {built.first_s:.1f} s)")
    assert again.changes == []
    assert again.images == built.result.images
    assert took <= 0.15 * built.first_s, f"re-run took {took:.1f} s, more than 15 % of {built.first_s:.1f} s"


def _db_node(session, stack: str) -> str | None:
    out = session.run(f"docker service ps --filter desired-state=running --format '{{{{json .}}}}' {stack}_db",
                      sudo=True).stdout
    running = [json.loads(line) for line in out.splitlines() if line.strip()]
    running = [t for t in running if t["CurrentState"].startswith("Running")]
    return running[0]["Node"] if running else None


def test_a_note_survives_the_database_moving_to_another_worker(built):
    base = f"http://{built.address}:8000"
    text = f"survives-{uuid.uuid4().hex[:8]}"
    created = requests.post(f"{base}/notes", json={"text": text}, timeout=10)
    assert created.status_code == 201, created.text
    fleet = built.fleet()
    manager = fleet.session(fleet.names(Role.manager)[0])
    stack = built.spec.stack.name
    try:
        before = wait_until("the db task running", lambda: _db_node(manager, stack), timeout_s=60)
        manager.run(f"docker node update --availability drain {before}", sudo=True)
        try:
            after = wait_until("the db task running on another worker",
                               lambda: (n := _db_node(manager, stack)) and n != before and n, timeout_s=120)
            assert after != before
            wait_until("the app answering with its db through HAProxy",
                       lambda: requests.get(f"{base}/healthz", timeout=3).status_code == 200, timeout_s=120)
            notes = wait_until("the note read back", lambda: [
                n for n in requests.get(f"{base}/notes", timeout=5).json() if n["text"] == text], timeout_s=60)
            assert notes[0]["id"] == created.json()["id"]
        finally:
            manager.run(f"docker node update --availability active {before}", sudo=True)
    finally:
        fleet.close()


def test_service_ops_verifies_every_step(built):
    from flows.services import service_ops

    steps = service_ops(built.inventory, built.spec)
    assert [s.step for s in steps] == ["create", "publish", "scale 3", "scale 1", "update", "rollback", "remove"]
    by = {s.step: s for s in steps}
    assert by["create"].replicas == 2 and len(by["create"].nodes) == 2
    assert by["scale 3"].replicas == 3 and len(by["scale 3"].nodes) == 3
    assert by["scale 1"].replicas == 1 and len(by["scale 1"].nodes) == 1
    assert by["update"].image.endswith("-v2") and by["update"].image != by["create"].image
    assert by["rollback"].image == by["create"].image == built.result.images["web"]
    fleet = built.fleet()
    try:
        out = fleet.session(fleet.names(Role.manager)[0]).run("docker service ls --format '{{.Name}}'",
                                                              sudo=True).stdout
    finally:
        fleet.close()
    assert "nginxs" not in out.split()


def test_local_engine_pushes_through_a_plain_relay_to_the_address_the_lab_uses(built, tmp_path):
    """The controller reaches the lab's registry, which only the lab resolves, through a TcpRelay to the
    registry's lab address (no SSH in the data path), and pushes the layers its BlobCache compressed over the
    registry's HTTP API (htpasswd, TLS); the lab then pulls the image by its fqdn, checking every digest."""
    import docker

    from blocks.sakura import SakuraCloudCredentials
    from swarmlab.hosts.engine import engine_connector, registry_route
    from swarmlab.release.blobs import LOCAL_GZIP_LEVEL, BlobCache
    from swarmlab.release.publish import image_builds, publish
    from swarmlab.cloud.secrets import derive

    inv, spec = built.inventory, built.spec
    password = derive(SakuraCloudCredentials.resolve(None).access_token_secret, spec.name, "registry")
    builds = {k: b for k, b in image_builds(inv.registry_fqdn, variants=[("web", "relay")],
                                            base="lab/base:bookworm").items() if k == "web-relay"}
    ref = builds["web-relay"].ref
    fleet = built.fleet()
    manager = fleet.session(fleet.names(Role.manager)[0])
    try:
        with registry_route(inv.registry_fqdn, 443, manager) as route, engine_connector(None, engine="local") as c:
            lab_address = manager.run(f"getent ahostsv4 {inv.registry_fqdn}").stdout.split()[0]
            via = route.via
            assert via and via.startswith("127.0.0.1:") and route.lan
            cache = BlobCache(tmp_path / "blobs", level=LOCAL_GZIP_LEVEL)
            first = publish(c, builds, inv.registry_user, password, push_via=via, cache=cache)
            again = publish(c, builds, inv.registry_user, password, push_via=via, cache=cache)
        assert first.pushed == [ref] and again.pushed == [] and again.present == [ref]
        layers = docker.from_env().images.get(ref).attrs["RootFS"]["Layers"]
        assert len(list((tmp_path / "blobs" / "layers").glob("*.json"))) == len(set(layers))
        assert not lab_address.startswith("127.")
        # what the local engine pushed is what a lab host pulls by the registry's name
        pulled = manager.run(f"docker pull -q {ref} && docker image inspect -f '{{{{.Config.Labels}}}}' {ref} "
                             f"&& docker rmi {ref}", sudo=True).stdout
        assert "swarmlab.image:web" in pulled
    finally:
        fleet.close()
        docker.from_env().images.remove(ref, noprune=True)


def test_the_cli_on_the_built_lab_up_plan_status_and_ssh(built, prefect_api):
    """`swarmlab up` on a built lab changes nothing; `plan` says "No changes"; `status` sees HAProxy answer and
    every node Ready; `ssh HOST -- COMMAND` runs it on the host with the pinned key (StrictHostKeyChecking)."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    def swarmlab(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flows.cli", *argv], cwd=ROOT, stdin=subprocess.DEVNULL,
                              env={**os.environ, "PREFECT_API_URL": prefect_api}, capture_output=True, text=True,
                              timeout=900)

    lab = ["--lab", LAB, "--subnet", SUBNET]
    up = swarmlab("up", *lab)
    assert up.returncode == 0, up.stderr[-3000:]
    assert f"Lab {LAB} is up (0 changes" in up.stdout and f"web:     http://{built.address}/" in up.stdout
    assert f"swarmlab ssh manager01 --lab {LAB}" in up.stdout and "expires: " in up.stdout

    plan = swarmlab("plan", *lab)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "No changes. The lab matches its spec." in plan.stdout, plan.stdout

    status = swarmlab("status", "--lab", LAB, "--json")
    assert status.returncode == 0, status.stderr[-3000:]
    (s,) = json.loads(status.stdout)
    assert s["haproxy"] is True and s["nodes_ready"] == "6/6" and s["profile"] == "local" and s["yen"] > 0

    ssh = swarmlab("ssh", "manager01", "--lab", LAB, "--", "hostname")
    assert ssh.returncode == 0, ssh.stderr[-3000:]
    assert ssh.stdout.strip() == f"{LAB}-manager01"
