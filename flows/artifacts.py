"""The artifacts flows publish about a lab: its inventory and its swarm's nodes (one shape each)."""

from __future__ import annotations

from prefect.artifacts import create_table_artifact

from swarmlab.cloud.inventory import Inventory
from swarmlab.swarm.facts import NodeRow


def inventory_table(inventory: Inventory, description: str) -> None:
    create_table_artifact(
        key=f"{inventory.lab}-inventory",
        table=[{"name": s.name, "role": s.role.value, "id": s.id, "address": s.address, "private_ip": s.private_ip,
                "status": s.status} for s in inventory.servers],
        description=description)


def node_table(lab: str, rows: list[NodeRow]) -> None:
    create_table_artifact(
        key=f"{lab}-swarm-nodes",
        table=[{"hostname": r.hostname, "status": r.status, "availability": r.availability,
                "manager status": r.manager_status, "engine": r.engine_version} for r in rows],
        description=f"docker node ls on {lab}")
