"""build_and_destroy: build → exercise → teardown_lab, with the run's cost as the last artifact.

The run builds a lab of its own (`<lab_prefix>-<yyyymmdd-hhmm>` of its start, UTC) and tears down only
that lab. Adopting an existing lab is explicit (`lab_prefix=None, adopt=True`), and even then a
protected lab, or one that provision refused (expired, teardown started), is not torn down by it.
If the run is cancelled or crashes, its state hook (`teardown_own_lab`, run by the runner or the engine once
the flow body is gone) tears down the lab the run created (the run carries the tag `swarmlab-created:<lab>` from
the moment it knows the lab is its own) and says so in the cost artifact. If nothing runs any more (the
machine died), the lab's expiry and budget tags and the scheduled cost-guard deployment are the backstop.
"""


import inspect
from datetime import datetime, timezone

from prefect import flow, get_client, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.actions import ArtifactCreate
from prefect.context import FlowRunContext
from prefect.logging.loggers import flow_run_logger
from prefect.runtime import flow_run as this_run

from flows.build import BuildResult, build_lab
from flows.exercise import ExerciseReport, exercise_lab
from flows.lock import free_if_held_by, lab_lock
from flows.naming import TIMEOUT_S, lab_of, param, run_name
from flows.session import LabSession
from flows.teardown import teardown_lab
from swarmlab.cost import Estimate, Ledger, estimate, ledger, markdown_estimate, markdown_ledger
from swarmlab.cloud.lifecycle import LabRetired, TeardownRefused
from swarmlab.spec import LabSpec, local, run_lab_name
from swarmlab.cloud.teardown import TeardownReport, human_bytes
from tasks import cost as t
from tasks.hooks import hook_env, run_hooks

CREATED = "swarmlab-created:"  # flow run tag: this run created the lab (only such a lab is torn down by a hook)


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
    start = this_run.scheduled_start_time
    return start if isinstance(start, datetime) else datetime.now(timezone.utc)


def own_lab(prefix: str | None, spec_name: str | None, scheduled_start: datetime) -> str:
    """The lab a run works on: `<prefix>-<yyyymmdd-hhmm>` of its scheduled start, else the spec's name."""
    return run_lab_name(prefix, scheduled_start) if prefix else (spec_name or local().name)


def _lab_of_run(ctx: FlowRunContext) -> str:
    return own_lab(param(ctx, "lab_prefix"), lab_of(param(ctx, "spec")), ctx.flow_run.expected_start_time)


def _mark_created(lab: str) -> None:
    run = FlowRunContext.get().flow_run
    with get_client(sync_client=True) as client:
        tags = client.read_flow_run(run.id).tags
        client.update_flow_run(run.id, tags=sorted({*tags, CREATED + lab}))


def teardown_own_lab(flow, flow_run, state) -> None:
    """on_cancellation / on_crashed: tear down the lab this run created (never an adopted one), freeing the lab's
    lock if the dead run still holds it; write what happened to the run's cost artifact."""
    log = flow_run_logger(flow_run, flow)
    defaults = {k: v.default for k, v in inspect.signature(flow.fn).parameters.items()}
    params = {**defaults, **(flow_run.parameters or {})}
    prefix, spec = params.get("lab_prefix"), params.get("spec")
    lab = own_lab(prefix, lab_of(spec), flow_run.expected_start_time)
    with get_client(sync_client=True) as client:
        tags = client.read_flow_run(flow_run.id).tags
    if CREATED + lab not in tags:
        log.warning("run %s %s: it had not created lab %s (or adopted it): not torn down",
                    flow_run.name, state.type.value.lower(), lab)
        return
    if free_if_held_by(lab, flow_run.id):
        log.warning("build-and-destroy: freed the lock of lab %s held by this dead run", lab)
    zone = spec.get("zone") if isinstance(spec, dict) else getattr(spec, "zone", None)
    log.warning("run %s %s: tearing down lab %s, which it created", flow_run.name,
                state.type.value.lower(), lab)
    try:
        end = teardown_note(teardown_lab(lab, zone, params.get("credentials"))) + \
            f" (by the on_{'cancellation' if state.is_cancelling() or state.is_cancelled() else 'crashed'} hook)"
    except Exception as e:  # noqa: BLE001 - said in the artifact; the guard stays the backstop
        end = f"Teardown by the state hook failed ({type(e).__name__}: {e}); the cost guard will remove it at expiry."
        log.error("build-and-destroy: %s", end)
    outcome = state.type.value.lower()
    with get_client(sync_client=True) as client:
        client.create_artifact(ArtifactCreate(
            key=f"{prefix or lab}-run-cost", type="markdown", flow_run_id=flow_run.id,
            data=f"# Cost of `{lab}`: {outcome}\n\n{end}\n\nThe ledger was not taken: the run ended early.\n",
            description=f"build-and-destroy {lab}: {outcome}"))


