"""Find-or-create each cloud resource of a lab. The cloud is the state: exact name + tags."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict

from swarmlab.cloud.errors import (DuplicateResources, ForeignFilter, LabNotFound, NicMissing, RouterMismatch,
                                   RouterWithoutBlock)
from swarmlab.cloud.inventory import Inventory, ServerInfo
from swarmlab.cloud.lifecycle import (LabTearingDown, budget_tag, check_adoptable,
                                      expiry_tag, parse_budget, parse_expiry, parse_teardown)
from swarmlab.cloud.resources import Kind, LabResources
from swarmlab.hosts import KeyPair, KnownHosts
from swarmlab.render import filters as pf
from swarmlab.render.keepalived import edge_addresses
from swarmlab.render.startup import host_key_variable, render_startup_script
from swarmlab.sakura import NotFound, SakuraClient
from swarmlab.sakura.databases import database_plan_id
from swarmlab.sakura.disks import DiskEdit
from swarmlab.sakura.models import Disk, Internet, Server
from swarmlab.sakura.packet_filters import expression
from swarmlab.spec import LabSpec, Role, ServerSpec

log = logging.getLogger("swarmlab.cloud.provision")
BOOT_TIMEOUT_S = 900.0
DB_TIMEOUT_S = 3600.0     # Terraform's create timeout for a database appliance


def _one(found: list, what: str):
    if len(found) > 1:
        raise DuplicateResources(what, [r.id for r in found])
    return found[0] if found else None


def named(resources: list, name: str, what: str):
    """The one resource called `name` among `resources` (a lab snapshot), or None."""
    return _one([r for r in resources if r.name == name], f"{what} {name}")


def current(client: SakuraClient, kind: Kind, spec: LabSpec, name: str, snapshot_hit):
    """The resource as the snapshot saw it, or — when the snapshot had none — as the cloud has it now.

    The snapshot is taken once per run; a task retried after a failure must not trust its absence
    (the first attempt may have created the resource), so absence is re-checked right before creating.
    """
    if snapshot_hit is not None:
        return snapshot_hit
    return _one(Kind(kind).api(client).find(name=name, tags=spec.tags), f"{kind} {name}")


def ensure_switch(client: SakuraClient, spec: LabSpec, existing=None,
                  now: datetime | None = None) -> tuple[str, list[str], bool]:
    """The lab's switch: (id, tags every new resource gets, created?). Its expiry and budget tags are the lab's.

    Refuses (LabExpired / LabTearingDown, never retried) to adopt a lab whose expiry has passed or whose
    teardown has started: a retry must not rebuild what the cost guard is deleting.
    """
    now = now or datetime.now(timezone.utc)
    name = spec.resource_name("switch")
    sw = current(client, Kind.SWITCHES, spec, name, existing)
    if sw:
        check_adoptable(spec.name, sw.tags, now)
        expiry, budget = parse_expiry(sw.tags), parse_budget(sw.tags)
        tags = spec.tags + ([expiry_tag(expiry)] if expiry else []) + ([budget_tag(budget)] if budget is not None
                                                                         else [])
        return sw.id, tags, False
    tags = spec.tags + [expiry_tag(now + timedelta(hours=spec.ttl_hours)), budget_tag(spec.budget_yen)]
    return client.switches.create(name=name, tags=tags, description=f"swarmlab lab {spec.name} (profile {spec.profile})").id, tags, True


def assert_not_torn_down(client: SakuraClient, spec: LabSpec, switch_id: str) -> None:
    """Before creating anything: the lab's switch still exists and carries no teardown marker.

    Every create of provision calls this right before it, so a build racing a teardown stops feeding it.
    """
    try:
        sw = client.switches.get(switch_id)
    except NotFound:
        raise LabTearingDown(spec.name, None) from None
    since = parse_teardown(sw.tags)
    if since is not None:
        raise LabTearingDown(spec.name, since)


def ensure_note(client: SakuraClient, spec: LabSpec, *, switch_id: str, tags: list[str],
                existing=None) -> tuple[str, bool]:
    """The startup-script note the servers' disk edit refers to."""
    existing = current(client, Kind.NOTES, spec, spec.resource_name("startup"), existing)
    if existing:
        return existing.id, False
    assert_not_torn_down(client, spec, switch_id)
    return client.notes.create(name=spec.resource_name("startup"), tags=tags,
                               content=render_startup_script(spec)).id, True


