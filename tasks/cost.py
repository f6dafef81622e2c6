"""Cost tasks: read prices, list a zone's labs, gate a build on its budget."""

from __future__ import annotations

from prefect import task

from swarmlab import cost as lib
from swarmlab.cost import guard
from swarmlab.sakura import SakuraClient
from swarmlab.spec import LabSpec
from swarmlab.cloud.provision import missing
from swarmlab.cloud.resources import LabResources, find_lab
from tasks.retry import TRANSIENT_RETRY


@task(name="prices", **TRANSIENT_RETRY)
def load_prices(client: SakuraClient) -> lib.PriceTable:
    return lib.load_prices(client)


@task(name="scan-labs", task_run_name="scan-labs-{client.zone}", **TRANSIENT_RETRY)
def scan(client: SakuraClient) -> dict[str, LabResources]:
    return guard.scan(client)


@task(name="lab-resources", task_run_name="lab-resources-{lab}", **TRANSIENT_RETRY)
def lab_resources(client: SakuraClient, lab: str) -> LabResources:
    return find_lab(client, lab)


@task(name="budget-gate", **TRANSIENT_RETRY)
def budget_gate(client: SakuraClient, spec: LabSpec, have: LabResources) -> lib.Estimate | None:
    """None when the lab (`have`: its snapshot) is complete; else the estimate, or OverBudget (not retried)."""
    if not missing(have, spec):
        return None
    return lib.check_budget(spec, spec.ttl_hours, lib.load_prices(client))
