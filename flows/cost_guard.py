"""cost_guard: for every lab in the zones, accrued cost and expiry → teardown when expired or over budget."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.lock import LabBusy
from flows.naming import TIMEOUT_S
from flows.session import CloudSession
from flows.teardown import teardown_lab
from swarmlab.cloud import lifecycle as lc
from swarmlab.cost import ledger, projected
from swarmlab.cost import guard as g
from tasks import cost as t


LOCK_WAIT_S = 60.0  # a lab another run holds (a build, a teardown) is left for the next guard run


class GuardFailed(RuntimeError):
    """Some teardowns the guard started did not finish; the next guard run continues them."""


@flow(name="cost-guard", timeout_seconds=TIMEOUT_S["guard"])
def cost_guard(zones: list[str] | None = None, interval_minutes: int = 10, default_budget_yen: int = 1000,
               dry_run: bool = False, credentials: str | None = None) -> list[g.Decision]:
    """List every lab (resources tagged `swarmlab`, grouped by `swarmlab-lab=<lab>`), compute what it has cost,
    project it to the next run, and tear down (teardown_lab) each lab that is expired or would cross its budget.

    A lab with `swarmlab-protect-until=<future time>` on its switch is never torn down (teardown_lab is never
    forced); a lab with a lifecycle tag that does not parse is kept and flagged in the report; a lab whose
    teardown has started (`swarmlab-teardown=` on its switch) is finished. `dry_run` reports without deleting.
    """
    log = get_run_logger()
    sessions = CloudSession.per_zone(zones, credentials)
    zones = [api.zone for api in sessions]
    interval = timedelta(minutes=interval_minutes)
    decisions: list[g.Decision] = []
    outcomes: dict[tuple[str, str], str] = {}
    failed: list[str] = []
    started = datetime.now(timezone.utc)
    for api in sessions:
        zone = api.zone
        with api:  # its client reads the labs and the prices; each teardown opens its own
            labs = t.scan(api.client)
            if not labs:
                continue
            prices = t.load_prices(api.client)
        now = datetime.now(timezone.utc)
        for lab, resources in labs.items():
            view = g.view(lab, zone, resources)
            d = g.decide(view, ledger(lab, resources, prices, now), projected(lab, resources, prices, now, interval),
                         now, default_budget_yen)
            decisions.append(d)
            log.info("%s/%s: %s (%s); accrued %g yen", zone, lab, d.action, d.reason, d.accrued_yen)
            if d.action != "teardown" or dry_run:
                continue
            try:  # never forced: teardown_lab re-reads the tags and refuses a lab protected meanwhile (Swabbie)
                done = teardown_lab(lab, zone, credentials, lock_timeout_s=LOCK_WAIT_S)
                outcomes[(lab, zone)] = f"torn down ({len(done.deleted)} deleted" + (
                    f", {len(done.detached)} not the lab's detached and left)" if done.detached else ")")
            except LabBusy as e:
                outcomes[(lab, zone)] = "busy: another run holds the lab; the next guard run tries again"
                log.warning("%s/%s: %s", zone, lab, e)
            except lc.TeardownRefused as e:
                outcomes[(lab, zone)] = ("kept (protected meanwhile)" if isinstance(e, lc.LabProtected)
                                         else "kept (a lifecycle tag does not parse)")
                log.warning("%s/%s: kept: %s", zone, lab, e)
            except Exception as e:  # noqa: BLE001 - one lab's failure must not spare the others
                outcomes[(lab, zone)] = "teardown failed: the next run continues"
                failed.append(f"{zone}/{lab}: {type(e).__name__}: {e}")
    create_markdown_artifact(key="cost-guard", markdown=g.report(decisions, now=started, interval=interval,
                                                                 dry_run=dry_run, outcomes=outcomes),
                             description=f"cost guard over {', '.join(zones)}")
    if failed:
        raise GuardFailed("teardown did not finish for " + "; ".join(failed) + "; the next cost_guard run "
                          "continues it (or run teardown_lab by hand)")
    return decisions
