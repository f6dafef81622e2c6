"""provision: switch → servers ∥ (host key pinned → disk + startup script + SSH keys), NFS, database appliance
(`database: appliance`), registry + user.
Each server's shared NIC gets the lab's packet filter before its first boot (swarmlab.cloud.provision)."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, wait

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from flows.naming import TIMEOUT_S, run_name
from flows import artifacts
from flows.lock import lab_lock
from flows.session import LabSession
from swarmlab.cost import markdown_estimate
from swarmlab.cloud.inventory import Inventory
from swarmlab.cloud.provision import LabFilters, ServerCreate, check_exposure, named, router_nic
from swarmlab.cloud.secrets import host_key
from swarmlab.sakura.wait import Poll
from swarmlab.spec import LabSpec, local
from tasks import cost
from tasks import provision as t


@flow(name="provision", task_runner=ThreadPoolTaskRunner(max_workers=12), flow_run_name=run_name("provision"),
      timeout_seconds=TIMEOUT_S["provision"])
def provision(spec: LabSpec = local(), credentials: str | None = None, ssh_key: str | None = None) -> Inventory:
    """Create (or adopt) every cloud resource of the lab; a re-run of a complete lab changes nothing."""
    with lab_lock(spec.name):
        return _provision(spec, credentials, ssh_key)


def _provision(spec: LabSpec, credentials: str | None, ssh_key: str | None) -> Inventory:
    log = get_run_logger()
    with LabSession(spec, credentials, log, ssh_key) as lab:
        return _provision_lab(lab, log)


def server_progress(finished: int, failed: int, total: int) -> str:
    """The note of the servers' wait: "4 up, 3 booting" (a server task ends when its server is up)."""
    parts = [f"{finished - failed} up", f"{total - finished} creating or booting"]
    return ", ".join(parts + ([f"{failed} failed"] if failed else []))


def watch_servers(futures: list, timeout_s: float = TIMEOUT_S["provision"]) -> None:
    """Until every server task has ended, or one has failed (the flow fails on it at once, as it did before the
    watch): "waiting for 7 servers: 4 up, 3 creating or booting, 35 s" at INFO on each change and every 10 s
    (Poll). Reads the task futures only (no API call); their results are read after."""
    def until_one_ends(seconds: float) -> None:  # Poll's sleep: wakes as soon as a server task ends
        wait([f.wrapped_future for f in futures if not f.wrapped_future.done()], seconds, FIRST_COMPLETED)

    for attempt in Poll(f"{len(futures)} servers", timeout_s, interval_s=5.0, sleep=until_one_ends):
        ended = [f.wrapped_future for f in futures if f.wrapped_future.done()]
        failed = sum(1 for w in ended if w.exception() or not w.result().is_completed())  # result(): the final state
        attempt.note(server_progress(len(ended), failed, len(futures)))
        if failed or len(ended) == len(futures):
            return


def _provision_lab(lab: LabSession, log) -> Inventory:
    spec, client = lab.spec, lab.client
    check_exposure(spec)  # the seed profile names admin_cidrs before anything is created
    public_key = spec.ssh_public_key or lab.key_pair().public_key

    have = t.snapshot(client, spec)
    estimate = cost.budget_gate(client, spec, have)  # only when something is to be created; OverBudget stops here
    if estimate is not None:
        create_markdown_artifact(key=f"{spec.name}-estimate", markdown=markdown_estimate(estimate),
                                 description=f"Lab {spec.name}: estimate before building")
        log.info("estimate %s: %g yen for %g h (budget %d yen)", spec.name, estimate.total, estimate.hours,
                 spec.budget_yen)
    switch_id, tags, switch_created = t.ensure_switch(
        client, spec, named(have.switches, spec.resource_name("switch"), "switch"))
    archive = t.find_archive.submit(client, spec)
    note = t.ensure_note.submit(client, spec, switch_id, tags, named(have.notes, spec.resource_name("startup"), "note"))
    nfs = t.ensure_nfs.submit(client, spec, switch_id, tags, named(have.nfs, spec.resource_name("nfs"), "NFS"))
    registry = t.ensure_registry.submit(client, spec, switch_id, tags,
                                        lab.secret("registry"),
                                        named(have.registries, spec.resource_name("registry"), "registry"))
    database = (t.ensure_database.submit(client, spec, switch_id, tags, lab.secret("db"),
                                         named(have.databases, spec.resource_name("db"), "database"))
                if spec.database == "appliance" else None)
    router = (t.ensure_router.submit(client, spec, switch_id, tags,
                                     named(have.internets, spec.resource_name("router"), "router+switch"))
              if spec.edge == "pair" else None)
    archive_id = archive.result()
    note_id, note_created = note.result()
    rt, rt_created = router.result() if router is not None else (None, False)  # a pair's NIC0 is on its switch
    servers = []
    filters = LabFilters(client, spec, rt)  # one listing of the lab's filters, shared by the server tasks
    for s in spec.servers:
        name = spec.server_name(s)
        want = ServerCreate(server=s, switch_id=switch_id, tags=tags, archive_id=archive_id, note_id=note_id,
                            public_key=public_key, existing=named(have.servers, name, "server"),
                            existing_disk=named(have.disks, f"{name}-disk", "disk"),
                            host_key=host_key(lab.creds.access_token_secret, spec.name, name),
                            router_nic=router_nic(spec, s, rt))
        servers.append(t.ensure_server.submit(client, spec, want, filters))

    watch_servers(servers)
    for fut in servers:  # a failed server fails the flow before the others are waited for (the final state
        # from the task runner's future: `fut.state` would ask the Prefect server, once per server)
        if fut.wrapped_future.done() and not fut.wrapped_future.result().is_completed():
            fut.result()
    created, unchanged = [], []
    (created if switch_created else unchanged).append(spec.resource_name("switch"))
    (created if note_created else unchanged).append(spec.resource_name("startup"))
    infos = []
    for fut in servers:
        info, changed = fut.result()
        infos.append(info)
        (created if changed else unchanged).append(info.name)
    nfs_id, nfs_changed = nfs.result()
    (created if nfs_changed else unchanged).append(spec.resource_name("nfs"))
    registry_id, fqdn, reg_changed = registry.result()
    (created if reg_changed else unchanged).append(spec.resource_name("registry"))
    db_id, db_created = database.result() if database is not None else (None, False)
    if db_id is not None:
        (created if db_created else unchanged).append(spec.resource_name("db"))
    if rt is not None:
        (created if rt_created else unchanged).append(spec.resource_name("router"))

    inventory = Inventory(lab=spec.name, zone=spec.zone, switch_id=switch_id, servers=infos, nfs_id=nfs_id,
                          nfs_ip=str(spec.nfs.ip), registry_id=registry_id, registry_fqdn=fqdn,
                          registry_user=spec.registry.user, created=created, unchanged=unchanged,
                          router_id=rt.id if rt else None, db_id=db_id,
                          db_address=f"{spec.db_appliance_ip}:{spec.db_appliance.port}" if db_id else None,
                          router_block=str(rt.subnet.network) if rt and rt.subnet else None)
    artifacts.inventory_table(inventory, f"Lab {spec.name}: {'changed: ' + ', '.join(created) if created else 'unchanged'}")
    log.info("provision %s: %s", spec.name, f"created/changed {created}" if created else "unchanged")
    return inventory
