"""The emulator's `docker` backend: servers are VM containers, switches are bridge networks.

World model (everything carries the labels below; only objects with this instance's label are touched):

- shared segment   bridge network `<instance>-shared`, subnet = shared_subnet, gateway = first host.
                   Dynamic addresses (registries) come from the subnet's last /28 (`dynamic_range`),
                   so the API layer must assign servers' shared IPs below it.
- switch           internal bridge network `<instance>-sw-<switch id>`, created when the first server NIC
                   with an address joins (the subnet comes from that NIC's ip/mask_len).
- server           container `<instance>-<server name>` of lab/vm:bookworm (systemd, sshd, dockerd), its own
                   volume `<instance>-<id>-docker` for /var/lib/docker, per-server config under
                   state_dir/servers/<id> bind-mounted read-only at /lab, state_dir/nfs at /lab-nfs-root.
- NFS appliance    host directory state_dir/nfs/<id>/export plus state_dir/nfs/by-ip/<ip> -> ../<id>/export;
                   the VM image's mount.nfs shim bind-mounts /lab-nfs-root/by-ip/<ip>[/sub]. No container.
- registry         container `<instance>-registry-<id>` of lab/registry:2.8 on the shared network with the
                   alias <fqdn>, TLS on 443 with a cert from this instance's CA (state_dir/ca/ca.crt),
                   htpasswd auth, data in volume `<instance>-<id>-registry`.
- Docker Hub       container `<instance>-hub` (kind `hub`) of lab/registry:2.8 on the shared network with the
  stand-in         aliases registry-1.docker.io, index.docker.io, docker.io, auth.docker.io; TLS (CA-signed, those
                   SANs), no auth, data in volume `<instance>-hub`, config under state_dir/hub. Ensured by start():
                   VMs' `docker pull debian:bookworm` / `FROM debian:bookworm` get lab/base:bookworm, pushed as
                   library/debian:bookworm when the hub container's `sakura-emulator.hub-seed` label is not the
                   current lab/base image ID. Only purge() removes it.
- packet filter    iptables chain `SEMU-<hash of instance>` in this machine's namespace, jumped to from
                   DOCKER-USER and OUTPUT, every rule commented `sakura-emulator:<instance>` (emulator/netfilter.py):
                   the rules of each shared-segment address with a filter; replaced whole on every change,
                   removed by purge().

All methods are idempotent and may be called from several threads at once (one lock per resource id,
one for network creation).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import docker
from docker.errors import APIError, NotFound
from docker.types import EndpointConfig, IPAMConfig, IPAMPool, Mount

from .backend import FilterRule, RegistryUser, ServerRuntime
from .netfilter import Netfilter

log = logging.getLogger("emulator.docker_backend")

VM_IMAGE = "lab/vm:bookworm"
REGISTRY_IMAGE = "lab/registry:2.8"
BASE_IMAGE = "lab/base:bookworm"

L_INSTANCE = "sakura-emulator.instance"
L_RESOURCE = "sakura-emulator.resource"
L_KIND = "sakura-emulator.kind"
L_TAGS = "sakura-emulator.tags"
SHARED_RESOURCE = "shared"
HUB_RESOURCE = "hub"
L_HUB_SEED = "sakura-emulator.hub-seed"     # on the hub container: the lab/base image ID it serves as debian
HUB_NAMES = ("registry-1.docker.io", "index.docker.io", "docker.io", "auth.docker.io")
HUB_REPO, HUB_TAG = "library/debian", "bookworm"
_HUB_STORAGE = """version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
"""
# the hub itself: TLS, anonymous pull and push (what dockerd expects of Docker Hub's /v2/: 200 without auth)
HUB_CONFIG = _HUB_STORAGE + """http:
  addr: :443
  tls:
    certificate: /etc/lab-registry/registry.crt
    key: /etc/lab-registry/registry.key
"""
# the temporary seeding registry on the same volume: plain HTTP on 127.0.0.1 (insecure by default for dockerd)
HUB_SEED_CONFIG = _HUB_STORAGE + """http:
  addr: :5000