def _finish(spec: LabSpec, client, credentials: str | None, log, built: BuildResult | None, *, refused: bool,
            ours: bool) -> tuple[Ledger | None, str]:
    """Ledger, before_teardown hooks (a failure is logged), teardown: (ledger, what the teardown did)."""
    led = None
    try:
        led = ledger(spec.name, t.lab_resources(client, spec.name), t.load_prices(client), datetime.now(timezone.utc))
    except Exception as e:  # noqa: BLE001 - the cost report must never stop the teardown
        log.warning("ledger before teardown failed: %s", type(e).__name__)
    if refused and not ours:
        end = "Not torn down: provision refused to adopt the lab (expired, or its teardown has started)."
        log.warning("build-and-destroy %s: %s", spec.name, end)
        return led, end
    if spec.hooks.before_teardown:
        env = hook_env(spec.name, built.inventory, built.haproxy) if built else hook_env(spec.name)
        try:
            run_hooks(spec.name, "before_teardown", list(spec.hooks.before_teardown), env)
        except Exception as e:  # noqa: BLE001 - a failing before_teardown hook never keeps the lab billing
            log.warning("build-and-destroy %s: %s; tearing down anyway", spec.name, e)
    try:
        return led, teardown_note(teardown_lab(spec.name, spec.zone, credentials))
    except TeardownRefused as e:
        if ours:
            raise
        log.warning("build-and-destroy %s: adopted lab kept: %s", spec.name, e)
        return led, f"Not torn down: {e}"


@flow(name="build-and-destroy", flow_run_name=run_name("build-and-destroy", fallback=_lab_of_run),
      timeout_seconds=TIMEOUT_S["build_and_destroy"], on_cancellation=[teardown_own_lab],
      on_crashed=[teardown_own_lab])
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
        if ours:
            _mark_created(spec.name)
        log.info("build-and-destroy %s: %s", spec.name, "a lab of this run's own" if ours else "adopting an existing lab")
        est = estimate(spec, spec.ttl_hours, t.load_prices(client))
        log.info("estimate %s: %g yen for %g h, budget %d yen", spec.name, est.total, est.hours, spec.budget_yen)
        led: Ledger | None = None
        outcome, end = "failed", "Not torn down."
        refused = False
        built: BuildResult | None = None
        try:
            built = build(spec, credentials, ssh_key)
            if drills:
                exercise(spec, credentials, ssh_key)
            outcome = "completed"
        except LabRetired:
            refused = True  # expired or being torn down: the guard's or teardown_lab's, not this run's
            raise
        except BaseException as e:
            if not isinstance(e, Exception):  # cancelled or killed: the state hook tears down, not this dying body
                outcome = "stopped"
            raise
        finally:
            if outcome == "stopped":
                create_markdown_artifact(key=f"{lab_prefix or spec.name}-run-cost",
                                         markdown=cost_report(spec, est, None, outcome,
                                                              "Teardown left to the run's state hook."),
                                         description=f"build-and-destroy {spec.name}: {outcome}")
            else:
                try:
                    led, end = _finish(spec, client, credentials, log, built, refused=refused, ours=ours)
                finally:
                    create_markdown_artifact(key=f"{lab_prefix or spec.name}-run-cost",
                                             markdown=cost_report(spec, est, led, outcome, end),
                                             description=f"build-and-destroy {spec.name}: {outcome}")
    log.info("build-and-destroy %s: %s, %g yen accrued", spec.name, outcome, led.total if led else float("nan"))
    return led.total if led else 0.0
