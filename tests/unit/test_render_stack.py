"""render_stack: golden files, publish/endpoint modes, pinned images, and the real `docker stack config`.

`docker stack config` is the docker CLI's own compose loader (schema validation + interpolation); it
runs client-side and needs neither a swarm nor a daemon. Golden files: regenerate deliberately with
SWARMLAB_REGEN_GOLDEN=1 (the test then fails once, so a regeneration is never silent).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from swarmlab.render.stack import (APP_HEALTHCHECK, DB_PASSWORD_SECRET, StackImages, render_stack,
                                   stack_dict)
from swarmlab.spec import LabSpec, StackSpec, local, seed

FIXTURES = Path(__file__).parent / "fixtures" / "render"
IMAGES = StackImages(web="swarmlab.sakuracr.jp/swarmlab/web:1.0.0",
                     app="swarmlab.sakuracr.jp/swarmlab/app:1.0.0",
                     postgres="swarmlab.sakuracr.jp/swarmlab/postgres:15-1")

COMBOS = [("ingress", "vip"), ("host", "vip"), ("host", "dnsrr")]


def _spec(publish: str, endpoint: str, **stack) -> LabSpec:
    return local(stack=StackSpec(publish_mode=publish, endpoint_mode=endpoint, web_replicas=3, **stack))


def docker_stack_config(text: str, tmp_path: Path) -> dict:
    """Run the real `docker stack config` on the text; return what the CLI loaded."""
    docker = shutil.which("docker")
    assert docker, "the docker CLI is not on PATH (scripts/bootstrap.sh installs docker.io)"
    f = tmp_path / "stack.yml"
    f.write_text(text)
    r = subprocess.run([docker, "stack", "config", "--compose-file", str(f)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, f"docker stack config rejected the stack file:\n{r.stderr}\n{text}"
    return yaml.safe_load(r.stdout)


def _golden(name: str, text: str) -> None:
    path = FIXTURES / name
    if os.environ.get("SWARMLAB_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        pytest.fail(f"regenerated {path}; review the diff and run again without SWARMLAB_REGEN_GOLDEN")
    assert path.exists(), f"missing golden file {path}; create it with SWARMLAB_REGEN_GOLDEN=1"
    assert text == path.read_text(), f"rendered text differs from {path} (regenerate deliberately if intended)"


@pytest.mark.parametrize("profile", ["seed", "local"])
def test_golden(profile):
    spec = seed() if profile == "seed" else local()
    _golden(f"stack-{profile}.yml", render_stack(spec, IMAGES))


def test_deterministic():
    a = render_stack(local(), IMAGES)
    b = render_stack(local(), StackImages(**IMAGES.model_dump()))
    assert a == b
    assert "&id" not in a and "*id" not in a  # no YAML anchors/aliases


@pytest.mark.parametrize("profile", ["seed", "local"])
def test_profiles_pass_docker_stack_config(profile, tmp_path):
    spec = seed() if profile == "seed" else local()
    loaded = docker_stack_config(render_stack(spec, IMAGES), tmp_path)
    assert set(loaded["services"]) == {"db", "app", "web"}


@pytest.mark.parametrize("publish,endpoint", COMBOS)
def test_modes_as_the_docker_cli_reads_them(publish, endpoint, tmp_path):
    spec = _spec(publish, endpoint)
    loaded = docker_stack_config(render_stack(spec, IMAGES), tmp_path)
    svc = loaded["services"]
    for name in ("db", "app", "web"):
        assert svc[name]["deploy"]["endpoint_mode"] == endpoint
        assert svc[name]["deploy"]["placement"]["constraints"] == ["node.role == worker"]
        assert svc[name]["networks"] == {"net": None}
    assert "ports" not in svc["db"]
    for name, port in (("app", 8000), ("web", 80)):
        assert svc[name]["ports"] == [{"mode": publish, "target": port, "published": port, "protocol": "tcp"}]
        placement = svc[name]["deploy"]["placement"]
        upd, rb = svc[name]["deploy"]["update_config"], svc[name]["deploy"]["rollback_config"]
        assert (upd["parallelism"], upd["delay"], upd["failure_action"], upd["monitor"]) == (1, "5s", "rollback", "10s")
        assert rb["parallelism"] == 1
        if publish == "host":
            assert placement["max_replicas_per_node"] == 1
            assert upd["order"] == rb["order"] == "stop-first"
        else:
            assert "max_replicas_per_node" not in placement
            assert upd["order"] == rb["order"] == "start-first"
    assert svc["app"]["deploy"]["replicas"] == spec.stack.app_replicas
    assert svc["web"]["deploy"]["replicas"] == spec.stack.web_replicas
    assert loaded["networks"]["net"] == {"driver": "overlay", "attachable": True}


def test_seed_keeps_the_walkthrough_shape(tmp_path):
    loaded = docker_stack_config(render_stack(seed(), IMAGES), tmp_path)
    svc = loaded["services"]
    assert svc["web"]["deploy"]["replicas"] == 10 and svc["app"]["deploy"]["replicas"] == 3
    assert svc["db"]["deploy"]["replicas"] == 1
    assert svc["web"]["ports"][0]["mode"] == "ingress"


def test_the_spec_refuses_ingress_with_dnsrr_and_so_does_render():
    with pytest.raises(ValueError, match="publish_mode 'ingress' cannot be used with endpoint_mode 'dnsrr'"):
        _spec("ingress", "dnsrr")
    copied = local().model_copy(update={"stack": StackSpec(publish_mode="ingress", endpoint_mode="dnsrr")})
    with pytest.raises(ValueError, match="publish_mode 'ingress' cannot be used"):
        render_stack(copied, IMAGES)        # model_copy does not validate: render checks again


def test_host_mode_needs_a_worker_per_replica_when_the_spec_is_built():
    with pytest.raises(ValueError, match=r"stack\.web_replicas: 4 replicas with publish_mode 'host' need 4 workers"):
        local(stack=StackSpec(publish_mode="host", endpoint_mode="dnsrr", web_replicas=4))
    with pytest.raises(ValueError, match=r"stack\.app_replicas"):
        local(stack=StackSpec(publish_mode="host", endpoint_mode="vip", web_replicas=3, app_replicas=5))
    with pytest.raises(ValueError, match=r"stack\.web_replicas: 3 replicas .* but the lab has 1"):
        local(workers=1, stack=StackSpec(publish_mode="host", endpoint_mode="dnsrr", web_replicas=3))
    # the local profile fits its replicas to its workers; ingress places any number of tasks anywhere
    assert (local(workers=1).stack.web_replicas, local(workers=1).stack.app_replicas) == (1, 1)
    assert (local(workers=5).stack.web_replicas, local(workers=5).stack.app_replicas) == (3, 3)
    render_stack(seed(stack=StackSpec(publish_mode="ingress", web_replicas=30)), IMAGES)


def test_db_volume_is_the_directory_on_the_nfs_share(tmp_path):
    spec = local(nfs=local().nfs.model_copy(update={"mount_point": "/srv/share/", "data_dir": "pg15"}))
    loaded = docker_stack_config(render_stack(spec, IMAGES), tmp_path)
    assert loaded["volumes"]["pgdata"] == {"driver": "local",
                                           "driver_opts": {"type": "none", "o": "bind", "device": "/srv/share/pg15"}}
    assert loaded["services"]["db"]["volumes"] == [
        {"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql/data"}]


def test_db_is_private_and_uses_the_secret(tmp_path):
    loaded = docker_stack_config(render_stack(local(), IMAGES), tmp_path)
    db, app = loaded["services"]["db"], loaded["services"]["app"]
    assert "ports" not in db
    assert loaded["secrets"] == {DB_PASSWORD_SECRET: {"name": DB_PASSWORD_SECRET, "external": True}}
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert "POSTGRES_TRUST" not in db["environment"] and "POSTGRES_PASSWORD" not in db["environment"]
    assert app["environment"] == {"DB_HOST": "db", "DB_PORT": "5432", "DB_NAME": "app", "DB_USER": "app",
                                  "DB_PASSWORD_FILE": "/run/secrets/db_password", "DRAIN_SECONDS": "5"}
    for svc in (db, app):
        assert svc["secrets"] == [{"source": "db_password", "target": "db_password"}]
    assert "secrets" not in loaded["services"]["web"]
    assert db["deploy"]["update_config"]["order"] == "stop-first"  # never two postmasters on one PGDATA


def test_trust_auth_only_when_asked(tmp_path):
    spec = local(stack=local().stack.model_copy(update={"postgres_trust_auth": True}))
    loaded = docker_stack_config(render_stack(spec, IMAGES), tmp_path)
    assert loaded["services"]["db"]["environment"]["POSTGRES_TRUST"] == "1"


def test_app_healthcheck_asks_livez_with_bash(tmp_path):
    loaded = docker_stack_config(render_stack(local(), IMAGES), tmp_path)
    hc = loaded["services"]["app"]["healthcheck"]
    assert hc["test"] == APP_HEALTHCHECK
    # liveness, not /healthz: a database moving to another worker must not get every app task restarted
    assert hc["test"][:3] == ["CMD", "bash", "-c"] and "/dev/tcp/127.0.0.1/8000" in hc["test"][-1]
    assert "GET /livez " in hc["test"][-1] and "' 200 '" in hc["test"][-1]


def test_web_and_app_drain_longer_than_haproxy_needs_and_stop_within_the_grace_period(tmp_path):
    from swarmlab.render.haproxy import CHECK_FALL, CHECK_INTER_S
    from swarmlab.render.stack import DRAIN_SECONDS

    loaded = docker_stack_config(render_stack(local(), IMAGES), tmp_path)
    assert DRAIN_SECONDS > CHECK_FALL * CHECK_INTER_S + CHECK_INTER_S
    for name in ("web", "app"):
        svc = loaded["services"][name]
        assert svc["environment"]["DRAIN_SECONDS"] == str(DRAIN_SECONDS)
        grace = svc["stop_grace_period"]
        assert grace.endswith("s") and float(grace[:-1]) > DRAIN_SECONDS + 5
    interval = {name: float(loaded["services"][name]["healthcheck"]["interval"].rstrip("s"))
                for name in ("db", "app", "web")}
    # a task serves once its first check passes, one interval after it started (no start_interval in Docker 20.10)
    assert interval["db"] == interval["app"] == interval["web"] == 2


def test_every_reference_is_defined():
    """What `docker stack config` does not check but `docker stack deploy` does."""
    d = stack_dict(local(), IMAGES)
    for svc in d["services"].values():
        assert set(svc.get("networks", [])) <= set(d["networks"])
        assert {v["source"] for v in svc.get("volumes", [])} <= set(d["volumes"])
        assert {s["source"] for s in svc.get("secrets", [])} <= set(d["secrets"])


@pytest.mark.parametrize("ref", [
    "swarmlab.sakuracr.jp/app:1.0.0", "192.168.1.60:5000/lab/nginx:1", "lab/postgres:15-1", "app:v2",
    "registry.example:5000/a/b/c:2024.05.01-rc_1",
    "lab/app@sha256:" + "a" * 64, "lab/app:1@sha256:" + "b" * 64,
])
def test_pinned_references_accepted(ref):
    assert StackImages(web=ref, app=ref, postgres=ref).app == ref


@pytest.mark.parametrize("field", ["web", "app", "postgres"])
@pytest.mark.parametrize("ref,why", [
    ("lab/nginx:latest", "mutable tag 'latest'"),
    ("lab/nginx:LATEST", "mutable tag 'latest'"),
    ("swarmlab.sakuracr.jp/fastapi", "has no tag"),
    ("192.168.1.60:5000/lab/nginx", "has no tag"),
    ("lab/nginx:", "not a valid image reference|invalid tag"),
    ("Lab/Nginx:1", "not a valid image reference"),
    ("lab/nginx@sha256:abc", "malformed digest"),
    ("lab/nginx:-bad", "invalid tag"),
])
def test_mutable_or_bad_references_rejected_naming_the_field(field, ref, why):
    refs = IMAGES.model_dump() | {field: ref}
    with pytest.raises(ValidationError, match=why) as e:
        StackImages(**refs)
    errors = e.value.errors()
    assert len(errors) == 1 and errors[0]["loc"] == (field,)
    assert errors[0]["msg"].startswith(f"Value error, {field}: ")


def test_images_model_is_strict():
    with pytest.raises(ValidationError):
        StackImages(web="a:1", app="b:1")
    with pytest.raises(ValidationError):
        StackImages(web="a:1", app="b:1", postgres="c:1", redis="d:1")


def test_database_appliance_stack_has_no_db_service_and_the_app_uses_the_appliance(tmp_path):
    from swarmlab.release.deploy import service_names, wanted
    from swarmlab.spec import DatabaseSpec

    spec = local(database="appliance", db_appliance=DatabaseSpec(ip="192.168.1.211", port=6543),
                 stack=StackSpec(publish_mode="host", endpoint_mode="dnsrr", web_replicas=3))
    d = stack_dict(spec, IMAGES)
    assert set(d["services"]) == {"app", "web"} and "volumes" not in d
    env = d["services"]["app"]["environment"]
    assert (env["DB_HOST"], env["DB_PORT"], env["DB_USER"], env["DB_NAME"]) == ("192.168.1.211", "6543", "app", "app")
    assert env["DB_PASSWORD_FILE"] == f"/run/secrets/{DB_PASSWORD_SECRET}"   # the same derived secret
    text = render_stack(spec, IMAGES)
    assert "the database appliance\n# at 192.168.1.211:6543 (user app)" in text and "NFS" not in text.split("\n")[1]
    loaded = docker_stack_config(text, tmp_path)
    assert set(loaded["services"]) == {"app", "web"}
    assert set(service_names(spec)) == set(wanted(spec, IMAGES)) == {"app", "web"}
    swarm = local(stack=StackSpec(publish_mode="host", endpoint_mode="dnsrr", web_replicas=3))
    assert stack_dict(swarm, IMAGES)["services"]["app"]["environment"]["DB_HOST"] == "db"
    assert set(service_names(swarm)) == {"db", "app", "web"}
