"""Drill tasks: one drill each, thin wrappers over swarmlab.drills.steps (which returns the verdict)."""

from __future__ import annotations

from collections.abc import Callable

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


def _drill(step: Callable[..., DrillResult]):
    """The task `drill-<name>` running `steps.<name>` on the lab (with its arguments) and logging its verdict.
    The step is looked up when the task runs, so a replaced step (a test's broken drill) is the one run."""
    name = step.__name__

    def run(lab: steps.DrillLab, *args: str) -> DrillResult:
        return _report(vars(steps)[name](_logged(lab), *args))
    run.__name__ = run.__qualname__ = name
    return task(name=f"drill-{name.replace('_', '-')}", cache_policy=NO_CACHE)(run)


scale = _drill(steps.scale)
rolling_update = _drill(steps.rolling_update)      # (lab, image)
rollback = _drill(steps.rollback)                  # (lab, previous image)
database_restart = _drill(steps.database_restart)
worker_down = _drill(steps.worker_down)
one_manager_down = _drill(steps.one_manager_down)
two_managers_down = _drill(steps.two_managers_down)
all_managers_down = _drill(steps.all_managers_down)
recovery = _drill(steps.recovery)
haproxy_down = _drill(steps.haproxy_down)         # edge: pair only


@task(name="heal-lab", cache_policy=NO_CACHE)
def heal(lab: steps.DrillLab) -> list[str]:
    return steps.heal(_logged(lab))
