"""Teardown tasks: delete one resource each, in the order the flow gives."""

from __future__ import annotations

from prefect import task

from swarmlab.cloud import resources
from swarmlab.cloud import teardown as lib
from swarmlab.cloud.fleet import known_hosts_path
from swarmlab.hosts import KnownHosts
from swarmlab.sakura import SakuraClient
from tasks.retry import TRANSIENT_RETRY


@task(name="find-lab", **TRANSIENT_RETRY)
def find_lab(client: SakuraClient, lab: str) -> resources.LabResources:
    return resources.find_lab(client, lab)


@task(name="nfs-data", task_run_name="nfs-data-{nfs.name}", **TRANSIENT_RETRY)
def nfs_data_bytes(client: SakuraClient, nfs) -> int | None:
    return lib.nfs_data_bytes(client, nfs)


@task(name="delete-server", task_run_name="delete-{server.name}", **TRANSIENT_RETRY)
def delete_server(client: SakuraClient, server, owned_disks: set[str], lab_switches: set[str]) -> lib.Outcome:
    return lib.delete_server(client, server, owned_disks, lab_switches)


@task(name="delete-nfs", task_run_name="delete-{nfs.name}", **TRANSIENT_RETRY)
def delete_nfs(client: SakuraClient, nfs) -> lib.Outcome:
    return lib.delete_nfs(client, nfs)


@task(name="delete-database", task_run_name="delete-{db.name}", **TRANSIENT_RETRY)
def delete_database(client: SakuraClient, db) -> lib.Outcome:
    return lib.delete_appliance(client, resources.Kind.DATABASES, db)


@task(name="delete", task_run_name="delete-{resource.name}", **TRANSIENT_RETRY)
def delete_simple(client: SakuraClient, kind: resources.Kind, resource) -> lib.Outcome:
    return lib.delete_simple(client, kind, resource)


@task(name="mark-teardown", **TRANSIENT_RETRY)
def mark_teardown(client: SakuraClient, lab: str) -> list[str]:
    return lib.mark_teardown(client, lab)


@task(name="forget-host-keys")
def forget_host_keys(lab: str, server_ids: list[str]) -> None:
    """Drop the deleted servers' host-key pins (an emulator reuses IDs)."""
    pins = KnownHosts(known_hosts_path(lab))
    for server_id in server_ids:
        pins.forget(server_id)
