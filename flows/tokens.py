"""rotate_join_tokens: replace the swarm's worker and manager join tokens; joined nodes stay Ready."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.naming import TIMEOUT_S, run_name
from flows.session import LabSession
from swarmlab.spec import LabSpec, local
from tasks import provision as p
from tasks import swarm as sw


@flow(name="rotate-join-tokens", flow_run_name=run_name("rotate-tokens"), timeout_seconds=TIMEOUT_S["tokens"])
def rotate_join_tokens(spec: LabSpec = local(), credentials: str | None = None, ssh_key: str | None = None) -> int:
    """Rotate both tokens on a manager, then prove every node that was Ready still is. Returns the node count."""
    log = get_run_logger()
    with LabSession(spec, credentials, log, ssh_key) as lab:
        spec = lab.spec
        fleet = lab.fleet(p.discover(lab.client, spec))
        before = {r.hostname: r.status for r in sw.node_table(fleet, spec)}
        sw.rotate(fleet, spec.server_name(spec.managers[0]))
        after = {r.hostname: r.status for r in sw.node_table(fleet, spec)}
        lost = [h for h, s in before.items() if s == "Ready" and after.get(h) != "Ready"]
        if lost:
            raise RuntimeError(f"after rotating the join tokens these nodes are no longer Ready: {', '.join(lost)}")
        log.info("rotated the join tokens of %s; %d nodes still Ready", spec.name, len(after))
        return len(after)
