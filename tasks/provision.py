"""Provisioning tasks: one cloud resource (or one server with its disk) each."""

from __future__ import annotations

from prefect import task
from pydantic import SecretStr

from swarmlab.cloud import provision as lib
from swarmlab.cloud.fleet import known_hosts_path
from swarmlab.hosts import KnownHosts
from swarmlab.cloud.inventory import Inventory, ServerInfo
from swarmlab.sakura import SakuraClient
from swarmlab.spec import LabSpec
from swarmlab.cloud.resources import LabResources, find_lab
from tasks.retry import TRANSIENT_RETRY


@task(name="snapshot", **TRANSIENT_RETRY)
def snapshot(client: SakuraClient, spec: LabSpec) -> LabResources:
    """Everything the lab already has, in one listing per resource kind."""
    return find_lab(client, spec.name)


@task(name="switch", **TRANSIENT_RETRY)
def ensure_switch(client: SakuraClient, spec: LabSpec, existing=None) -> tuple[str, list[str], bool]:
    return lib.ensure_switch(client, spec, existing)


@task(name="router", **TRANSIENT_RETRY)
def ensure_router(client: SakuraClient, spec: LabSpec, switch_id: str, tags: list[str], existing=None):
    """An `edge: pair` lab's router+switch: (router, created?)."""
    return lib.ensure_router(client, spec, switch_id=switch_id, tags=tags, existing=existing)


@task(name="archive", **TRANSIENT_RETRY)
def find_archive(client: SakuraClient, spec: LabSpec) -> str:
    return client.archives.find_by_tags(spec.archive_tags).id


@task(name="startup-note", **TRANSIENT_RETRY)
def ensure_note(client: SakuraClient, spec: LabSpec, switch_id: str, tags: list[str],
                existing=None) -> tuple[str, bool]:
    return lib.ensure_note(client, spec, switch_id=switch_id, tags=tags, existing=existing)


@task(name="server", task_run_name="server-{want.server.role.value}{want.server.index:02d}", **TRANSIENT_RETRY)
def ensure_server(client: SakuraClient, spec: LabSpec, want: lib.ServerCreate,
                  filters: lib.LabFilters | None = None) -> tuple[ServerInfo, bool]:
    """The server; its host key is pinned in the lab's known-hosts store before its disk exists. `filters`: the
    run's packet filters, shared by its server tasks."""
    return lib.ensure_server(client, spec, want, pins=KnownHosts(known_hosts_path(spec.name)), filters=filters)


@task(name="nfs", **TRANSIENT_RETRY)
def ensure_nfs(client: SakuraClient, spec: LabSpec, switch_id: str, tags: list[str], existing=None) -> tuple[str, bool]:
    return lib.ensure_nfs(client, spec, switch_id=switch_id, tags=tags, existing=existing)


@task(name="database", **TRANSIENT_RETRY)
def ensure_database(client: SakuraClient, spec: LabSpec, switch_id: str, tags: list[str], password: SecretStr,
                    existing=None) -> tuple[str, bool]:
    return lib.ensure_database(client, spec, switch_id=switch_id, tags=tags, password=password, existing=existing)


@task(name="registry", **TRANSIENT_RETRY)
def ensure_registry(client: SakuraClient, spec: LabSpec, switch_id: str, tags: list[str], password: SecretStr,
                    existing=None) -> tuple[str, str, bool]:
    return lib.ensure_registry(client, spec, switch_id=switch_id, tags=tags, password=password, existing=existing)


@task(name="discover", **TRANSIENT_RETRY)
def discover(client: SakuraClient, spec: LabSpec) -> Inventory:
    """The inventory of an existing lab, read-only (`LabNotFound` names what is missing)."""
    return lib.discover(client, spec)
