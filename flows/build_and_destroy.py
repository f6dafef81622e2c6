"""build_and_destroy: build → exercise → teardown_lab (always), with the run's cost as the last artifact.

If this process dies, nothing here runs any more: the lab's expiry and budget tags and the scheduled
cost-guard deployment are the backstop.
"""

from __future__ import annotations

from datetime import datetime, timezone

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from blocks.sakura import SakuraCloudCredentials
from flows.build import BuildResult, build_lab
from flows.exercise import ExerciseReport, exercise_lab
from flows.teardown import teardown_lab
from swarmlab.cost import Estimate, Ledger, estimate, ledger, markdown_estimate, markdown_ledger
from swarmlab.spec import LabSpec, local
from tasks import cost as t


def build(spec: LabSpec, credentials: str | None, ssh_key: str | None) -> BuildResult:
    """The whole build: provision → swarm ∥ images ∥ HAProxy → stack → verified through HAProxy."""
    return build_lab(spec, credentials=credentials, ssh_key=ssh_key)


def exercise(spec: LabSpec, credentials: str | None, ssh_key: str | None) -> ExerciseReport:
    """Every drill through HAProxy with a probe; exercise_lab always leaves the lab healed."""
    return exercise_lab(spec, credentials=credentials, ssh_key=ssh_key)


def cost_report(spec: LabSpec, est: Estimate | None, led: Ledger | None, outcome: str) -> str:
    parts = [f"# Cost of `{spec.name}` ({spec.zone}): {outcome}\n"]
    parts.append(markdown_ledger(led) if led else "The ledger could not be read before teardown.\n")
    if est:
        parts.append(markdown_estimate(est))
    parts.append("The ledger counts from each resource's CreatedAt (see swarmlab/cost/ledger.py); "
                 "the invoice is SAKURA's.\n")
    return "\n".join(parts)


@flow(name="build-and-destroy")
def build_and_destroy(spec: LabSpec = local(), credentials: str | None = None, ssh_key: str | None = None,
                      drills: bool = True) -> float:
    """Build the lab, exercise it (unless `drills` is off), tear it down whatever happened; returns the
    accrued yen before teardown."""
    log = get_run_logger()
    client = SakuraCloudCredentials.resolve(credentials).client(spec.zone)
    est = estimate(spec, spec.ttl_hours, t.load_prices(client))
    log.info("estimate %s: %g yen for %g h, budget %d yen", spec.name, est.total, est.hours, spec.budget_yen)
    led: Ledger | None = None
    outcome = "failed"
    try:
        build(spec, credentials, ssh_key)
        if drills:
            exercise(spec, credentials, ssh_key)
        outcome = "completed"
    finally:
        try:
            led = ledger(spec.name, t.lab_resources(client, spec.name), t.load_prices(client),
                         datetime.now(timezone.utc))
        except Exception as e:  # noqa: BLE001 - the cost report must never stop the teardown
            log.warning("ledger before teardown failed: %s", type(e).__name__)
        try:
            teardown_lab(spec.name, spec.zone, credentials)
        finally:
            create_markdown_artifact(key=f"{spec.name}-run-cost", markdown=cost_report(spec, est, led, outcome),
                                     description=f"build-and-destroy {spec.name}: {outcome}")
    log.info("build-and-destroy %s: %s, %g yen accrued", spec.name, outcome, led.total if led else float("nan"))
    return led.total if led else 0.0
