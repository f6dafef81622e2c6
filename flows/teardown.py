"""teardown_lab: check the lab's protection, plan, delete only what the lab owns, and prove nothing is left."""

from __future__ import annotations

from datetime import datetime, timezone

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from flows.lock import lab_lock
from flows.naming import TIMEOUT_S, run_name
from flows.session import CloudSession
from swarmlab.cloud import lifecycle as lc
from swarmlab.cloud import teardown as lib
from swarmlab.cloud.resources import FILTERS, KINDS, Kind, LabResources
from tasks import teardown as t


def _lifecycle(found: LabResources) -> lc.Lifecycle:
    return lc.lab_lifecycle([x for s in found.switches for x in s.tags],
                            [r.tags for kind in KINDS for r in found.of(kind)])


def _nfs_data(client, found: LabResources, known: dict[str, int | None]) -> dict[str, int | None]:
    futures = {str(n.id): t.nfs_data_bytes.submit(client, n) for n in found.nfs if str(n.id) not in known}
    return {**known, **{i: f.result() for i, f in futures.items()}}


def _total(found: LabResources, data: dict[str, int | None]) -> int | None:
    values = [data.get(str(n.id)) for n in found.nfs]
    return None if not values or None in values else sum(values)


@flow(name="teardown-lab", task_runner=ThreadPoolTaskRunner(max_workers=12), flow_run_name=run_name("teardown", "lab"),
      timeout_seconds=TIMEOUT_S["teardown"])
def teardown_lab(lab: str, zone: str | None = None, credentials: str | None = None, *,
                 dry_run: bool = False, force: bool = False, lock_timeout_s: float | None = None) -> lib.TeardownReport:
    """Read the lab's lifecycle tags (protected or unreadable → LabProtected / LabTagUnreadable unless
    `force`), plan every deletion in order (`dry_run` stops here: nothing deleted, no marker), mark the
    switch, then servers (their own disks with them; foreign disks detached, NICs on foreign switches
    disconnected, both left) ∥ NFS (its data logged first) ∥ database appliance → leftover disks → registry, notes, packet filters →
    switch; list again: must be empty. NotFound counts as done. The deleted servers' host-key pins are forgotten.
    Holds the lab's lock (flows/lock.py; `lock_timeout_s` bounds the wait for it: LabBusy), except for a dry
    run, which only reads."""
    if dry_run:
        return _teardown_lab(lab, zone, credentials, dry_run=True, force=force)
    with lab_lock(lab, timeout_s=lock_timeout_s):
        return _teardown_lab(lab, zone, credentials, dry_run=False, force=force)


def _teardown_lab(lab: str, zone: str | None, credentials: str | None, *, dry_run: bool,
                  force: bool) -> lib.TeardownReport:
    log = get_run_logger()
    with CloudSession.open(lab, zone, credentials, log) as api:
        return _teardown(log, api.client, lab, api.zone, dry_run=dry_run, force=force)


def _teardown(log, client, lab: str, zone: str, *, dry_run: bool, force: bool) -> lib.TeardownReport:
    found = t.find_lab(client, lab)
    life = _lifecycle(found)
    if force:
        if life.protected(datetime.now(timezone.utc)) or life.unreadable:
            log.warning("teardown %s forced over its lifecycle tags: protected until %s%s", lab,
                        life.protect_value or "-", "".join(f"; {u}" for u in life.unreadable))
    else:
        lc.check_teardown(lab, life, datetime.now(timezone.utc))
    data = _nfs_data(client, found, {})
    if dry_run:
        return _finish(log, lib.TeardownReport(
            lab=lab, zone=zone, dry_run=True, forced=force, plan=[str(s) for s in lib.plan_teardown(found, data)],
            nfs_data_bytes=_total(found, data), warnings=[lib.data_warning(n.name, data[str(n.id)]) for n in found.nfs]))

    t.mark_teardown(client, lab)  # provision refuses to adopt the lab from now on
    found = t.find_lab(client, lab)  # as it is now that nothing new is created
    data = _nfs_data(client, found, data)
    plan = lib.plan_teardown(found, data)
    for step in plan:
        log.info("teardown %s plan: %s", lab, step)
    warnings = [lib.data_warning(n.name, data[str(n.id)]) for n in found.nfs]
    for w in warnings:
        log.warning("%s", w)

    owned_disks = {str(d.id) for d in found.disks}
    lab_switches = found.lab_switch_ids
    first = [t.delete_server.submit(client, s, owned_disks, lab_switches) for s in found.servers]
    first += [t.delete_nfs.submit(client, n) for n in found.nfs]
    first += [t.delete_database.submit(client, d) for d in found.databases]
    outcomes = [f.result() for f in first]
    t.forget_host_keys(lab, [server.id for server in found.servers])  # a deleted server's key means nothing now
    rest = t.find_lab(client, lab) if first else found  # disks went with their servers
    second = [t.delete_simple.submit(client, kind, r) for kind in (Kind.DISKS, Kind.REGISTRIES, Kind.NOTES, FILTERS)
              for r in rest.of(kind)]
    outcomes += [f.result() for f in second]
    outcomes += [t.delete_simple(client, Kind.INTERNETS, r) for r in rest.internets]
    outcomes += [t.delete_simple(client, Kind.SWITCHES, s) for s in rest.switches]

    left = t.find_lab(client, lab)
    if not left.empty:
        raise RuntimeError(f"teardown of lab {lab} in {zone} left {', '.join(left.names())}; re-run teardown_lab")
    return _finish(log, lib.TeardownReport(
        lab=lab, zone=zone, dry_run=False, forced=force, plan=[str(s) for s in plan],
        deleted=[x for o in outcomes for x in o.deleted], detached=[x for o in outcomes for x in o.detached],
        already_gone=[x for o in outcomes for x in o.gone], nfs_data_bytes=_total(found, data),
        data_destroyed=bool(found.nfs), warnings=warnings))


def _finish(log, report: lib.TeardownReport) -> lib.TeardownReport:
    create_markdown_artifact(key=f"{report.lab}-teardown", markdown=report.markdown(),
                             description=f"teardown of {report.lab}{' (dry run)' if report.dry_run else ''}")
    if report.dry_run:
        log.info("teardown %s dry run: would %s; nothing deleted", report.lab,
                 "; ".join(report.plan) or "delete nothing")
        for w in report.warnings:
            log.warning("%s", w)
    else:
        log.info("teardown %s: deleted %d, detached and left %d, already gone %d; nothing left", report.lab,
                 len(report.deleted), len(report.detached), len(report.already_gone))
    return report
