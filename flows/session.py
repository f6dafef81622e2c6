"""How a flow opens a lab: the credentials, and the zone by one rule, said in the run's first log line."""

from __future__ import annotations

from blocks.sakura import ZONE_RULE, SakuraCloudCredentials
from swarmlab.spec import LabSpec


def pick_zone(creds: SakuraCloudCredentials, asked: str | None, lab: str, log) -> str:
    """The zone by ZONE_RULE; logs which one and why."""
    zone, source = creds.pick_zone(asked)
    log.info("lab %s in zone %s (from %s; rule: %s)", lab, zone, source, ZONE_RULE)
    return zone


def open_lab(spec: LabSpec, credentials: str | None, log) -> tuple[SakuraCloudCredentials, LabSpec]:
    """The credentials (block name, or SAKURACLOUD_* env) and the spec with its zone settled."""
    creds = SakuraCloudCredentials.resolve(credentials)
    return creds, spec.model_copy(update={"zone": pick_zone(creds, spec.zone, spec.name, log)})