def ensure_router(client: SakuraClient, spec: LabSpec, *, switch_id: str, tags: list[str],
                  existing=None) -> tuple[Internet, bool]:
    """An `edge: pair` lab's router+switch `<lab>-router` (its block per `spec.router`): (router, created?).
    The HAProxy pair's public NICs and the VIP take addresses of its block."""
    name = spec.resource_name("router")
    rt = current(client, Kind.INTERNETS, spec, name, existing)
    if rt:
        if rt.network_mask_len != spec.router.mask_len:
            raise RouterMismatch(name, rt.id, f"a /{rt.network_mask_len} block", f"/{spec.router.mask_len}")
        return rt, False
    assert_not_torn_down(client, spec, switch_id)
    rt = client.internets.create(name, tags, mask_len=spec.router.mask_len,
                                 band_width_mbps=spec.router.band_width_mbps, description=f"swarmlab lab {spec.name}")
    log.info("created router+switch %s (%s): %s", name, rt.id, rt.subnet.network if rt.subnet else "no block yet")
    return rt, True


def check_exposure(spec: LabSpec) -> None:
    """Before anything is created: the seed profile needs admin_cidrs (AdminCidrsRequired names the field)."""
    if spec.profile != "local":
        pf.admin_cidrs(spec, None)


def ensure_filters(client: SakuraClient, spec: LabSpec, wanted: list[pf.FilterSpec]) -> dict[str, str]:
    """The lab's packet filters (exact name + the lab's marker in Description), created or brought up to
    date from one listing: {name: id}."""
    have = [x for x in client.packet_filters.find_raw({"Name": spec.resource_name("filter")})]
    ids = {}
    for f in wanted:
        same = [client.packet_filters.model.model_validate(x) for x in have if x.get("Name") == f.name]
        foreign = [x.id for x in same if not pf.owned(spec.name, x.name, x.description)]
        if foreign:
            raise ForeignFilter(f.name, foreign, spec.name)
        cur = _one(same, f"packet filter {f.name}")
        if cur is None:
            cur = client.packet_filters.create(f.name, f.rules, description=f.description)
            log.info("created packet filter %s (%s)", f.name, cur.id)
        elif expression(cur.expression) != expression(f.rules):
            cur = client.packet_filters.update(cur.id, f.rules, description=f.description)
            log.info("updated packet filter %s (%s)", f.name, cur.id)
        ids[f.name] = cur.id
    return ids


class RouterNIC(BaseModel):
    """NIC 0 of an `edge: pair` HAProxy: on the router's switch at its address of the block."""
    model_config = ConfigDict(frozen=True)
    switch_id: str
    address: str
    mask_len: int
    gateway: str


def router_nic(spec: LabSpec, server: ServerSpec, router: Internet | None) -> RouterNIC | None:
    """The public NIC a server of `spec` gets on the router (`render.keepalived.edge_addresses`); None for a
    server on the shared segment."""
    if spec.edge != "pair" or server.role != Role.haproxy:
        return None
    if router is None or router.subnet is None or router.subnet.network is None:
        raise RouterWithoutBlock(spec.resource_name("router"), router.id if router else None,
                                 spec.server_name(server))
    block = router.subnet.network
    _, pair = edge_addresses(block)
    return RouterNIC(switch_id=router.switch_id, address=str(pair[server.index - 1]), mask_len=block.prefixlen,
                     gateway=router.subnet.default_route or str(block.network_address + 1))


