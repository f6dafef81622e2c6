"""Find-or-create each cloud resource of a lab. The cloud is the state: exact name + tags."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from swarmlab.sakura import SakuraClient
from swarmlab.sakura.disks import DiskEdit
from swarmlab.inventory import ServerInfo
from swarmlab.render.startup import render_startup_script
from swarmlab.spec import LAB_TAG, LabSpec, ServerSpec

log = logging.getLogger("swarmlab.provision")
EXPIRES_PREFIX = f"{LAB_TAG}-expires="
BOOT_TIMEOUT_S = 900.0


def expiry_tag(at: datetime) -> str:
    return EXPIRES_PREFIX + at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def parse_expiry(tags: list[str]) -> datetime | None:
    """The expiry a resource carries, if any."""
    for t in tags:
        if t.startswith(EXPIRES_PREFIX):
            return datetime.strptime(t[len(EXPIRES_PREFIX):], "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)
    return None


def _one(found: list, what: str):
    if len(found) > 1:
        ids = ", ".join(r.id for r in found)
        raise RuntimeError(f"{what}: {len(found)} resources carry this exact name and the lab's tags ({ids}); "
                           f"delete the extra ones (teardown_lab removes all of them)")
    return found[0] if found else None


def ensure_switch(client: SakuraClient, spec: LabSpec, now: datetime | None = None) -> tuple[str, list[str], bool]:
    """The lab's switch: (id, tags every new resource gets, created?). Its expiry tag is the lab's."""
    name = spec.resource_name("switch")
    sw = _one(client.switches.find(name=name, tags=spec.tags), f"switch {name}")
    if sw:
        expiry = parse_expiry(sw.tags)
        tags = spec.tags + ([expiry_tag(expiry)] if expiry else [])
        return sw.id, tags, False
    at = (now or datetime.now(timezone.utc)) + timedelta(hours=spec.ttl_hours)
    tags = spec.tags + [expiry_tag(at)]
    return client.switches.create(name=name, tags=tags, description=f"swarmlab lab {spec.name}").id, tags, True


def ensure_note(client: SakuraClient, spec: LabSpec, tags: list[str]) -> tuple[str, bool]:
    """The startup-script note the servers' disk edit refers to."""
    name = spec.resource_name("startup")
    note = _one(client.notes.find(name=name, tags=spec.tags), f"note {name}")
    if note:
        return note.id, False
    return client.notes.create(name=name, tags=tags, content=render_startup_script(spec)).id, True


def ensure_server(client: SakuraClient, spec: LabSpec, server: ServerSpec, *, switch_id: str, tags: list[str],
                  archive_id: str, note_id: str, public_key: str) -> tuple[ServerInfo, bool]:
    """Server with a shared NIC and a switch NIC, a disk edited for it, powered on. Resumes any half-done state."""
    name = spec.server_name(server)
    changed = False
    srv = _one(client.servers.find(name=name, tags=spec.tags), f"server {name}")
    if not srv:
        srv = client.servers.create(name=name, tags=tags, cpu=spec.plan.cpu, memory_gb=spec.plan.memory_gb,
                                    switch_ids=[switch_id], description=f"swarmlab {server.role.value}")
        changed = True
    nic = next((n for n in srv.interfaces if n.switch_id == switch_id), None)
    if nic is None:
        raise RuntimeError(f"server {name} ({srv.id}) has no NIC on the lab switch {switch_id}; "
                           f"delete it and re-run provision")
    if nic.user_ip_address != str(server.private_ip):
        client.interfaces.set_user_ip(nic.id, str(server.private_ip))
        changed = True
    disk_name = f"{name}-disk"
    disk = _one(client.disks.find(name=disk_name, tags=spec.tags), f"disk {disk_name}")
    if not disk:
        edit = DiskEdit(host_name=name, ssh_public_keys=[public_key],
                        notes=[(note_id, {"PRIVATE_IP": str(server.private_ip),
                                          "MASK_LEN": str(spec.subnet.prefixlen)})])
        disk = client.disks.create(name=disk_name, tags=tags, archive_id=archive_id, server_id=srv.id,
                                   size_gb=spec.plan.disk_gb, plan=spec.plan.disk_plan, config=edit)
        changed = True
    client.disks.wait_available(disk.id, timeout_s=BOOT_TIMEOUT_S)
    srv = client.servers.get(srv.id)
    if srv.status != "up":
        client.servers.power_on(srv.id)
        srv = client.servers.wait_up(srv.id, timeout_s=BOOT_TIMEOUT_S)
        changed = True
    shared = next((n.ip_address for n in srv.interfaces if n.switch_id != switch_id and n.ip_address), None)
    info = ServerInfo(name=name, role=server.role, id=srv.id, address=shared, private_ip=str(server.private_ip),
                      status=srv.status)
    return info, changed


