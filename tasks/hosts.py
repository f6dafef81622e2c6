"""Host tasks over SSH: prepare one host, the NFS share, registry login."""

from __future__ import annotations

import time

from prefect import get_run_logger, task
from pydantic import SecretStr

from swarmlab.hosts import nfs, prepare
from swarmlab.release import registry
from swarmlab.cloud.fleet import Fleet
from swarmlab.spec import LabSpec
from tasks.retry import SSH_RETRY


@task(name="prepare-host", task_run_name="prepare-{name}", **SSH_RETRY)
def prepare_host(fleet: Fleet, name: str, spec: LabSpec) -> prepare.Prepared:
    """Startup script done → apt update/upgrade/install → reboot if required → Docker answers (already known
    from the facts when nothing was done, with its swarm state)."""
    t0 = time.monotonic()
    session = fleet.session(name)
    t1 = time.monotonic()
    facts = prepare.wait_startup_scripts(session, spec.packages)
    t2 = time.monotonic()
    changed = prepare.apply_host(session, prepare.plan_host(facts))
    t3 = time.monotonic()
    if changed or not facts.docker:
        prepare.wait_docker(session)
    get_run_logger().info("%s: connected in %.1f s, startup scripts %.1f s, apt %.1f s, docker %.1f s", name,
                          t1 - t0, t2 - t1, t3 - t2, time.monotonic() - t3)
    return prepare.Prepared(changes=changed, swarm=None if changed else facts.swarm)


@task(name="nfs-mount", task_run_name="nfs-mount-{name}", **SSH_RETRY)
def nfs_mount(fleet: Fleet, name: str, spec: LabSpec) -> list[str]:
    return [f"{name}: mounted {nfs.export(spec)} at {spec.nfs.mount_point}"] \
        if nfs.mount_on_host(fleet.session(name), spec) else []


@task(name="nfs-data-dir", **SSH_RETRY)
def nfs_data_dir(fleet: Fleet, name: str, spec: LabSpec) -> list[str]:
    return [f"{name}: created {spec.nfs.export}/{spec.nfs.data_dir}"] \
        if nfs.ensure_data_dir(fleet.session(name), spec) else []


@task(name="registry-login", task_run_name="registry-login-{name}", **SSH_RETRY)
def registry_login(fleet: Fleet, name: str, fqdn: str, user: str, password: SecretStr) -> list[str]:
    return [f"{name}: docker login {fqdn}"] if registry.ensure_login(fleet.session(name), fqdn, user, password) else []
