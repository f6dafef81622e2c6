"""Pure parts of deploy_stack: the hash-labelled stack file, which URLs must answer, why a service is stuck."""

from __future__ import annotations

import yaml

from swarmlab.release.deploy import STACK_HASH_LABEL, StackStatus, http_targets, stack_file, stuck_services, up_to_date
from swarmlab.render.stack import StackImages, render_stack
from swarmlab.spec import local, seed
from swarmlab.release.service_facts import ServiceInspect, ServiceRow, TaskRow

IMAGES = StackImages(web="r.sakuracr.jp/web:v-1", app="r.sakuracr.jp/app:v-2", postgres="r.sakuracr.jp/postgres:v-3")


def test_stack_file_is_render_stack_plus_hash_label():
    spec = local("lab1", "192.168.60.0/24")
    text, digest = stack_file(spec, IMAGES)
    assert stack_file(spec, IMAGES) == (text, digest)
    plain = yaml.safe_load(render_stack(spec, IMAGES))
    labelled = yaml.safe_load(text)
    for svc in labelled["services"].values():
        assert svc["deploy"].pop("labels") == {STACK_HASH_LABEL: digest}
    assert labelled == plain
    assert text.startswith("# swarmlab stack")
    other = StackImages(web="r.sakuracr.jp/web:v-9", app=IMAGES.app, postgres=IMAGES.postgres)
    assert stack_file(spec, other)[1] != digest


def _ips(spec) -> dict[str, str]:
    return {spec.server_name(s): str(s.private_ip) for s in spec.servers}


def _status(spec, nodes_web, nodes_app, labels=None, running=True):
    def tasks(svc, nodes, image):
        return [TaskRow(id=f"{svc}{i}", name=f"{spec.stack.name}_{svc}.{i + 1}", image=image + "@sha256:" + "0" * 64,
                        node=n, desired_state="Running", current_state="Running 5 seconds ago" if running else
                        "Starting 1 second ago") for i, n in enumerate(nodes)]
    images = {"db": IMAGES.postgres, "app": IMAGES.app, "web": IMAGES.web}
    nodes = {"db": nodes_app[:1], "app": nodes_app, "web": nodes_web}
    run = {k: len(v) if running else 0 for k, v in nodes.items()}
    return StackStatus(
        services={k: ServiceRow(id=k, name=f"{spec.stack.name}_{k}", image=images[k], running=run[k],
                                desired=len(nodes[k])) for k in images},
        inspects={k: ServiceInspect(id=k, name=f"{spec.stack.name}_{k}", image=images[k], replicas=len(nodes[k]),
                                    labels=labels or {}) for k in images},
        tasks={k: tasks(k, nodes[k], images[k]) for k in images},
    )


def test_http_targets_host_mode_are_the_nodes_running_tasks():
    spec = local("lab1", "192.168.60.0/24")
    st = _status(spec, ["lab1-worker01", "lab1-worker03"], ["lab1-worker02"])
    assert http_targets(spec, _ips(spec), st) == ["http://192.168.60.30:80/healthz", "http://192.168.60.32:80/healthz",
                                      "http://192.168.60.31:8000/healthz"]


def test_http_targets_ingress_are_all_workers():
    spec = seed("lab1", "192.168.1.0/24")
    st = _status(spec, [], [])
    assert len(http_targets(spec, _ips(spec), st)) == 6
    assert "http://192.168.1.32:8000/healthz" in http_targets(spec, _ips(spec), st)


def test_stuck_services_and_up_to_date():
    spec = local("lab1", "192.168.60.0/24", stack=local().stack.model_copy(update={"web_replicas": 3, "app_replicas": 3}))
    workers = [f"lab1-worker0{i}" for i in (1, 2, 3)]
    ok = _status(spec, workers, workers, labels={STACK_HASH_LABEL: "h"})
    assert stuck_services(spec, IMAGES, ok) == {}
    assert up_to_date(ok, "h") and not up_to_date(ok, "other")
    starting = _status(spec, workers, workers, running=False)
    why = stuck_services(spec, IMAGES, starting)
    assert set(why) == {"db", "app", "web"} and "0/3 tasks running" in why["web"]
    missing = StackStatus(services={"db": None, "app": None, "web": None},
                          inspects={"db": None, "app": None, "web": None}, tasks={})
    assert not up_to_date(missing, "h")
    assert stuck_services(spec, IMAGES, missing)["db"].startswith("service not found")


def test_http_targets_go_to_the_given_addresses():
    spec = seed("lab1", "192.168.1.0/24")
    moved = {n: ip.replace("192.168.1.", "10.8.0.") for n, ip in _ips(spec).items()}
    urls = http_targets(spec, moved, _status(spec, [], []))
    assert "http://10.8.0.32:8000/healthz" in urls and not any("192.168.1." in u for u in urls)
