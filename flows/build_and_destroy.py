"""build_and_destroy: build → exercise → teardown_lab, with the run's cost as the last artifact.

The run builds a lab of its own (`<lab_prefix>-<yyyymmdd-hhmm>` of its start, UTC) and tears down only
that lab. Adopting an existing lab is explicit (`lab_prefix=None, adopt=True`), and even then a
protected lab, or one that provision refused (expired, teardown started), is not torn down by it.
If this process dies, nothing here runs any more: the lab's expiry and budget tags and the scheduled
cost-guard deployment are the backstop.
"""

from __future__ import annotations

from datetime import datetime, timezone

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.build import BuildResult, build_lab
from flows.exercise import ExerciseReport, exercise_lab
from flows.lock import lab_lock
from flows.session import LabSession
from flows.teardown import teardown_lab
from swarmlab.cost import Estimate, Ledger, estimate, ledger, markdown_estimate, markdown_ledger
from swarmlab.cloud.lifecycle import LabRetired, TeardownRefused
from swarmlab.spec import LabSpec, local, run_lab_name
from swarmlab.cloud.teardown import TeardownReport, human_bytes
from tasks import cost as t


class LabExists(RuntimeError):
    """The run was to build a lab of its own, and a lab of that name already exists (never adopted silently)."""

    def __init__(self, lab: str, zone: str, names: list[str]):
        super().__init__(f"lab {lab} already exists in {zone} ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''}); "
                         f"build-and-destroy builds and destroys only a lab of its own: use another lab_prefix, "
                         f"or lab_prefix=None with adopt=true to build on it and destroy it")


def build(spec: LabSpec, credentials: str | None, ssh_key: str | None) -> BuildResult:
    """The whole build: provision → swarm ∥ images ∥ HAProxy → stack → verified through HAProxy."""
    return build_lab(spec, credentials=credentials, ssh_key=ssh_key)


def exercise(spec: LabSpec, credentials: str | None, ssh_key: str | None) -> ExerciseReport:
    """Every drill through HAProxy with a probe; exercise_lab always leaves the lab healed."""
    return exercise_lab(spec, credentials=credentials, ssh_key=ssh_key)


def cost_report(spec: LabSpec, est: Estimate | None, led: Ledger | None, outcome: str, end: str) -> str:
    parts = [f"# Cost of `{spec.name}` ({spec.zone}): {outcome}\n", f"{end}\n"]
    parts.append(markdown_ledger(led) if led else "The ledger could not be read before teardown.\n")
    if est:
        parts.append(markdown_estimate(est))
    parts.append("The ledger counts from each resource's CreatedAt (see swarmlab/cost/ledger.py); "
                 "the invoice is SAKURA's.\n")
    return "\n".join(parts)


def teardown_note(report: TeardownReport) -> str:
    """What the teardown did, for the cost artifact: deleted, left, and whether data was destroyed."""
    if not report.data_destroyed:
        data = "no data destroyed (no NFS share)"
    elif report.nfs_data_bytes is None:
        data = "data destroyed: the NFS share (how much it held could not be read)"
    else:
        data = f"data destroyed: the NFS share held {human_bytes(report.nfs_data_bytes)}"
    left = f"; detached and left: {', '.join(report.detached)}" if report.detached else ""
    return f"Torn down: {len(report.deleted)} resources deleted; {data}{left}."


def run_start() -> datetime:
    """When this flow run was scheduled to start (a scheduled nightly: its slot), else now."""
    start = flow_run.scheduled_start_time
    return start if isinstance(start, datetime) else datetime.now(timezone.utc)


@flow(name="build-and-destroy")
def build_and_destroy(spec: LabSpec = local(), credentials: str | None = None, ssh_key: str | None = None,
                      drills: bool = True, lab_prefix: str | None = "nightly", adopt: bool = False) -> float:
    """Build a lab of this run's own, exercise it (unless `drills` is off), tear it down whatever happened;
    returns the accrued yen before teardown.

    lab_prefix: the lab is named `<lab_prefix>-<yyyymmdd-hhmm>` (the run's start, UTC) and must not exist
    yet; None: the lab is `spec.name`, which must not exist yet unless `adopt` is true. The run holds the
    lab's lock from the check through teardown, so no other run slips in between.
    """
    log = get_run_logger()
    if lab_prefix:
        spec = spec.renamed(run_lab_name(lab_prefix, run_start()))
    with lab_lock(spec.name), LabSession(spec, credentials, log, ssh_key) as lab:
        spec, client = lab.spec, lab.client
        existing = t.lab_resources(client, spec.name)
        if not existing.empty and not adopt:
            raise LabExists(spec.name, spec.zone, existing.names())
        ours = existing.empty
        log.info("build-and-destroy %s: %s", spec.name, "a lab of this run's own" if ours else "adopting an existing lab")
        est = estimate(spec, spec.ttl_hours, t.load_prices(client))
        log.info("estimate %s: %g yen for %g h, budget %d yen", spec.name, est.total, est.hours, spec.budget_yen)
        led: Ledger | None = None
        outcome, end = "failed", "Not torn down."
        refused = False
        try:
            build(spec, credentials, ssh_key)
            if drills:
                exercise(spec, credentials, ssh_key)
            outcome = "completed"
        except LabRetired:
            refused = True  # expired or being torn down: the guard's or teardown_lab's, not this run's
            raise
        finally:
            try:
                led = ledger(spec.name, t.lab_resources(client, spec.name), t.load_prices(client),
                             datetime.now(timezone.utc))
            except Exception as e:  # noqa: BLE001 - the cost report must never stop the teardown
                log.warning("ledger before teardown failed: %s", type(e).__name__)
            try:
                if refused and not ours:
                    end = "Not torn down: provision refused to adopt the lab (expired, or its teardown has started)."
                    log.warning("build-and-destroy %s: %s", spec.name, end)
                else:
                    try:
                        end = teardown_note(teardown_lab(spec.name, spec.zone, credentials))
                    except TeardownRefused as e:
                        if ours:
                            raise
                        end = f"Not torn down: {e}"
                        log.warning("build-and-destroy %s: adopted lab kept: %s", spec.name, e)
            finally:
                create_markdown_artifact(key=f"{lab_prefix or spec.name}-run-cost",
                                         markdown=cost_report(spec, est, led, outcome, end),
                                         description=f"build-and-destroy {spec.name}: {outcome}")
    log.info("build-and-destroy %s: %s, %g yen accrued", spec.name, outcome, led.total if led else float("nan"))
    return led.total if led else 0.0
