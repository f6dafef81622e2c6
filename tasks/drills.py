"""Drill tasks: one drill each, thin wrappers over swarmlab.drills.steps (which returns the verdict)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from swarmlab.drills import steps
from swarmlab.drills.verdict import DrillResult


def _logged(lab: steps.DrillLab) -> steps.DrillLab:
    logger = get_run_logger()
    lab.log = lambda m: logger.info("%s", m)
    return lab


def _report(result: DrillResult) -> DrillResult:
    get_run_logger().info("%s: %s (%s); detect %s s, recover %s s, %d ok, %d failed", result.name, result.verdict,
                          result.why, result.detect_s, result.recover_s, result.ok, result.failed)
    return result


@task(name="drill-scale", cache_policy=NO_CACHE)
def scale(lab: steps.DrillLab) -> DrillResult:
    return _report(steps.scale(_logged(lab)))


@task(name="drill-rolling-update", cache_policy=NO_CACHE)
def rolling_update(lab: steps.DrillLab, image: str) -> DrillResult:
    return _report(steps.rolling_update(_logged(lab), image))


@task(name="drill-rollback", cache_policy=NO_CACHE)
def rollback(lab: steps.DrillLab, previous: str) -> DrillResult:
    return _report(steps.rollback(_logged(lab), previous))


@task(name="drill-worker-down", cache_policy=NO_CACHE)
def worker_down(lab: steps.DrillLab) -> DrillResult:
    return _report(steps.worker_down(_logged(lab)))


@task(name="drill-one-manager-down", cache_policy=NO_CACHE)
def one_manager_down(lab: steps.DrillLab) -> DrillResult:
    return _report(steps.one_manager_down(_logged(lab)))


@task(name="drill-two-managers-down", cache_policy=NO_CACHE)
def two_managers_down(lab: steps.DrillLab) -> DrillResult:
    return _report(steps.two_managers_down(_logged(lab)))


@task(name="drill-all-managers-down", cache_policy=NO_CACHE)
def all_managers_down(lab: steps.DrillLab) -> DrillResult:
    return _report(steps.all_managers_down(_logged(lab)))


@task(name="drill-recovery", cache_policy=NO_CACHE)
def recovery(lab: steps.DrillLab) -> DrillResult:
    return _report(steps.recovery(_logged(lab)))


@task(name="heal-lab", cache_policy=NO_CACHE)
def heal(lab: steps.DrillLab) -> list[str]:
    return steps.heal(_logged(lab))
