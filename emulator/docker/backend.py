"""`DockerBackend`: the Backend protocol (emulator/backend.py) on the local Docker daemon, composed of the
parts of this package. Every docker object carries the instance's labels (common.py); only objects with
this instance's label are touched. All methods are idempotent and may be called from several threads at
once (one lock per resource id, one for network creation).

- shared segment   bridge `<instance>-shared`, subnet = shared_subnet, gateway = first host; dynamic
                   addresses (registries) come from its last /28, so the API layer assigns servers' shared
                   IPs below it (networks.py)
- switch           internal bridge per switch (networks.py)
- router+switch    bridge with the gateway on this machine, from a free block of ROUTER_POOL (networks.py)
- server           VM container + volume + /lab config (vms.py); `reboot` inside handled via watcher.py
- NFS appliance    host directory (nfs.py)
- database         lab/postgres:15 container on the switch at its address, data in a volume (databases.py)
- registry         registry container with TLS from the instance's CA (registry.py, tls.py)
- Docker Hub       registry aliased as Docker Hub's names, seeded with lab/base as debian (hub.py)
- packet filter    iptables chain in this machine's namespace (netfilter.py)
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import docker

from ..backend import DatabaseRuntime, FilterRule, RegistryUser, ServerRuntime
from .databases import Databases
from .common import BASE_IMAGE, L_KIND, L_RESOURCE, REGISTRY_IMAGE, VM_IMAGE, Scope
from .hub import Hub
from .netfilter import Netfilter
from .networks import Networks
from .nfs import NfsShares
from .registry import Registries
from .tls import CertificateAuthority
from .vms import REBOOT_EXIT_CODE, VMs
from .watcher import DieWatcher

log = logging.getLogger(__name__)

_STATE_DIRS = ("servers", "registries", "switches", "databases")      # named by resource id (switches: <id>.json)


class DockerBackend:
    """Backend protocol (emulator/backend.py) on the local Docker daemon."""

    def __init__(self, instance: str, state_dir: Path, shared_subnet: str, *,
                 client: docker.DockerClient | None = None,
                 vm_image: str = VM_IMAGE, registry_image: str = REGISTRY_IMAGE, base_image: str = BASE_IMAGE,
                 on_server_down: Callable[[str], None] | None = None) -> None:
        """`on_server_down(server_id)` (optional) is called from a watcher thread when a VM stops by itself
        (`poweroff`/`shutdown -h` inside it); a `reboot` inside a VM is handled here (the container is
        started again). The watcher runs between start() and stop()."""
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", instance):
            raise ValueError(f"instance name {instance!r} is not usable in docker object names")
        self.instance = instance
        self.state_dir = Path(state_dir).resolve()
        self.client = client or docker.from_env(timeout=120, max_pool_size=64)
        self.scope = Scope(instance, self.state_dir, self.client, cleanup_image=vm_image)
        self.networks = Networks(self.scope, shared_subnet)
        self.ca = CertificateAuthority(self.state_dir / "ca", f"sakura-emulator {instance} CA")
        self.nfs = NfsShares(self.scope)
        self.vms = VMs(self.scope, self.networks, self.ca, self.nfs.root, vm_image)
        self.registries = Registries(self.scope, self.networks, self.ca, registry_image)
        self.databases = Databases(self.scope, self.networks)
        self.hub = Hub(self.scope, self.networks, self.ca, registry_image=registry_image, base_image=base_image)
        self.netfilter = Netfilter(instance)
        self.on_server_down = on_server_down
        self.watcher = DieWatcher(self.scope, self._server_died)

    def nfs_export_dir(self, nfs_id: str) -> Path:
        return self.nfs.export_dir(nfs_id)

    # ------------------------------------------------------------------ lifecycle
    def start(self, live_ids: set[str]) -> None:
        live = {str(i) for i in live_ids}
        self.networks.ensure_shared()
        self.ca.ensure()
        self.nfs.by_ip.mkdir(parents=True, exist_ok=True)
        scope = self.scope
        stale = [c for c in self.client.containers.list(all=True, filters=scope.filters())
                 if c.labels.get(L_RESOURCE) not in live and c.labels.get(L_KIND) != "hub"]
        with ThreadPoolExecutor(max_workers=8) as ex:
            list(ex.map(scope.remove_container, stale))
        self.networks.sweep(live)
        for v in self.client.volumes.list(filters=scope.filters()):
            if v.attrs["Labels"].get(L_RESOURCE) not in live and v.attrs["Labels"].get(L_KIND) != "hub":
                scope.remove_volume(v.name)
        for sub in _STATE_DIRS:
            d = self.state_dir / sub
            if d.is_dir():
                for p in d.iterdir():
                    if p.name.split(".")[0] not in live:
                        shutil.rmtree(p) if p.is_dir() else p.unlink()
        self.nfs.sweep(live)
        self.hub.ensure()
        self.watcher.start()

    def stop(self) -> None:
        """Leave the world as it is; a restart adopts it. Stops the reboot watcher."""
        self.watcher.stop()

    def purge(self) -> None:
        """Remove every docker object of this instance (shared network included), its packet-filter rules
        and its state_dir content."""
        self.netfilter.purge()
        scope = self.scope
        for c in self.client.containers.list(all=True, filters=scope.filters()):
            scope.remove_container(c)
        for n in self.client.networks.list(filters=scope.filters()):
            self.networks.remove(n)
        for v in self.client.volumes.list(filters=scope.filters()):
            scope.remove_volume(v.name)
        for sub in (*_STATE_DIRS, "nfs", "ca", "hub"):
            d = self.state_dir / sub
            if d.exists():
                scope.rmtree(d)

    def _server_died(self, server_id: str, exit_code: str | None, container_id: str | None) -> None:
        if server_id in self.vms.expected_down:
            return
        if exit_code == str(REBOOT_EXIT_CODE):
            threading.Thread(target=self.vms.restart_after_reboot, args=(server_id, container_id),
                             daemon=True).start()
        elif self.on_server_down is not None:
            try:
                self.on_server_down(server_id)
            except Exception:  # noqa: BLE001 - the callback's failure must not kill the watcher
                log.exception("on_server_down(%s) failed", server_id)

    # ------------------------------------------------------------------ the Backend protocol
    def switch_created(self, switch_id: str, name: str, tags: list[str]) -> None:
        self.networks.switch_created(switch_id, name, tags)

    def switch_deleted(self, switch_id: str) -> None:
        self.networks.switch_deleted(switch_id)

    def router_subnet(self, mask_len: int, taken: set[str]) -> str:
        return self.networks.router_subnet(mask_len, taken)

    def internet_created(self, switch_id: str, subnet: str, gateway: str, tags: list[str]) -> None:
        with self.scope.lock(switch_id):
            self.networks.ensure_router(switch_id, subnet, gateway, tags)

    def server_power_on(self, server: ServerRuntime) -> None:
        self.vms.power_on(server)

    def server_power_off(self, server_id: str, force: bool) -> None:
        self.vms.power_off(server_id, force)

    def server_deleted(self, server_id: str) -> None:
        self.vms.deleted(server_id)

    def nfs_created(self, nfs_id: str, switch_id: str, ip: str, tags: list[str]) -> None:
        self.nfs.created(nfs_id, switch_id, ip, tags)

    def nfs_deleted(self, nfs_id: str) -> None:
        self.nfs.deleted(nfs_id)

    def nfs_used_bytes(self, nfs_id: str) -> int | None:
        return self.nfs.used_bytes(nfs_id)

    def database_created(self, db: DatabaseRuntime) -> None:
        self.databases.created(db)

    def database_power_on(self, db: DatabaseRuntime) -> None:
        self.databases.power_on(db)

    def database_power_off(self, db_id: str, force: bool) -> None:
        self.databases.power_off(db_id, force)

    def database_settings_changed(self, db: DatabaseRuntime) -> None:
        self.databases.settings_changed(db)

    def database_deleted(self, db_id: str) -> None:
        self.databases.deleted(db_id)

    def database_engine_status(self, db_id: str) -> str:
        return self.databases.engine_status(db_id)

    def registry_created(self, registry_id: str, fqdn: str, tags: list[str]) -> None:
        self.registries.created(registry_id, fqdn, tags)

    def registry_users_changed(self, registry_id: str, users: list[RegistryUser]) -> None:
        self.registries.users_changed(registry_id, users)

    def registry_deleted(self, registry_id: str) -> None:
        self.registries.deleted(registry_id)

    def packet_filters_changed(self, table: dict[str, list[FilterRule]]) -> None:
        self.netfilter.apply(table)
