"""build_lab: provision → bootstrap ∥ publish ∥ edge → deploy_stack → verify through HAProxy → report.

The bootstrap steps are bootstrap_swarm's own (`flows.bootstrap.bootstrap`), run here beside other work:

    provision ─┬─ prepare ×6 ─┬─ nfs mounts, data dir, logins ───┐
               │              └─ swarm plan → apply ─────────────┼─ deploy_stack ─ verify edge ─ report
               ├─ publish ───────────────────────────────────────┘        │
               └─ configure_edge (apt haproxy, haproxy -c, reload) ───────┘

publish starts as soon as the servers are up, so image builds and pushes run while the hosts do apt
and the swarm forms: on the last manager's engine (the first runs `swarm init`), or with
engine="local" on this machine's engine and build cache. The node table is read beside deploy_stack (the swarm
plan's own, when the swarm was left as it was), and the artifacts (progress, tables, URLs) are written off the
flow's path (`flows.artifacts.Writer`).
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel

from flows.naming import TIMEOUT_S, run_name
from flows import artifacts
from flows.bootstrap import bootstrap
from flows.lock import lab_lock
from flows.provision import provision
from flows.session import LabSession
from swarmlab.release import edge
from swarmlab.cloud.inventory import Inventory
from swarmlab.render.stack import StackImages
from swarmlab.spec import LabSpec, Role, local
from tasks import release as r
from tasks import swarm as sw
from tasks.hooks import hook_env, run_hooks

#: build_lab's stages and the progress (percent) reached when each is done, for its progress artifact
STAGES = {"provisioned": 30, "prepared": 55, "swarm_formed": 65, "published": 75, "deployed": 90,
          "edge_verified": 95, "after_build": 100}


class BuildResult(BaseModel):
    lab: str
    web_url: str
    docs_url: str
    images: dict[str, str]
    changes: list[str]
    seconds: float
    timings: dict[str, float] = {}   # seconds since the flow started when each stage was done; *_s: durations
    haproxy: str = ""                  # HAProxy's address (the URLs' host)
    inventory: Inventory | None = None

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def report(spec: LabSpec, inventory: Inventory, result: BuildResult, nodes: list, status) -> None:
    artifacts.inventory_table(inventory, f"Lab {spec.name}: servers (NFS {inventory.nfs_ip}, "
                                         f"registry {inventory.registry_fqdn})")
    create_markdown_artifact(
        key=f"{spec.name}-urls",
        markdown=(f"# Lab {spec.name}\n\n- web (nginx through HAProxy): <{result.web_url}>\n"
                  f"- API docs (FastAPI through HAProxy): <{result.docs_url}>\n\n"
                  + ("Changes:\n" + "\n".join(f"- {c}" for c in result.changes) if result.changes
                     else "No changes: the lab was already built.") + "\n"),
        description=f"Lab {spec.name}: where it answers")
    artifacts.node_table(spec.name, nodes)
    create_table_artifact(key=f"{spec.name}-services", table=status.rows(),
                          description=f"stack {spec.stack.name} on {spec.name}")


@flow(name="build-lab", task_runner=ThreadPoolTaskRunner(max_workers=16), flow_run_name=run_name("build"),
      timeout_seconds=TIMEOUT_S["build"])
def build_lab(spec: LabSpec = local(), credentials: str | None = None, ssh_key: str | None = None,
              engine: str = "ssh", base: str | None = None) -> BuildResult:
    """Everything from nothing to HAProxy answering; a re-run on a built lab changes nothing.

    engine: where images are built: "ssh" (a manager's engine, from scratch) or "local" (this machine's
    engine and build cache). base: the images' BASE build arg (default: their Dockerfiles' debian:bookworm).
    """
    with lab_lock(spec.name):
        return _build_lab(spec, credentials, ssh_key, engine, base)


def _build_lab(spec: LabSpec, credentials: str | None, ssh_key: str | None, engine: str,
               base: str | None) -> BuildResult:
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    log = get_run_logger()
    with artifacts.Writer(spec.name) as writes, LabSession(spec, credentials, log, ssh_key) as lab:
        progress = writes.progress(f"{spec.name}-build-progress", f"build {spec.name}: provisioning")

        def mark(stage: str) -> None:
            timings[stage] = round(time.monotonic() - t0, 2)
            progress(float(STAGES[stage]), f"build {spec.name}: {stage.replace('_', ' ')} at {timings[stage]:.0f} s")

        spec = lab.spec
        inventory = provision(spec, credentials, ssh_key)
        changes = [f"created {n}" for n in inventory.created]
        mark("provisioned")
        fleet = lab.fleet(inventory)
        managers = fleet.names(Role.manager)
        lbs = fleet.names(Role.haproxy)      # one, or an `edge: pair`'s two (HAProxy + keepalived on each)
        registry_pw = lab.secret("registry")

        edge_fs = [r.configure_edge.submit(fleet, lb, spec) for lb in lbs]
        # publish does not wait for the builder's prepare: builds overlap apt (a dockerd restart is retried)
        published = r.publish_images.submit(fleet, managers[-1], inventory, registry_pw, engine=engine, base=base)
        formed, nodes = bootstrap(fleet, spec, inventory, registry_pw, log, on_prepared=lambda: mark("prepared"))
        changes += formed
        mark("swarm_formed")
        nodes_f = sw.node_table.submit(fleet, spec) if nodes is None else None  # beside the deploy (no node changes)

        pub = published.result()
        mark("published")
        timings["publish_s"] = pub.seconds
        changes += [f"pushed {ref}" for ref in pub.pushed]
        images = StackImages(web=pub.images["web"], app=pub.images["app"], postgres=pub.images["postgres"])
        deployed = r.deploy_stack(fleet, managers[0], spec, images, lab.secret("db"))
        if deployed.secret_created:
            changes.append(f"{managers[0]}: created secret db_password")
        if deployed.deployed:
            changes.append(f"deployed stack {spec.stack.name} ({deployed.stack_hash[:12]})")
        mark("deployed")
        timings["deploy_s"] = deployed.seconds
        for edge_f in edge_fs:
            changes += edge_f.result()

        address = inventory.edge_address      # a pair's VIP
        r.verify_edge(address)
        mark("edge_verified")
        web_url, _, docs_url = edge.urls(address)
        nodes = nodes_f.result() if nodes_f is not None else nodes
        result = BuildResult(lab=spec.name, web_url=web_url, docs_url=docs_url, images=pub.images, changes=changes,
                             seconds=round(time.monotonic() - t0, 2), haproxy=address, inventory=inventory)
        writes.submit(report, spec, inventory, result, nodes, deployed.status)
        run_hooks(spec.name, "after_build", list(spec.hooks.after_build), hook_env(spec.name, inventory, address))
        mark("after_build")
        result.timings, result.seconds = timings, round(time.monotonic() - t0, 2)
        log.info("build %s in %.1f s: %s; %s", spec.name, result.seconds,
                 f"{len(changes)} changes" if changes else "no changes", web_url)
        return result
