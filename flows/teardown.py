"""teardown_lab: delete everything a lab owns, in dependency order, and prove nothing is left."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from blocks.sakura import SakuraCloudCredentials
from swarmlab.fleet import known_hosts_path
from swarmlab.hosts import KnownHosts
from tasks import teardown as t


@flow(name="teardown-lab", task_runner=ThreadPoolTaskRunner(max_workers=12))
def teardown_lab(lab: str = "swarmlab", zone: str = "is1a", credentials: str | None = None) -> list[str]:
    """Mark the switch; servers (with disks) ∥ NFS → leftover disks → registry, notes → switch; then list again:
    must be empty. The deleted servers' host-key pins are forgotten."""
    log = get_run_logger()
    client = SakuraCloudCredentials.resolve(credentials).client(zone)
    t.mark_teardown(client, lab)  # provision refuses to adopt the lab from now on
    found = t.find_lab(client, lab)
    first = [t.delete_server.submit(client, s) for s in found.servers]
    first += [t.delete_nfs.submit(client, n) for n in found.nfs]
    deleted = [f.result() for f in first]
    pins = KnownHosts(known_hosts_path(lab))
    for server in found.servers:  # a deleted server's host key means nothing now (an emulator reuses IDs)
        pins.forget(server.id)
    rest = t.find_lab(client, lab) if first else found  # disks went with their servers
    second = [t.delete_simple.submit(client, kind, r) for kind in ("disks", "registries", "notes")
              for r in getattr(rest, kind)]
    deleted += [f.result() for f in second]
    deleted += [t.delete_simple(client, "switches", s) for s in rest.switches]

    left = t.find_lab(client, lab)
    if not left.empty:
        raise RuntimeError(f"teardown of lab {lab} in {zone} left {', '.join(left.names())}; re-run teardown_lab")
    create_markdown_artifact(
        key=f"{lab}-teardown",
        markdown=f"# Teardown of `{lab}` ({zone})\n\n" + ("\n".join(f"- deleted {d}" for d in deleted) or "nothing to delete")
        + "\n\nA final listing by the lab's tags found nothing.",
    )
    log.info("teardown %s: deleted %d resources, nothing left", lab, len(deleted))
    return deleted
