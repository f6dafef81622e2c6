"""rotate_join_tokens: replace the swarm's worker and manager join tokens; joined nodes stay Ready."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.bootstrap import open_fleet
from flows.session import open_lab
from swarmlab.cloud.provision import discover
from swarmlab.spec import LabSpec, local
from tasks import swarm as sw


@flow(name="rotate-join-tokens")
def rotate_join_tokens(spec: LabSpec = local(), credentials: str | None = None, ssh_key: str | None = None) -> int:
    """Rotate both tokens on a manager, then prove every node that was Ready still is. Returns the node count."""
    log = get_run_logger()
    creds, spec = open_lab(spec, credentials, log)
    client = creds.client(spec.zone)
    fleet = open_fleet(discover(client, spec), spec, ssh_key)
    try:
        before = {r.hostname: r.status for r in sw.node_table(fleet, spec)}
        sw.rotate(fleet, spec.server_name(spec.managers[0]))
        after = {r.hostname: r.status for r in sw.node_table(fleet, spec)}
        lost = [h for h, s in before.items() if s == "Ready" and after.get(h) != "Ready"]
        if lost:
            raise RuntimeError(f"after rotating the join tokens these nodes are no longer Ready: {', '.join(lost)}")
        log.info("rotated the join tokens of %s; %d nodes still Ready", spec.name, len(after))
        return len(after)
    finally:
        fleet.close()