def ensure_nfs(client: SakuraClient, spec: LabSpec, *, switch_id: str, tags: list[str]) -> tuple[str, bool]:
    """The NFS appliance on the lab switch at the spec's address, up."""
    name = spec.resource_name("nfs")
    nfs = _one(client.nfs.find(name=name, tags=spec.tags), f"NFS {name}")
    changed = False
    if not nfs:
        plan_id = client.nfs.plan_id(spec.nfs.plan, spec.nfs.size_gb)
        nfs = client.nfs.create(name=name, tags=tags, switch_id=switch_id, ip=str(spec.nfs.ip),
                                mask_len=spec.subnet.prefixlen, default_route=str(spec.gateway_ip), plan_id=plan_id)
        changed = True
    client.nfs.wait_up(nfs.id, timeout_s=BOOT_TIMEOUT_S)
    return nfs.id, changed


def ensure_registry(client: SakuraClient, spec: LabSpec, *, tags: list[str], password) -> tuple[str, str, bool]:
    """The container registry and its user: (id, fqdn, created anything?)."""
    name = spec.resource_name("registry")
    reg = _one(client.registries.find(name=name, tags=spec.tags), f"registry {name}")
    changed = False
    if not reg:
        reg = client.registries.create(name=name, tags=tags, registry_name=spec.registry.name)
        changed = True
    if spec.registry.user not in {u.username for u in client.registries.users(reg.id)}:
        client.registries.add_user(reg.id, spec.registry.user, password, permission="all")
        changed = True
    reg = client.registries.get(reg.id)
    return reg.id, reg.fqdn, changed


def discover(client: SakuraClient, spec: LabSpec) -> "Inventory":
    """The inventory of an existing lab, read-only; raises naming what is missing (run provision)."""
    from swarmlab.inventory import Inventory

    def need(kind: str, name: str):
        found = _one(getattr(client, kind).find(name=name, tags=spec.tags), name)
        if found is None:
            raise LookupError(f"lab {spec.name}: {name} does not exist in {spec.zone}; run provision first")
        return found

    switch = need("switches", spec.resource_name("switch"))
    servers = []
    for s in spec.servers:
        srv = need("servers", spec.server_name(s))
        shared = next((n.ip_address for n in srv.interfaces if n.switch_id != switch.id and n.ip_address), None)
        servers.append(ServerInfo(name=srv.name, role=s.role, id=srv.id, address=shared,
                                  private_ip=str(s.private_ip), status=srv.status))
    nfs = need("nfs", spec.resource_name("nfs"))
    reg = need("registries", spec.resource_name("registry"))
    return Inventory(lab=spec.name, zone=spec.zone, switch_id=switch.id, servers=servers, nfs_id=nfs.id,
                     nfs_ip=str(spec.nfs.ip), registry_id=reg.id, registry_fqdn=reg.fqdn,
                     registry_user=spec.registry.user, unchanged=[s.name for s in servers])