class LabFilters:
    """The lab's packet filters for one provision run: ensured once per rendering, under a lock, so the
    server tasks of the run (which share this object) make one listing and never create a filter twice.
    `router`: an `edge: pair` lab's router+switch (the pair's filter lets the pair's VRRP through)."""

    def __init__(self, client: SakuraClient, spec: LabSpec, router: Internet | None = None):
        self.client, self.spec = client, spec
        self.pair = edge_addresses(router.subnet.network)[1] if router and router.subnet else []
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, ...], dict[str, str]] = {}

    def ids(self, shared_gateway: str | None, *, edge: bool = False) -> dict[str, str]:
        """{name: id} of the filters for servers whose public NIC's default route is `shared_gateway`: both
        filters on a single edge (every server is on the shared segment); on a pair, the servers' filter, or
        with `edge` the HAProxys' (their gateway is the router's)."""
        admins = pf.admin_cidrs(self.spec, shared_gateway)
        if self.spec.edge == "single":
            wanted = pf.render_filters(self.spec, admins)
        elif edge:
            wanted = [pf.render_filter(self.spec, Role.haproxy, admins, self.pair)]
        else:
            wanted = [pf.render_filter(self.spec, Role.manager, admins)]
        key = tuple(f.model_dump_json() for f in wanted)
        with self._lock:
            if key not in self._ids:
                self._ids[key] = ensure_filters(self.client, self.spec, wanted)
            return self._ids[key]


class ServerCreate(BaseModel):
    """What one server's creation needs beyond the spec: what the run found or made before it.

    `existing` / `existing_disk` come from the run's snapshot of the lab; `host_key` is the server's own
    SSH host key (derived from the API secret), None to ship none.
    """
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    server: ServerSpec
    switch_id: str
    tags: list[str]
    archive_id: str
    note_id: str
    public_key: str
    existing: Server | None = None
    existing_disk: Disk | None = None
    host_key: KeyPair | None = None
    router_nic: RouterNIC | None = None


def ensure_server(client: SakuraClient, spec: LabSpec, want: ServerCreate, pins: KnownHosts | None = None,
                  filters: LabFilters | None = None) -> tuple[ServerInfo, bool]:
    """Server with a public NIC (shared segment, or `want.router_nic`) and a lab-switch NIC, a disk edited for it,
    powered on. Resumes any half-done state.

    A server the snapshot found finished costs no request. `want.host_key` is pinned in `pins` under the
    server's ID before its disk exists, and travels to the server only in this disk's note variables
    (`HOST_KEY`). An existing disk keeps its pin (a lab from before host keys were shipped keeps the key it
    was first seen with). `filters`: the run's, shared by its server tasks (None: this call's own).
    """
    server, switch_id, tags, host_key, rn = want.server, want.switch_id, want.tags, want.host_key, want.router_nic
    name = spec.server_name(server)
    changed = False
    srv = current(client, Kind.SERVERS, spec, name, want.existing)
    if not srv:
        assert_not_torn_down(client, spec, switch_id)
        srv = client.servers.create(name=name, tags=tags, cpu=spec.plan.cpu, memory_gb=spec.plan.memory_gb,
                                    switch_ids=[switch_id], description=f"swarmlab {server.role.value}",
                                    nic0_switch=rn.switch_id if rn else None)
        changed = True
    for sw, ip, what in [(switch_id, str(server.private_ip), f"the lab switch {switch_id}")] + (
            [(rn.switch_id, rn.address, f"the router's switch {rn.switch_id}")] if rn else []):
        nic = next((n for n in srv.interfaces if n.switch_id == sw), None)
        if nic is None:
            raise NicMissing(name, srv.id, what)
        if nic.user_ip_address != ip:
            client.interfaces.set_user_ip(nic.id, ip)
            changed = True
    changed = _ensure_filter_on(client, filters or LabFilters(client, spec), spec, want, srv) or changed
    disk_name = f"{name}-disk"
    disk = current(client, Kind.DISKS, spec, disk_name, want.existing_disk)
    if host_key is not None and pins is not None and (not disk or pins.get(srv.id) is None):
        kind, b64 = host_key.public_key.split()[:2]
        pins.pin(srv.id, kind, b64, host=name, replace=not disk)  # a new disk gets this key, whatever was pinned
    if not disk:
        assert_not_torn_down(client, spec, switch_id)
        variables = {"PRIVATE_IP": str(server.private_ip), "MASK_LEN": str(spec.subnet.prefixlen)}
        if host_key is not None:
            variables["HOST_KEY"] = host_key_variable(host_key.private_key)
        nic0 = dict(user_ip=rn.address, mask_len=rn.mask_len, default_route=rn.gateway) if rn else {}
        edit = DiskEdit(host_name=name, ssh_public_keys=[want.public_key], notes=[(want.note_id, variables)], **nic0)
        disk = client.disks.create(name=disk_name, tags=tags, archive_id=want.archive_id, server_id=srv.id,
                                   size_gb=spec.plan.disk_gb, plan=spec.plan.disk_plan, config=edit)
        changed = True
    if disk.availability != "available":
        client.disks.wait_available(disk.id, timeout_s=BOOT_TIMEOUT_S)
        srv = client.servers.get(srv.id)
    if srv.status != "up":
        client.servers.power_on(srv.id)
        srv = client.servers.wait_up(srv.id, timeout_s=BOOT_TIMEOUT_S)
        changed = True
    info = ServerInfo(name=name, role=server.role, id=srv.id, address=public_address(srv, switch_id),
                      private_ip=str(server.private_ip), status=srv.status)
    return info, changed


