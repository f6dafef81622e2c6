"""service_ops: the walkthrough's services without yaml (steps 8-11), each step verified, then removed.

publish web (+ its `v2` variant: the same context built with another VERSION, so another immutable
tag) → create `nginxs` (2 replicas on workers) → publish a port (host mode) → scale → rolling update
to v2 → rollback → remove.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from flows.naming import TIMEOUT_S, run_name
from flows.session import LabSession
from swarmlab.cloud.inventory import Inventory
from swarmlab.release.services import StepResult
from swarmlab.spec import LabSpec, Role, local
from tasks import release as r


@flow(name="service-ops", task_runner=ThreadPoolTaskRunner(max_workers=4), flow_run_name=run_name("service-ops"),
      timeout_seconds=TIMEOUT_S["services"])
def service_ops(inventory: Inventory, spec: LabSpec = local(), credentials: str | None = None,
                ssh_key: str | None = None, name: str = "nginxs", port: int = 8080,
                engine: str = "ssh") -> list[StepResult]:
    log = get_run_logger()
    with LabSession(spec, credentials, log, ssh_key) as lab:
        fleet = lab.fleet(inventory)
        managers = fleet.names(Role.manager)
        pub = r.publish_images(fleet, managers[-1], inventory, lab.secret("registry"),
                               variants=[("web", "v2")], engine=engine)
        steps = r.service_ops(fleet, managers[0], spec, name, pub.images["web"], pub.images["web-v2"], port)
        create_table_artifact(key=f"{spec.name}-service-ops", table=[s.model_dump() for s in steps],
                              description=f"service {name} on {spec.name}: every step verified")
        log.info("service ops on %s: %s", spec.name, ", ".join(f"{s.step} {s.seconds:g}s" for s in steps))
        return steps
