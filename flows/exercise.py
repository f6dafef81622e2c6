"""exercise_lab: the failure drills of the walkthrough (steps 8-11, 14, 15) on a built lab, while a probe
counts what users would have seen through HAProxy.

    discover (read-only) → publish the app's v2 variant → probe on ─┐
      preflight (lab converged) → scale → rolling update → rollback → database restart → worker down
      → one manager down → two managers down → all managers down → recovery → haproxy down (edge: pair)
    finally: heal (power on whatever is down, wait until converged) → probe off → markdown artifact

The lab must exist (build_lab); this flow builds nothing. Faults are forced power-offs through the
SAKURA API, so the same flow drills the real cloud or the local emulator.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.naming import TIMEOUT_S, run_name
from flows.lock import lab_lock
from flows.session import LabSession
from swarmlab.release.deploy import service_names
from swarmlab.drills import DRILLS, steps
from swarmlab.drills.probe import Probe
from swarmlab.drills import timeline as tl
from swarmlab.drills.verdict import DrillResult, DrillsFailed, ExerciseReport, markdown
from swarmlab.render.stack import APP_PORT
from swarmlab.spec import LabSpec, Role, local
from tasks import drills as d
from tasks import provision as p
from tasks import release as r

PROBE_TIMEOUT_S = 3.0


@flow(name="exercise-lab", flow_run_name=run_name("exercise"), timeout_seconds=TIMEOUT_S["exercise"])
def exercise_lab(spec: LabSpec = local(), credentials: str | None = None, ssh_key: str | None = None,
                 rate_per_s: float = 20.0, fail_on_verdict: bool = True,
                 only: list[str] | None = None) -> ExerciseReport:
    """Run every drill in order (`only`: just these, by name, e.g. ["haproxy down"]) and always leave the lab
    healed. `haproxy down` runs on an `edge: pair` lab only. Raises `DrillsFailed` (after the artifact is
    published) when a verdict is fail, unless `fail_on_verdict` is off."""
    unknown = set(only or ()) - set(DRILLS)
    if unknown:
        raise ValueError(f"only: no drill named {', '.join(sorted(unknown))}; drills are {', '.join(DRILLS)}")
    if "haproxy down" in (only or ()) and spec.edge != "pair":
        raise ValueError(f"only: haproxy down needs an `edge: pair` lab; {spec.name} has a single HAProxy")
    with lab_lock(spec.name):
        return _exercise_lab(spec, credentials, ssh_key, rate_per_s, fail_on_verdict, only)


def _exercise_lab(spec: LabSpec, credentials: str | None, ssh_key: str | None, rate_per_s: float,
                  fail_on_verdict: bool, only: list[str] | None = None) -> ExerciseReport:
    log = get_run_logger()
    t0 = time.monotonic()
    session = LabSession(spec, credentials, log, ssh_key)
    spec, client = session.spec, session.client
    inventory = p.discover(client, spec)
    fleet = session.fleet(inventory)
    address = inventory.edge_address      # a pair's VIP
    urls = [f"http://{address}/", f"http://{address}:{APP_PORT}/version"]
    probe = Probe(urls, {s.address for s in inventory.servers if s.address} | {address}, rate_per_s=rate_per_s,
                  timeout_s=PROBE_TIMEOUT_S)
    lab = steps.DrillLab(spec, inventory, fleet, client, probe, log=lambda m: log.info("%s", m))
    results: list[DrillResult] = []
    report = ExerciseReport(lab=spec.name, urls=urls, rate_per_s=rate_per_s, drills=results)
    error: BaseException | None = None
    try:
        d.heal.with_options(name="preflight")(lab)
        wanted = [n for n in (only or DRILLS) if n != "haproxy down" or spec.edge == "pair"]
        current = v2 = ""
        if {"rolling update", "rollback"} & set(wanted):
            managers = fleet.names(Role.manager)
            current = r.service_image(fleet, managers[0], service_names(spec)["app"])
            pub = r.publish_images(fleet, managers[-1], inventory, session.secret("registry"),
                                   variants=[("app", "v2")])
            v2 = pub.images["app-v2"]
            log.info("rolling update: %s → %s", current, v2)
        probe.start()
        drills = {"scale": (d.scale,), "rolling update": (d.rolling_update, v2), "rollback": (d.rollback, current),
                  "database restart": (d.database_restart,), "worker down": (d.worker_down,),
                  "one manager down": (d.one_manager_down,), "two managers down": (d.two_managers_down,),
                  "all managers down": (d.all_managers_down,), "recovery": (d.recovery,),
                  "haproxy down": (d.haproxy_down,)}

        def run(drill, *args) -> None:
            start = probe.now()
            result = drill(lab, *args)
            # unrounded: the next drill's first power-off comes a few ms after this end (timeline windows)
            results.append(result.model_copy(update={"start_s": start, "end_s": probe.now()}))

        for name in wanted:
            run(*drills[name])
    except BaseException as e:  # noqa: BLE001 - heal first, then re-raise
        error = e
        report.error = f"{type(e).__name__}: {e}"[:500]
    finally:
        try:
            report.healed = d.heal(lab)
        finally:
            probe.stop()
            session.close()
            report.drills = results
            report.total = probe.summary()
            report.seconds = round(time.monotonic() - t0, 1)
            _timelines(report, probe, lab, log)
            create_markdown_artifact(key=f"{spec.name}-drills", markdown=markdown(report),
                                     description=f"Failure drills on lab {spec.name}: what users saw")
    if error is not None:
        raise error
    log.info("drills on %s: %s", spec.name, ", ".join(f"{x.name} {x.verdict}" for x in results))
    if fail_on_verdict and not report.passed:
        raise DrillsFailed(report)
    return report


def report_dir(lab: str) -> Path:
    """`<state dir>/reports/<lab>-drills-<UTC time>`: where a run's drills.md, timelines and index.html go."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path(os.environ.get("SWARMLAB_STATE_DIR", ".state")).resolve() / "reports" / f"{lab}-drills-{stamp}"


def _timelines(report: ExerciseReport, probe: Probe, lab: steps.DrillLab, log) -> None:
    """One timeline per drill plus the whole probe run, written beside the markdown report; a failure to
    write is logged, never hides the drills' outcome."""
    end = probe.now()
    samples = sorted(probe.samples, key=lambda s: s.t)
    report.events = [e for e in lab.events if 0 <= e.t <= end]
    lines = [tl.timeline(x.name, samples, report.events, x.start_s, x.end_s)
             for x in report.drills if x.start_s is not None and x.end_s is not None]
    if samples:
        lines.append(tl.timeline("whole exercise", samples, report.events, 0.0, end))
    directory = report_dir(report.lab)
    report.report_dir = str(directory)
    try:
        page = tl.write_report(directory, f"Drills on lab {report.lab}", lines, markdown(report))
        log.info("drill timelines: %s", page)
    except OSError as e:
        log.warning("could not write the drill timelines to %s: %s", directory, e)
        report.report_dir = ""
