"""exercise_lab on a lab of its own: every drill's time to detect, time to recover, ok/failed requests; then the
drills that differ on the same lab with `database: appliance` (`drills_appliance`).

Own names and subnets (lab `benchdrill`, instance `swarmlab-bench-benchdrill`); the lab is built with
build_lab first (not timed here: see `benchmarks build`), torn down and the emulator purged at the end.
"""

from __future__ import annotations

from benchmarks import labenv
from swarmlab.spec import LabSpec

#: the drills that run differently on a `database: appliance` lab (every drill runs on the swarm variant)
APPLIANCE_DRILLS = ("database restart", "worker down")


def _rows(report) -> list[dict]:
    return [{"name": d.name, "detect_s": d.detect_s, "recover_s": d.recover_s, "ok": d.ok, "failed": d.failed,
             "failure_bound": d.failure_bound, "verdict": d.verdict, "p99_ms": d.p99_ms,
             **{k: v for k, v in d.details.items() if (k.endswith("_s") or k == "data_intact") and v is not None}}
            for d in report.drills]


def run(tmp: str) -> dict:
    with labenv.lab(tmp, "benchdrill", 94) as spec:
        from flows.build import build_lab
        from flows.exercise import exercise_lab
        from flows.teardown import teardown_lab

        try:
            _, build_s = labenv.timed(build_lab, spec)
            report, exercise_s = labenv.timed(exercise_lab, spec, fail_on_verdict=False)
        finally:
            _, teardown_s = labenv.timed(teardown_lab, spec.name, spec.zone)
        appliance = LabSpec(**{**spec.model_dump(), "database": "appliance"})
        try:
            build_lab(appliance)
            on_appliance = exercise_lab(appliance, only=list(APPLIANCE_DRILLS), fail_on_verdict=False)
        finally:
            teardown_lab(appliance.name, appliance.zone)
    return {"benchmark": "drills", "passed": report.passed and on_appliance.passed, "error": report.error,
            "drills": _rows(report), "drills_appliance": _rows(on_appliance),
            "rate_per_s": report.rate_per_s, "total": report.total.model_dump() if report.total else None,
            "healed": report.healed, "exercise_s": exercise_s, "build_s": build_s, "teardown_s": teardown_s,
            "emulator": labenv.emulator_note()}