def public_address(srv: Server, lab_switch_id: str) -> str | None:
    """The server's public address: its shared-segment IP, or its address on a router's switch."""
    return next((n.ip_address or n.user_ip_address for n in srv.interfaces
                 if n.switch_id != lab_switch_id and (n.ip_address or n.user_ip_address)), None)


def _ensure_filter_on(client: SakuraClient, filters: LabFilters, spec: LabSpec, want: ServerCreate, srv) -> bool:
    """Attach the role's filter to the public NIC (shared, or the router's; before the first boot); True if it
    changed."""
    rn, role = want.router_nic, want.server.role
    nic = next((n for n in srv.interfaces if (n.switch_id == rn.switch_id if rn else n.is_shared)), None)
    if nic is None:
        raise NicMissing(srv.name, srv.id, f"the router's switch {rn.switch_id}" if rn else "the shared segment",
                         then="re-run")
    if rn:
        gateway = rn.gateway
    else:
        gateway = nic.switch.user_subnet.default_route if nic.switch.user_subnet else None
    fid = filters.ids(gateway, edge=rn is not None)[pf.filter_name(spec, role)]
    if nic.packet_filter is not None and nic.packet_filter.id == fid:
        return False
    client.packet_filters.attach(nic.id, fid)
    return True


def ensure_nfs(client: SakuraClient, spec: LabSpec, *, switch_id: str, tags: list[str],
               existing=None) -> tuple[str, bool]:
    """The NFS appliance on the lab switch at the spec's address, up."""
    name = spec.resource_name("nfs")
    nfs = current(client, Kind.NFS, spec, name, existing)
    changed = False
    if not nfs:
        assert_not_torn_down(client, spec, switch_id)
        plan_id = client.nfs.plan_id(spec.nfs.plan, spec.nfs.size_gb)
        nfs = client.nfs.create(name=name, tags=tags, switch_id=switch_id, ip=str(spec.nfs.ip),
                                mask_len=spec.subnet.prefixlen, default_route=str(spec.gateway_ip), plan_id=plan_id)
        changed = True
    if changed or nfs.status != "up":
        client.nfs.wait_up(nfs.id, timeout_s=BOOT_TIMEOUT_S)
    return nfs.id, changed


DB_USER = "app"   # the stack's database user (render/stack.py DB_USER); the appliance gives it a database of its name


