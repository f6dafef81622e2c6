"""bootstrap_swarm: prepare_hosts ∥ → nfs_share → form_swarm → registry login → node table.

`bootstrap` is the one order of these tasks; build_lab calls it too, with publish and the edge running
beside it."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from flows.naming import TIMEOUT_S, run_name
from flows import artifacts
from flows.lock import lab_lock
from flows.session import LabSession
from swarmlab.cloud.fleet import Fleet
from swarmlab.cloud.inventory import Inventory
from swarmlab.spec import LabSpec, Role, local
from tasks import hosts as h
from tasks import swarm as sw


def bootstrap(fleet: Fleet, spec: LabSpec, inventory: Inventory, registry_password, log,
              on_prepared=lambda: None) -> list[str]:
    """prepare ×N → NFS mounts and data dir (each after its host's prepare) ∥ swarm plan → apply → registry
    logins on the managers. Returns what changed; `on_prepared` is called once every host is prepared."""
    managers, workers = fleet.names(Role.manager), fleet.names(Role.worker)
    prepared = {n: h.prepare_host.submit(fleet, n, spec) for n in managers + workers}
    mounts = [h.nfs_mount.submit(fleet, n, spec, wait_for=[prepared[n]]) for n in workers]
    data_dir = h.nfs_data_dir.submit(fleet, workers[0], spec, wait_for=[prepared[workers[0]]])
    changes = [line for f in prepared.values() for line in f.result()]
    on_prepared()
    plan = sw.plan(fleet, spec)
    for line in plan.describe():
        log.info("swarm plan: %s", line)
    changes += sw.apply(fleet, plan)
    logins = [h.registry_login.submit(fleet, n, inventory.registry_fqdn, inventory.registry_user, registry_password)
              for n in managers]
    for f in [data_dir, *mounts, *logins]:
        changes += f.result()
    return changes


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
        changed = bootstrap(fleet, lab.spec, inventory, lab.secret("registry"), log)
        artifacts.node_table(spec.name, sw.node_table(fleet, lab.spec))
        log.info("bootstrap %s: %s", spec.name, f"{len(changed)} changes" if changed else "no changes")
        return changed
