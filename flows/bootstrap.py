"""bootstrap_swarm: prepare_hosts ∥ → nfs_share → form_swarm → registry login → node table."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from blocks.sakura import SakuraCloudCredentials
from blocks.ssh import SSHKeyPair
from flows.lock import lab_lock
from swarmlab.cloud.fleet import Fleet
from swarmlab.hosts import SSHKey
from swarmlab.cloud.inventory import Inventory
from swarmlab.cloud.secrets import derive
from swarmlab.spec import LabSpec, Role, local
from tasks import hosts as h
from tasks import swarm as sw


def open_fleet(inventory: Inventory, spec: LabSpec, ssh_key: str | None) -> Fleet:
    key = SSHKeyPair.resolve(ssh_key, spec.name)
    return Fleet(inventory, SSHKey.from_pem(key.private_key), user=spec.ssh_user)


@flow(name="bootstrap-swarm", task_runner=ThreadPoolTaskRunner(max_workers=12))
def bootstrap_swarm(inventory: Inventory, spec: LabSpec = local(), credentials: str | None = None,
                    ssh_key: str | None = None) -> list[str]:
    """Make the provisioned hosts one swarm (idempotent: a converged lab plans zero actions)."""
    with lab_lock(spec.name):
        return _bootstrap_swarm(inventory, spec, credentials, ssh_key)


def _bootstrap_swarm(inventory: Inventory, spec: LabSpec, credentials: str | None, ssh_key: str | None) -> list[str]:
    log = get_run_logger()
    creds = SakuraCloudCredentials.resolve(credentials)
    fleet = open_fleet(inventory, spec, ssh_key)
    try:
        swarm_hosts = fleet.names(Role.manager, Role.worker)
        prepared = [h.prepare_host.submit(fleet, n, spec) for n in swarm_hosts]
        changed = [line for f in prepared for line in f.result()]

        workers = fleet.names(Role.worker)
        mounts = [h.nfs_mount.submit(fleet, n, spec) for n in workers]
        changed += h.nfs_data_dir(fleet, workers[0], spec)
        changed += [line for f in mounts for line in f.result()]

        plan = sw.plan(fleet, spec)
        for line in plan.describe():
            log.info("swarm plan: %s", line)
        changed += sw.apply(fleet, plan)

        password = derive(creds.access_token_secret, spec.name, "registry")
        logins = [h.registry_login.submit(fleet, n, inventory.registry_fqdn, inventory.registry_user, password)
                  for n in fleet.names(Role.manager)]
        changed += [line for f in logins for line in f.result()]

        rows = sw.node_table(fleet, spec)
        create_table_artifact(key=f"{spec.name}-swarm-nodes", table=[
            {"hostname": r.hostname, "status": r.status, "availability": r.availability,
             "manager status": r.manager_status, "engine": r.engine_version} for r in rows],
            description=f"docker node ls on {spec.name}")
        log.info("bootstrap %s: %s", spec.name, f"{len(changed)} changes" if changed else "no changes")
        return changed
    finally:
        fleet.close()