"""

REBOOT_EXIT_CODE = 129     # systemd as PID 1 exits 129 on `reboot`, 130 on `poweroff` and on docker stop
STOP_TIMEOUT = 10           # seconds between SIGRTMIN+3 (systemd poweroff) and SIGKILL
REGISTRY_READY_TIMEOUT = 30


class DockerBackendError(RuntimeError):
    pass


def _safe_name(s: str) -> str:
    s = re.sub(r"[^a-zA-Z0-9_.-]+", "-", s).strip("-.")
    return s or "x"


def _safe_hostname(s: str) -> str:
    s = re.sub(r"[^a-zA-Z0-9-]+", "-", s).strip("-")[:63]
    return s or "localhost"


def _write(path: Path, data: str | bytes, mode: int = 0o644) -> bool:
    """Atomic write; returns True when the content changed."""
    raw = data.encode() if isinstance(data, str) else data
    if path.exists() and path.read_bytes() == raw and (path.stat().st_mode & 0o777) == mode:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(raw)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


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
        self.shared_subnet = ipaddress.ip_network(shared_subnet, strict=False)
        if self.shared_subnet.version != 4 or self.shared_subnet.prefixlen > 28:
            raise ValueError(f"shared_subnet {shared_subnet} must be IPv4 and at least a /28")
        self.shared_gateway = str(self.shared_subnet.network_address + 1)
        # registries (the only containers without a fixed address) take their shared IP from here
        self.dynamic_range = (ipaddress.ip_network(f"{self.shared_subnet.broadcast_address - 15}/28", strict=False)
                              if self.shared_subnet.prefixlen <= 26 else None)
        self.client = client or docker.from_env(timeout=120, max_pool_size=64)
        self.vm_image = vm_image
        self.registry_image = registry_image
        self.base_image = base_image
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._net_lock = threading.Lock()
        self._ca_lock = threading.Lock()
        self.on_server_down = on_server_down
        self._expected_down: set[str] = set()
        self._watch_stop = threading.Event()
        self._events = None
        self._watcher: threading.Thread | None = None
        self.netfilter = Netfilter(instance)

    # ------------------------------------------------------------------ names, labels, paths
    @property
    def shared_network_name(self) -> str:
        return f"{self.instance}-shared"

    def switch_network_name(self, switch_id: str) -> str:
        return f"{self.instance}-sw-{switch_id}"

    @property
    def ca_cert_path(self) -> Path:
        """PEM of this instance's CA (signs registry certs; VMs trust it). Created on first use."""
        self._ensure_ca()
        return self.state_dir / "ca" / "ca.crt"

    @property
    def nfs_root(self) -> Path:
        return self.state_dir / "nfs"

    def nfs_export_dir(self, nfs_id: str) -> Path:
        return self.nfs_root / nfs_id / "export"

    def server_config_dir(self, server_id: str) -> Path:
        return self.state_dir / "servers" / server_id

    def registry_dir(self, registry_id: str) -> Path:
        return self.state_dir / "registries" / registry_id

    @property
    def hub_dir(self) -> Path:
        return self.state_dir / "hub"

    @property
    def hub_container_name(self) -> str:
        return f"{self.instance}-hub"

    def _labels(self, resource: str, kind: str, tags: list[str] | None = None) -> dict[str, str]:
        return {L_INSTANCE: self.instance, L_RESOURCE: resource, L_KIND: kind, L_TAGS: ",".join(tags or [])}

    def _filters(self, resource: str | None = None, kind: str | None = None) -> dict:
        labels = [f"{L_INSTANCE}={self.instance}"]
        if resource is not None:
            labels.append(f"{L_RESOURCE}={resource}")
        if kind is not None:
            labels.append(f"{L_KIND}={kind}")
        return {"label": labels}

    def _lock(self, resource: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(resource, threading.Lock())

    def _ours(self, labels: dict | None) -> bool:
        return (labels or {}).get(L_INSTANCE) == self.instance

    # ------------------------------------------------------------------ lifecycle
    def start(self, live_ids: set[str]) -> None:
        live = {str(i) for i in live_ids}
        self._ensure_shared_network()
        self._ensure_ca()
        (self.nfs_root / "by-ip").mkdir(parents=True, exist_ok=True)
        stale = [c for c in self.client.containers.list(all=True, filters=self._filters())
                 if c.labels.get(L_RESOURCE) not in live and c.labels.get(L_KIND) != "hub"]
        with ThreadPoolExecutor(max_workers=8) as ex:
            list(ex.map(lambda c: self._remove_container(c), stale))
        for n in self.client.networks.list(filters=self._filters()):
            if n.attrs["Labels"].get(L_KIND) != "shared" and n.attrs["Labels"].get(L_RESOURCE) not in live:
                self._remove_network(n)
        for v in self.client.volumes.list(filters=self._filters()):
            if v.attrs["Labels"].get(L_RESOURCE) not in live and v.attrs["Labels"].get(L_KIND) != "hub":
                self._remove_volume(v.name)
        for sub in ("servers", "registries", "switches"):
            d = self.state_dir / sub
            if d.is_dir():
                for p in d.iterdir():
                    if p.name.split(".")[0] not in live:
                        shutil.rmtree(p) if p.is_dir() else p.unlink()
        if self.nfs_root.is_dir():
            for p in self.nfs_root.iterdir():
                if p.name != "by-ip" and p.is_dir() and p.name not in live:
                    self._rmtree(p)
            self._prune_by_ip()
        self._ensure_hub()
        self._start_watcher()

    def stop(self) -> None:
        """Leave the world as it is; a restart adopts it. Stops the reboot watcher."""
        self._watch_stop.set()
        ev = self._events
        if ev is not None:
            try:
                ev.close()
            except Exception:  # noqa: BLE001 - closing a half-read stream may raise anything
                pass
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

    def packet_filters_changed(self, table: dict[str, list[FilterRule]]) -> None:
        self.netfilter.apply(table)

    def purge(self) -> None:
        """Remove every docker object of this instance (shared network included), its packet-filter rules
        and its state_dir content."""
        self.netfilter.purge()
        for c in self.client.containers.list(all=True, filters=self._filters()):
            self._remove_container(c)
        for n in self.client.networks.list(filters=self._filters()):
            self._remove_network(n)
        for v in self.client.volumes.list(filters=self._filters()):
            self._remove_volume(v.name)
        for sub in ("servers", "registries", "switches", "nfs", "ca", "hub"):
            d = self.state_dir / sub
            if d.exists():
                self._rmtree(d)

    # ------------------------------------------------------------------ reboot watcher
    def _start_watcher(self) -> None:
        if self._watcher is not None and self._watcher.is_alive():
            return
        self._watch_stop.clear()
        self._watcher = threading.Thread(target=self._watch, name=f"{self.instance}-docker-events", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        filters = {"type": "container", "event": "die",
                   "label": [f"{L_INSTANCE}={self.instance}", f"{L_KIND}=server"]}
        while not self._watch_stop.is_set():
            try:
                self._events = self.client.events(decode=True, filters=filters)
                for ev in self._events:
                    attrs = (ev.get("Actor") or {}).get("Attributes") or {}
                    rid, code = attrs.get(L_RESOURCE), attrs.get("exitCode")
                    if not rid or rid in self._expected_down:
                        continue
                    if code == str(REBOOT_EXIT_CODE):
                        threading.Thread(target=self._reboot, args=(rid, ev.get("id")), daemon=True).start()
                    elif self.on_server_down is not None:
                        try:
                            self.on_server_down(rid)
                        except Exception:  # noqa: BLE001 - the callback's failure must not kill the watcher
                            log.exception("on_server_down(%s) failed", rid)
            except Exception:  # noqa: BLE001 - daemon restarts, closed stream: retry unless stopping
                if self._watch_stop.is_set():
                    return
                log.debug("docker events stream broke; reconnecting", exc_info=True)
                time.sleep(1)

    def _reboot(self, server_id: str, container_id: str | None) -> None:
        with self._lock(server_id):
            try:
                c = self.client.containers.get(container_id) if container_id else self._server_container(server_id)
                if c is not None and c.status == "exited" and c.attrs["State"]["ExitCode"] == REBOOT_EXIT_CODE:
                    c.start()
                    log.info("server %s rebooted (container %s started again)", server_id, c.name)
            except (NotFound, APIError) as e:
                log.warning("server %s: restart after reboot failed: %s", server_id, e)

    # ------------------------------------------------------------------ networks
    def _get_network(self, name: str):
        try:
            n = self.client.networks.get(name)
        except NotFound:
            return None
        if n.name != name:        # `get` also matches id prefixes
            return None
        if not self._ours(n.attrs.get("Labels")):
            raise DockerBackendError(f"docker network {name} exists but was not made by emulator instance "
                                     f"{self.instance}; remove it or pick another instance name")
        return n

    def _create_network(self, name: str, subnet: ipaddress.IPv4Network, gateway: str, labels: dict,
                        internal: bool, iprange: str | None = None):
        pool = IPAMPool(subnet=str(subnet), gateway=gateway, iprange=iprange)
        try:
            return self.client.networks.create(name, driver="bridge", ipam=IPAMConfig(pool_configs=[pool]),
                                               labels=labels, internal=internal, check_duplicate=True)
        except APIError as e:
            if e.status_code == 409:    # created concurrently (another process)
                n = self._get_network(name)
                if n is not None:
                    return n
            raise DockerBackendError(f"cannot create docker network {name} ({subnet}): {e.explanation}") from None

    def _ensure_shared_network(self):
        with self._net_lock:
            n = self._get_network(self.shared_network_name)
            if n is not None:
                return n
            return self._create_network(self.shared_network_name, self.shared_subnet, self.shared_gateway,
                                        self._labels(SHARED_RESOURCE, "shared"), internal=False,
                                        iprange=str(self.dynamic_range) if self.dynamic_range else None)

    def _ensure_switch_network(self, switch_id: str, ip: str, mask_len: int):
        name = self.switch_network_name(switch_id)
        with self._net_lock:
            n = self._get_network(name)
            if n is not None:
                return n
            subnet = ipaddress.ip_network(f"{ip}/{mask_len}", strict=False)
            if subnet.prefixlen > 30:
                raise DockerBackendError(f"switch {switch_id}: /{mask_len} is too small for a docker network")
            gw = subnet.network_address + 1
            if str(gw) == ip:
                gw = subnet.broadcast_address - 1
            meta = self._switch_meta(switch_id)
            # internal: a private switch has no route out (like SAKURA's); VMs reach the internet via NIC0
            return self._create_network(name, subnet, str(gw), self._labels(switch_id, "switch", meta.get("tags")),
                                        internal=True)

    def _switch_meta(self, switch_id: str) -> dict:
        p = self.state_dir / "switches" / f"{switch_id}.json"
        try:
            return json.loads(p.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _remove_network(self, n) -> None:
        try:
            n.reload()
            for cid in (n.attrs.get("Containers") or {}):
                try:
                    n.disconnect(cid, force=True)
                except (NotFound, APIError):
                    pass
            n.remove()
        except NotFound:
            pass

    def switch_created(self, switch_id: str, name: str, tags: list[str]) -> None:
        # the subnet is unknown until a NIC with an address joins: only remember name and tags
        _write(self.state_dir / "switches" / f"{switch_id}.json", json.dumps({"name": name, "tags": list(tags)}))

    def switch_deleted(self, switch_id: str) -> None:
        with self._lock(switch_id):
            with self._net_lock:
                n = self._get_network(self.switch_network_name(switch_id))
                if n is not None:
                    self._remove_network(n)
            (self.state_dir / "switches" / f"{switch_id}.json").unlink(missing_ok=True)

    # ------------------------------------------------------------------ servers
    def _server_container(self, server_id: str):
        cs = self.client.containers.list(all=True, filters=self._filters(server_id, "server"))
        return cs[0] if cs else None

    def _write_server_config(self, server: ServerRuntime) -> Path:
        d = self.server_config_dir(server.id)
        d.mkdir(parents=True, exist_ok=True)
        keys = "".join(k.strip() + "\n" for k in server.ssh_public_keys if k.strip())
        _write(d / "authorized_keys", keys)
        _write(d / "hostname", _safe_hostname(server.hostname or server.name) + "\n")
        _write(d / "ca.crt", self.ca_cert_path.read_bytes())
        notes = d / "notes"
        notes.mkdir(exist_ok=True)
        wanted = {_safe_name(n.id): n.content for n in server.notes}
        for p in notes.iterdir():
            if p.name not in wanted:
                p.unlink()
        for nid, content in wanted.items():
            _write(notes / nid, content, 0o700)
        return d

    def server_power_on(self, server: ServerRuntime) -> None:
        with self._lock(server.id):
            self._expected_down.discard(server.id)
            c = self._server_container(server.id)
            if c is None:
                c = self._create_server_container(server)
            if c.status != "running":
                try:
                    c.start()
                except APIError as e:
                    raise DockerBackendError(f"server {server.id}: cannot start {c.name}: {e.explanation}") from None
            self._wait_running(c)

    def _wait_running(self, c, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while True:
            c.reload()
            st = c.attrs["State"]
            if st.get("Running"):
                return
            if st.get("Status") == "exited" or time.monotonic() > deadline:
                tail = c.logs(tail=20).decode(errors="replace")
                raise DockerBackendError(f"{c.name} is {st.get('Status')} (exit {st.get('ExitCode')}): {tail}")
            time.sleep(0.05)

    def _create_server_container(self, server: ServerRuntime):
        if not server.shared_ip:
            raise DockerBackendError(f"server {server.id} has no shared IP (NIC0) to start on")
        shared_ip = ipaddress.ip_address(server.shared_ip)
        if shared_ip not in self.shared_subnet:
            raise DockerBackendError(f"server {server.id}: shared IP {shared_ip} is outside {self.shared_subnet}")
        cfg = self._write_server_config(server)
        (self.nfs_root / "by-ip").mkdir(parents=True, exist_ok=True)
        shared = self._ensure_shared_network()
        private = []
        for nic in server.private_nics:
            if not nic.ip:
                log.info("server %s: NIC on switch %s has no address; not connected", server.id, nic.switch_id)
                continue
            private.append((self._ensure_switch_network(nic.switch_id, nic.ip, nic.mask_len), nic))
        volume = f"{self.instance}-{server.id}-docker"
        self._ensure_volume(volume, server.id, "server", server.tags)

        api = self.client.api
        hc = api.create_host_config(
            cap_add=["ALL"], cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            cgroupns="private",
            tmpfs={"/run": "", "/run/lock": "", "/tmp": "exec"},
            mounts=[
                Mount("/var/lib/docker", volume, type="volume"),
                Mount("/lab", str(cfg), type="bind", read_only=True),
                Mount("/lab-nfs-root", str(self.nfs_root), type="bind"),
            ],
            network_mode=shared.name,
        )
        # = `--security-opt systempaths=unconfined` (a CLI-side option: the API takes empty path lists)
        hc["MaskedPaths"] = []
        hc["ReadonlyPaths"] = []
        netcfg = api.create_networking_config({shared.name: EndpointConfig(api._version, ipv4_address=str(shared_ip))})
        name = f"{self.instance}-{_safe_name(server.name)}"
        kwargs = dict(hostname=_safe_hostname(server.hostname or server.name), host_config=hc,
                      networking_config=netcfg, labels=self._labels(server.id, "server", server.tags), detach=True)
        try:
            cid = api.create_container(self.vm_image, name=name, **kwargs)["Id"]
        except APIError as e:
            if e.status_code != 409:
                raise DockerBackendError(f"server {server.id}: cannot create {name}: {e.explanation}") from None
            # the name is taken (SAKURA allows duplicate server names): fall back to a unique one
            name = f"{name}-{server.id}"
            try:
                cid = api.create_container(self.vm_image, name=name, **kwargs)["Id"]
            except APIError as e2:
                raise DockerBackendError(f"server {server.id}: cannot create {name}: {e2.explanation}") from None
        try:
            for net, nic in private:
                api.connect_container_to_network(cid, net.id, ipv4_address=nic.ip)
        except APIError as e:
            api.remove_container(cid, force=True)
            raise DockerBackendError(f"server {server.id}: cannot attach to switch network "
                                     f"({nic.ip}/{nic.mask_len}): {e.explanation}") from None
        return self.client.containers.get(cid)

    def _ensure_volume(self, name: str, resource: str, kind: str, tags: list[str]) -> None:
        try:
            v = self.client.volumes.get(name)
            if not self._ours(v.attrs.get("Labels")):
                raise DockerBackendError(f"docker volume {name} exists but is not this instance's")
        except NotFound:
            self.client.volumes.create(name, labels=self._labels(resource, kind, tags))

    def server_power_off(self, server_id: str, force: bool) -> None:
        with self._lock(server_id):
            c = self._server_container(server_id)
            if c is None or c.status not in ("running", "restarting", "paused"):
                return
            self._expected_down.add(server_id)
            try:
                if force:
                    c.kill()
                    c.wait(timeout=STOP_TIMEOUT)
                else:
                    c.stop(timeout=STOP_TIMEOUT)
            except NotFound:
                return
            except APIError as e:
                if "is not running" not in str(e.explanation):
                    raise

    def server_deleted(self, server_id: str) -> None:
        with self._lock(server_id):
            self._expected_down.add(server_id)
            for c in self.client.containers.list(all=True, filters=self._filters(server_id)):
                self._remove_container(c)
            for v in self.client.volumes.list(filters=self._filters(server_id)):
                self._remove_volume(v.name)
            shutil.rmtree(self.server_config_dir(server_id), ignore_errors=True)

    def _remove_container(self, c) -> None:
        try:
            c.remove(force=True, v=True)
        except NotFound:
            pass
        except APIError as e:
            if "already in progress" not in str(e.explanation):
                raise

    def _remove_volume(self, name: str) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.volumes.get(name).remove(force=True)
                return
            except NotFound:
                return
            except APIError as e:
                if e.status_code != 409 or time.monotonic() > deadline:   # still in use: container going away
                    raise
                time.sleep(0.1)

    # ------------------------------------------------------------------ NFS
    def nfs_created(self, nfs_id: str, switch_id: str, ip: str, tags: list[str]) -> None:
        with self._lock(nfs_id):
            export = self.nfs_export_dir(nfs_id)
            export.mkdir(parents=True, exist_ok=True)
            _write(self.nfs_root / nfs_id / "meta.json", json.dumps({"switch_id": switch_id, "ip": ip, "tags": tags}))
            by_ip = self.nfs_root / "by-ip"
            by_ip.mkdir(parents=True, exist_ok=True)
            link = by_ip / str(ipaddress.ip_address(ip))
            target = f"../{nfs_id}/export"        # relative: resolves inside VMs at /lab-nfs-root/by-ip/<ip>
            if not (link.is_symlink() and os.readlink(link) == target):
                tmp = by_ip / f".{ip}.{threading.get_ident()}.tmp"
                tmp.unlink(missing_ok=True)
                os.symlink(target, tmp)
                os.replace(tmp, link)

    def nfs_deleted(self, nfs_id: str) -> None:
        with self._lock(nfs_id):
            by_ip = self.nfs_root / "by-ip"
            if by_ip.is_dir():
                for link in by_ip.iterdir():
                    if link.is_symlink() and os.readlink(link) == f"../{nfs_id}/export":
                        link.unlink()
            d = self.nfs_root / nfs_id
            if d.exists():
                self._rmtree(d)

    def nfs_used_bytes(self, nfs_id: str) -> int | None:
        """The size of every file under the share's host directory (what the share holds)."""
        export = self.nfs_export_dir(nfs_id)
        if not export.is_dir():
            return None
        total = 0
        for top, _dirs, files in os.walk(export):
            for f in files:
                try:
                    total += os.lstat(os.path.join(top, f)).st_size
                except OSError:
                    continue
        return total

    def _prune_by_ip(self) -> None:
        by_ip = self.nfs_root / "by-ip"
        for link in by_ip.iterdir() if by_ip.is_dir() else []:
            if link.is_symlink() and not link.exists():
                link.unlink()

    def _rmtree(self, d: Path) -> None:
        """Remove a tree that VMs' root may have filled; fall back to a throwaway container if we are not root."""
        try:
            shutil.rmtree(d)
        except PermissionError:
            self.client.containers.run(self.vm_image, entrypoint=["rm", "-rf", "/x/" + d.name], remove=True,
                                       mounts=[Mount("/x", str(d.parent), type="bind")],
                                       labels=self._labels("cleanup", "cleanup"))

    # ------------------------------------------------------------------ CA and registry
    def _ensure_ca(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        d = self.state_dir / "ca"
        with self._ca_lock:
            if (d / "ca.crt").exists() and (d / "ca.key").exists():
                return
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sakura-emulator {self.instance} CA")])
            now = dt.datetime.now(dt.timezone.utc)
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                 content_commitment=False, key_encipherment=False,
                                                 data_encipherment=False, key_agreement=False,
                                                 encipher_only=False, decipher_only=False), critical=True)
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                    .sign(key, hashes.SHA256()))
            _write(d / "ca.key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()), 0o600)
            _write(d / "ca.crt", cert.public_bytes(serialization.Encoding.PEM))

    def _issue_cert(self, names: str | tuple[str, ...], out_dir: Path) -> bool:
        """registry.crt/registry.key for names (SANs; the first is the CN), signed by this instance's CA.
        Kept if already right; returns True when (re)issued."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        names = [names] if isinstance(names, str) else list(names)
        self._ensure_ca()
        crt_p, key_p = out_dir / "registry.crt", out_dir / "registry.key"
        ca_pem = (self.state_dir / "ca" / "ca.crt").read_bytes()
        ca_cert = x509.load_pem_x509_certificate(ca_pem)
        if crt_p.exists() and key_p.exists():
            old = x509.load_pem_x509_certificate(crt_p.read_bytes())
            try:
                sans = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                if sans.get_values_for_type(x509.DNSName) == names and old.issuer == ca_cert.subject:
                    return False
            except x509.ExtensionNotFound:
                pass
        ca_key = serialization.load_pem_private_key((self.state_dir / "ca" / "ca.key").read_bytes(), None)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(key_p, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()), 0o600)
        _write(crt_p, cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
        return True

    def _registry_container(self, registry_id: str):
        cs = self.client.containers.list(all=True, filters=self._filters(registry_id, "registry"))
        return cs[0] if cs else None

    def registry_address(self, registry_id: str) -> str | None:
        """The registry's IP on the shared network (the host can reach it; VMs resolve it by fqdn)."""
        c = self._registry_container(registry_id)
        if c is None:
            return None
        net = c.attrs["NetworkSettings"]["Networks"].get(self.shared_network_name) or {}
        return net.get("IPAddress") or None

    def registry_created(self, registry_id: str, fqdn: str, tags: list[str]) -> None:
        with self._lock(registry_id):
            d = self.registry_dir(registry_id)
            d.mkdir(parents=True, exist_ok=True)
            self._issue_cert(fqdn, d)
            if not (d / "htpasswd").exists():
                _write(d / "htpasswd", "")
            _write(d / "fqdn", fqdn + "\n")
            c = self._registry_container(registry_id)
            if c is None:
                shared = self._ensure_shared_network()
                volume = f"{self.instance}-{registry_id}-registry"
                self._ensure_volume(volume, registry_id, "registry", tags)
                api = self.client.api
                hc = api.create_host_config(
                    mounts=[Mount("/var/lib/docker-registry", volume, type="volume"),
                            Mount("/etc/lab-registry", str(d), type="bind", read_only=True)],
                    network_mode=shared.name, restart_policy={"Name": "unless-stopped"})
                netcfg = api.create_networking_config(
                    {shared.name: EndpointConfig(api._version, aliases=[fqdn])})
                try:
                    cid = api.create_container(self.registry_image, name=f"{self.instance}-registry-{registry_id}",
                                               hostname=_safe_hostname(fqdn.split(".")[0]), host_config=hc,
                                               networking_config=netcfg, detach=True,
                                               labels=self._labels(registry_id, "registry", tags))["Id"]
                except APIError as e:
                    raise DockerBackendError(f"registry {registry_id}: cannot create its container: "
                                             f"{e.explanation}") from None
                c = self.client.containers.get(cid)
            if c.status != "running":
                c.start()
            self._wait_running(c)
            self._wait_registry(registry_id)

    def _wait_registry(self, registry_id: str) -> None:
        deadline = time.monotonic() + REGISTRY_READY_TIMEOUT
        while True:
            ip = self.registry_address(registry_id)
            if ip:
                try:
                    with socket.create_connection((ip, 443), timeout=0.5):
                        return
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise DockerBackendError(f"registry {registry_id} does not answer on {ip}:443 "
                                         f"after {REGISTRY_READY_TIMEOUT} s")
            time.sleep(0.1)

    def registry_users_changed(self, registry_id: str, users: list[RegistryUser]) -> None:
        with self._lock(registry_id):
            d = self.registry_dir(registry_id)
            lines = "".join(f"{u.username}:{u.password_bcrypt}\n" for u in users)
            # the registry re-reads htpasswd when its mtime changes, so a rewrite is enough
            _write(d / "htpasswd", lines)

    def registry_deleted(self, registry_id: str) -> None:
        with self._lock(registry_id):
            for c in self.client.containers.list(all=True, filters=self._filters(registry_id)):
                self._remove_container(c)
            for v in self.client.volumes.list(filters=self._filters(registry_id)):
                self._remove_volume(v.name)
            shutil.rmtree(self.registry_dir(registry_id), ignore_errors=True)

    # ------------------------------------------------------------------ Docker Hub stand-in
    def _hub_container(self):
        cs = self.client.containers.list(all=True, filters=self._filters(HUB_RESOURCE, "hub"))
        return cs[0] if cs else None

    def hub_address(self) -> str | None:
        """The Docker Hub stand-in's IP on the shared network (VMs reach it as registry-1.docker.io etc.)."""
        c = self._hub_container()
        if c is None:
            return None
        return (c.attrs["NetworkSettings"]["Networks"].get(self.shared_network_name) or {}).get("IPAddress") or None

    def _ensure_hub(self) -> None:
        """Run the Docker Hub stand-in, seeded with library/debian:bookworm = lab/base:bookworm.
        Warm (container labelled with the current lab/base ID, config unchanged): a few inspects, no writes."""
        with self._lock(HUB_RESOURCE):
            d = self.hub_dir
            changed = self._issue_cert(HUB_NAMES, d)
            changed |= _write(d / "config.yml", HUB_CONFIG)
            _write(d / "seed.yml", HUB_SEED_CONFIG)
            try:
                base_id = self.client.images.get(self.base_image).id
            except NotFound:
                raise DockerBackendError(f"image {self.base_image} is missing (the Docker Hub stand-in serves it "
                                         f"as debian:bookworm); build it with `python -m emulator.images`") from None
            c = self._hub_container()
            if c is not None and c.labels.get(L_HUB_SEED) == base_id and not changed:
                if c.status != "running":
                    c.start()
                    self._wait_running(c)
                    self._wait_tcp(self.hub_address, 443, "the Docker Hub stand-in")
                return
            t0 = time.monotonic()
            if c is not None:
                self._remove_container(c)
            volume = f"{self.instance}-hub"
            self._ensure_volume(volume, HUB_RESOURCE, "hub", [])
            self._seed_hub(volume, d)
            shared = self._ensure_shared_network()
            api = self.client.api
            hc = api.create_host_config(
                mounts=[Mount("/var/lib/docker-registry", volume, type="volume"),
                        Mount("/etc/lab-registry", str(d), type="bind", read_only=True)],
                network_mode=shared.name, restart_policy={"Name": "unless-stopped"})
            netcfg = api.create_networking_config({shared.name: EndpointConfig(api._version, aliases=list(HUB_NAMES))})
            labels = {**self._labels(HUB_RESOURCE, "hub"), L_HUB_SEED: base_id}
            try:
                cid = api.create_container(self.registry_image, name=self.hub_container_name, hostname="hub",
                                           command=["/usr/bin/docker-registry", "serve", "/etc/lab-registry/config.yml"],
                                           host_config=hc, networking_config=netcfg, labels=labels, detach=True)["Id"]
            except APIError as e:
                raise DockerBackendError(f"cannot create the Docker Hub stand-in: {e.explanation}") from None
            c = self.client.containers.get(cid)
            c.start()
            self._wait_running(c)
            self._wait_tcp(self.hub_address, 443, "the Docker Hub stand-in")
            log.info("Docker Hub stand-in %s seeded with %s as debian:%s in %.1f s",
                     c.name, self.base_image, HUB_TAG, time.monotonic() - t0)

    def _seed_hub(self, volume: str, d: Path) -> None:
        """Push lab/base as library/debian:bookworm into the hub volume through a temporary plain-HTTP registry
        published on 127.0.0.1 (the host dockerd treats 127.0.0.0/8 registries as insecure: no daemon config)."""
        import urllib.request

        for old in self.client.containers.list(all=True, filters=self._filters(HUB_RESOURCE, "hub-seed")):
            self._remove_container(old)
        api = self.client.api
        hc = api.create_host_config(
            mounts=[Mount("/var/lib/docker-registry", volume, type="volume"),
                    Mount("/etc/lab-registry", str(d), type="bind", read_only=True)],
            port_bindings={5000: ("127.0.0.1", None)})
        cid = api.create_container(self.registry_image, name=f"{self.instance}-hub-seed", ports=[5000],
                                   command=["/usr/bin/docker-registry", "serve", "/etc/lab-registry/seed.yml"],
                                   host_config=hc, labels=self._labels(HUB_RESOURCE, "hub-seed"), detach=True)["Id"]
        repo = None
        try:
            api.start(cid)
            port = int(api.port(cid, 5000)[0]["HostPort"])
            deadline = time.monotonic() + REGISTRY_READY_TIMEOUT
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise DockerBackendError(f"the hub seeding registry does not answer on 127.0.0.1:{port}")
                time.sleep(0.1)
            repo = f"127.0.0.1:{port}/{HUB_REPO}"
            self.client.images.get(self.base_image).tag(repo, HUB_TAG)
            for chunk in self.client.images.push(repo, tag=HUB_TAG, stream=True, decode=True):
                if "error" in chunk or "errorDetail" in chunk:
                    msg = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
                    raise DockerBackendError(f"pushing {self.base_image} to the hub as {HUB_REPO}:{HUB_TAG}: {msg}")
        finally:
            if repo is not None:
                try:
                    self.client.images.remove(f"{repo}:{HUB_TAG}", noprune=True)
                except NotFound:
                    pass
            try:
                self.client.api.remove_container(cid, force=True, v=True)
            except NotFound:
                pass

    def _wait_tcp(self, address: Callable[[], str | None], port: int, what: str) -> None:
        deadline = time.monotonic() + REGISTRY_READY_TIMEOUT
        while True:
            ip = address()
            if ip:
                try:
                    with socket.create_connection((ip, port), timeout=0.5):
                        return
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise DockerBackendError(f"{what} does not answer on {ip}:{port} after {REGISTRY_READY_TIMEOUT} s")
            time.sleep(0.1)
