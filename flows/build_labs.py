"""build_labs: a class of labs — one estimate for all, refused over the class's budget before anything is
created, then each lab's build_lab, at most `parallel` at once (each holds its own lab's lock; all share the
API's rate limit). A failed lab does not stop the others; the run fails at the end naming each failed lab,
and a re-run converges (a built lab changes nothing)."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

from prefect import flow, get_run_logger

from flows.build import BuildResult, build_lab
from flows.naming import TIMEOUT_S
from flows.session import api_client
from blocks.sakura import SakuraCloudCredentials
from swarmlab.cost import estimate, load_prices
from swarmlab.errors import SwarmlabError
from swarmlab.spec import LabSpec


class ClassOverBudget(SwarmlabError, RuntimeError):
    """The class's labs together are estimated above its budget: nothing is created."""

    def __init__(self, total: float, budget_yen: int, per_lab: dict[str, float]):
        self.total, self.budget_yen = total, budget_yen
        labs = ", ".join(f"{lab} {yen:g}" for lab, yen in per_lab.items())
        super().__init__(f"{len(per_lab)} labs: estimated {total:g} yen ({labs}) exceeds the class budget of "
                         f"{budget_yen} yen; raise --total-budget-yen, lower --count or shorten ttl_hours")


class LabsFailed(SwarmlabError, RuntimeError):
    def __init__(self, failed: dict[str, str]):
        self.failed = failed
        super().__init__(f"{len(failed)} labs failed: " + "; ".join(f"{lab}: {why}" for lab, why in failed.items())
                         + ". The others are up; run again to finish these (a built lab changes nothing).")


def class_estimate(specs: list[LabSpec], credentials: str | None) -> dict[str, float]:
    """Each lab's estimate for its TTL, yen, at the zone's prices (one price lookup per zone)."""
    creds = SakuraCloudCredentials.resolve(credentials)
    out, prices = {}, {}
    for spec in specs:
        zone = creds.pick_zone(spec.zone)[0]
        if zone not in prices:
            with api_client(creds, zone) as client:
                prices[zone] = load_prices(client)
        out[spec.name] = estimate(spec, spec.ttl_hours, prices[zone]).total
    return out


@flow(name="build-labs", flow_run_name="build-labs-{specs[0].name}-x{parallel}",
      timeout_seconds=TIMEOUT_S["build"] * 4)
def build_labs(specs: list[LabSpec], credentials: str | None = None, ssh_key: str | None = None,
               engine: str = "ssh", parallel: int = 2, total_budget_yen: int | None = None) -> list[BuildResult]:
    """Build every lab of `specs` (distinct names and subnets), `parallel` at once, after one estimate for all
    (refused above `total_budget_yen`, default the sum of the labs' budgets)."""
    log = get_run_logger()
    names = [s.name for s in specs]
    if len(set(names)) != len(names) or len({str(s.subnet) for s in specs}) != len(specs):
        raise ValueError(f"labs {names}: names and subnets must be distinct")
    per_lab = class_estimate(specs, credentials)
    budget = sum(s.budget_yen for s in specs) if total_budget_yen is None else total_budget_yen
    total = round(sum(per_lab.values()), 2)
    if total > budget:
        raise ClassOverBudget(total, budget, per_lab)
    log.info("class of %d labs: estimated %g yen in all (budget %d yen); building %d at once", len(specs), total,
             budget, parallel)

    with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="build-labs") as pool:  # each in a copy of
        futures = {s.name: pool.submit(contextvars.copy_context().run,  # the run's context: subflows of this run
                                       build_lab, s, credentials, ssh_key, engine=engine) for s in specs}
    results, failed = [], {}
    for name, f in futures.items():
        try:
            results.append(f.result())
        except Exception as e:  # noqa: BLE001 — each lab's own error, reported together
            failed[name] = str(e) or type(e).__name__
    if failed:
        raise LabsFailed(failed)
    return results