def ensure_database(client: SakuraClient, spec: LabSpec, *, switch_id: str, tags: list[str], password,
                    existing=None) -> tuple[str, bool]:
    """A `database: appliance` lab's database appliance on the lab switch, accepting connections: (id, created?).
    `password` (derived, SecretStr) goes only into the API body; an adopted appliance keeps its settings."""
    name = spec.resource_name("db")
    db = current(client, Kind.DATABASES, spec, name, existing)
    changed = False
    if not db:
        assert_not_torn_down(client, spec, switch_id)
        db = client.databases.create(
            name=name, tags=tags, switch_id=switch_id, ip=str(spec.db_appliance_ip), mask_len=spec.subnet.prefixlen,
            default_route=str(spec.gateway_ip), plan_id=database_plan_id(spec.db_appliance.plan), user=DB_USER,
            password=password, port=spec.db_appliance.port, source_networks=[str(spec.subnet)],
            description=f"swarmlab lab {spec.name}: the stack's database")
        changed = True
    if changed or db.status != "up":
        client.databases.wait_ready(db.id, timeout_s=DB_TIMEOUT_S)
    return db.id, changed


def ensure_registry(client: SakuraClient, spec: LabSpec, *, switch_id: str, tags: list[str], password,
                    existing=None) -> tuple[str, str, bool]:
    """The container registry and its user: (id, fqdn, created anything?)."""
    name = spec.resource_name("registry")
    reg = current(client, Kind.REGISTRIES, spec, name, existing)
    changed = False
    if not reg:
        assert_not_torn_down(client, spec, switch_id)
        reg = client.registries.create(name=name, tags=tags, registry_name=spec.registry.name)
        changed = True
    if spec.registry.user not in {u.username for u in client.registries.users(reg.id)}:
        client.registries.add_user(reg.id, spec.registry.user, password, permission="all")
        changed = True
    if not reg.fqdn:
        reg = client.registries.get(reg.id)
    return reg.id, reg.fqdn, changed


def discover(client: SakuraClient, spec: LabSpec) -> Inventory:
    """The inventory of an existing lab in the client's zone, read-only; raises naming what is missing (run
    provision)."""
    def need(kind: Kind, name: str):
        found = _one(kind.api(client).find(name=name, tags=spec.tags), name)
        if found is None:
            raise LabNotFound(spec.name, name, spec.zone)
        return found

    switch = need(Kind.SWITCHES, spec.resource_name("switch"))
    servers = []
    for s in spec.servers:
        srv = need(Kind.SERVERS, spec.server_name(s))
        servers.append(ServerInfo(name=srv.name, role=s.role, id=srv.id, address=public_address(srv, switch.id),
                                  private_ip=str(s.private_ip), status=srv.status))
    nfs = need(Kind.NFS, spec.resource_name("nfs"))
    reg = need(Kind.REGISTRIES, spec.resource_name("registry"))
    rt = need(Kind.INTERNETS, spec.resource_name("router")) if spec.edge == "pair" else None
    db = need(Kind.DATABASES, spec.resource_name("db")) if spec.database == "appliance" else None
    return Inventory(lab=spec.name, zone=client.zone, switch_id=switch.id, servers=servers, nfs_id=nfs.id,
                     nfs_ip=str(spec.nfs.ip), registry_id=reg.id, registry_fqdn=reg.fqdn,
                     registry_user=spec.registry.user, unchanged=[s.name for s in servers],
                     router_id=rt.id if rt else None,
                     router_block=str(rt.subnet.network) if rt and rt.subnet else None,
                     db_id=db.id if db else None,
                     db_address=f"{db.ip}:{db.port or spec.db_appliance.port}" if db else None)


def missing(found: LabResources, spec: LabSpec) -> list[str]:
    """What provision would still create for `spec`, given the lab's resources."""
    want = [(Kind.SWITCHES, spec.resource_name("switch")), (Kind.NOTES, spec.resource_name("startup")),
            (Kind.NFS, spec.resource_name("nfs")), (Kind.REGISTRIES, spec.resource_name("registry"))]
    if spec.edge == "pair":
        want.append((Kind.INTERNETS, spec.resource_name("router")))
    if spec.database == "appliance":
        want.append((Kind.DATABASES, spec.resource_name("db")))
    want += [(Kind.SERVERS, spec.server_name(s)) for s in spec.servers]
    want += [(Kind.DISKS, f"{spec.server_name(s)}-disk") for s in spec.servers]
    have = {(kind, r.name) for kind, _ in want for r in found.of(kind)}
    return [name for kind, name in want if (kind, name) not in have]
