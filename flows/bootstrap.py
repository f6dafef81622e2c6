"""bootstrap_swarm: prepare_hosts ∥ → (nfs_share, registry logins ∥ form_swarm) → node table.

`bootstrap` is the one order of these tasks; build_lab calls it too, with publish and the edge running
beside it."""

from __future__ import annotations

from typing import NamedTuple

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from flows.naming import TIMEOUT_S, run_name
from flows import artifacts
from flows.lock import lab_lock
from flows.session import LabSession
from swarmlab.cloud.fleet import Fleet
from swarmlab.cloud.inventory import Inventory
from swarmlab.spec import LabSpec, Role, local
from swarmlab.swarm.facts import NodeRow
from tasks import hosts as h
from tasks import swarm as sw


class Bootstrapped(NamedTuple):
    changes: list[str]
    nodes: list[NodeRow] | None  # the node table the swarm plan was made from, when the swarm was left as it was


def bootstrap(fleet: Fleet, spec: LabSpec, inventory: Inventory, registry_password, log,
              on_prepared=lambda: None) -> Bootstrapped:
    """prepare ×N → NFS mounts and data dir, registry logins on the managers (each after its host's prepare)
    ∥ swarm plan → apply (no task run when it plans nothing). `on_prepared` is called once every host is
    prepared."""
    managers, workers = fleet.names(Role.manager), fleet.names(Role.worker)
    prepared = {n: h.prepare_host.submit(fleet, n, spec) for n in managers + workers}
    mounts = [h.nfs_mount.submit(fleet, n, spec, wait_for=[prepared[n]]) for n in workers]
    data_dir = h.nfs_data_dir.submit(fleet, workers[0], spec, wait_for=[prepared[workers[0]]])
    logins = [h.registry_login.submit(fleet, n, inventory.registry_fqdn, inventory.registry_user, registry_password,
                                      wait_for=[prepared[n]]) for n in managers]
    done = {n: f.result() for n, f in prepared.items()}
    changes = [line for p in done.values() for line in p.changes]
    on_prepared()
    plan = sw.plan(fleet, spec, {n: p.swarm for n, p in done.items() if p.swarm is not None})
    for line in plan.describe():
        log.info("swarm plan: %s", line)
    if plan.actions:
        changes += sw.apply(fleet, plan)
    for f in [data_dir, *mounts, *logins]:
        changes += f.result()
    return Bootstrapped(changes, None if plan.actions or not plan.nodes else plan.nodes)


@flow(name="bootstrap-swarm", task_runner=ThreadPoolTaskRunner(max_workers=12),
      flow_run_name=run_name("bootstrap"), timeout_seconds=TIMEOUT_S["bootstrap"])
def bootstrap_swarm(inventory: Inventory, spec: LabSpec = local(), credentials: str | None = None,
                    ssh_key: str | None = None) -> list[str]:
    """Make the provisioned hosts one swarm (idempotent: a converged lab plans zero actions)."""
    with lab_lock(spec.name):
        return _bootstrap_swarm(inventory, spec, credentials, ssh_key)


def _bootstrap_swarm(inventory: Inventory, spec: LabSpec, credentials: str | None, ssh_key: str | None) -> list[str]:
    log = get_run_logger()
    with LabSession(spec, credentials, log, ssh_key) as lab:
        fleet = lab.fleet(inventory)
        changed, nodes = bootstrap(fleet, lab.spec, inventory, lab.secret("registry"), log)
        artifacts.node_table(spec.name, nodes if nodes is not None else sw.node_table(fleet, lab.spec))
        log.info("bootstrap %s: %s", spec.name, f"{len(changed)} changes" if changed else "no changes")
        return changed
