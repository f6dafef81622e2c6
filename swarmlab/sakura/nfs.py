"""NFS appliances (`/appliance`, `Class: nfs`)."""

from __future__ import annotations

import re
from typing import Any, Literal

from .errors import NoMatch, SakuraError
from .models import NFS, parse_nfs_plans
from .query import normalize_id
from .base import PowerMixin, Resource

NFS_PLAN_NOTE = "sys-nfs"
GIB = 1024 ** 3


class NFSAppliances(PowerMixin, Resource[NFS]):
    path, singular, plural, model, kind = "appliance", "Appliance", "Appliances", NFS, "NFS"
    base_filter = {"Class": ["nfs"]}
    _not_found_grace = 5  # appliances may 404 right after create

    def _keep(self, m: NFS) -> bool:
        return m.klass in ("nfs", "")

    def plan_id(self, plan: Literal["HDD", "SSD"], size_gb: int) -> str:
        """The NFS `Plan.ID` for a disk type and size, read from the public `sys-nfs` note."""
        plan = plan.upper()  # type: ignore[assignment]
        notes = self._client.notes.find(NFS_PLAN_NOTE)
        if not notes:
            raise NoMatch(f"public note {NFS_PLAN_NOTE!r} (the NFS plan catalogue)",
                          "the API should always have it; check the API root and zone")
        zone_tag = f"@zone={self._client.zone}"
        notes.sort(key=lambda n: zone_tag not in n.tags)
        plans = parse_nfs_plans(notes[0].content).get(plan) or []
        offered = []
        for p in plans:
            if not isinstance(p, dict):
                continue
            if p.get("availability", "available") == "available":
                offered.append(p.get("size"))
            if p.get("size") == size_gb and p.get("availability", "available") == "available":
                return normalize_id(p["planId"])
        raise NoMatch(f"{plan} NFS plan of {size_gb} GB in zone {self._client.zone}",
                      f"available {plan} sizes: {offered or 'none'}; plan must be HDD or SSD")

    def size_gb(self, nfs: NFS) -> int | None:
        """The share's plan size: its `Plan.ID` looked up in the `sys-nfs` note, else its ServiceClass."""
        plan_id = normalize_id(nfs.plan.id) if nfs.plan and nfs.plan.id else None
        if plan_id:
            for note in self._client.notes.find(NFS_PLAN_NOTE):
                for plans in parse_nfs_plans(note.content).values():
                    for p in plans:
                        if isinstance(p, dict) and normalize_id(p.get("planId", "")) == plan_id:
                            return int(p["size"])
        m = re.fullmatch(r"cloud/nfs/\w+/(\d+)", nfs.service_class or "")
        return int(m.group(1)) if m else None

    def free_disk_kib(self, id: str) -> int | None:
        """The latest `Free-Disk-Size` sample (KiB) of `GET /appliance/{id}/database/monitor`, or None."""
        doc = self._call("GET", f"{self.path}/{id}/database/monitor")
        data = doc.get("Data", doc)
        samples = [(t, v.get("Free-Disk-Size")) for t, v in data.items() if isinstance(v, dict)] \
            if isinstance(data, dict) else []
        values = [v for _, v in sorted(samples) if isinstance(v, (int, float))]
        return int(values[-1]) if values else None

    def used_bytes(self, nfs: NFS) -> int | None:
        """How much the share holds: plan size minus free space, as the API reports them; None if unreadable."""
        try:
            size, free = self.size_gb(nfs), self.free_disk_kib(nfs.id)
        except SakuraError:
            return None
        if size is None or free is None:
            return None
        return max(0, size * GIB - free * 1024)

    def create(self, name: str, tags: list[str], switch_id: str, ip: str, mask_len: int,
               default_route: str | None, plan_id: str, description: str = "") -> NFS:
        """Create the appliance on `switch_id` at `ip`. It boots by itself: call `wait_up`."""
        plan: dict[str, Any] = {"ID": _plan_id_value(plan_id)}
        network: dict[str, Any] = {"NetworkMaskLen": mask_len}
        if default_route:
            network["DefaultRoute"] = default_route
        body = {"Appliance": {
            "Class": "nfs", "Name": name, "Description": description, "Tags": list(tags),
            "Plan": plan,
            "Remark": {"Switch": {"ID": str(switch_id)}, "Network": network,
                       "Servers": [{"IPAddress": ip}], "Plan": plan},
        }}
        return self._one(self._call("POST", self.path, body=body))

    def delete(self, id: str, *, stop_first: bool = False, timeout_s: float = 600.0) -> bool:
        """Delete; with `stop_first`, force-stop and wait down first. False if already gone."""
        if stop_first and not self.stop(id, timeout_s):
            return False
        return super().delete(id)


def _plan_id_value(plan_id: str | int) -> int | str:
    """Plan IDs are numbers on the wire (see Appendix A); keep non-numeric ones as strings."""
    s = normalize_id(plan_id)
    return int(s) if s.isdigit() else s
