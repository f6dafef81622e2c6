"""Servers (`/server`)."""

from __future__ import annotations

from collections.abc import Sequence

from .models import Server
from .errors import NotFound
from .base import PowerMixin, Resource


class Servers(PowerMixin, Resource[Server]):
    path, singular, plural, model, kind = "server", "Server", "Servers", Server, "server"

    def create(self, name: str, tags: list[str], cpu: int, memory_gb: int, switch_ids: list[str],
               description: str = "", commitment: str = "standard", nic0_switch: str | None = None) -> Server:
        """NIC 0 on the shared segment (or on switch `nic0_switch`, e.g. a router's: its address then comes
        from the disk edit), then one NIC per switch, in order. No disk, powered off."""
        body = {"Server": {
            "Name": name, "Description": description, "Tags": list(tags),
            "ServerPlan": {"CPU": cpu, "MemoryMB": memory_gb * 1024, "Commitment": commitment},
            "ConnectedSwitches": [{"ID": str(nic0_switch)} if nic0_switch else {"Scope": "shared"}]
                                 + [{"ID": str(s)} for s in switch_ids],
            "InterfaceDriver": "virtio",
            "WaitDiskMigration": False,
        }}
        return self._one(self._call("POST", self.path, body=body))

    def delete(self, id: str, with_disks: Sequence[str] = (), *, stop_first: bool = False,
               timeout_s: float = 600.0) -> bool:
        """Delete the server and the listed disks (`WithDisk`). With `stop_first`, a running server
        is force-stopped and waited down first (otherwise the API answers 409
        `server_power_must_be_down`). Returns False if it was already gone."""
        if stop_first and not self.stop(id, timeout_s):
            return False
        body = {"WithDisk": [str(d) for d in with_disks]} if with_disks else None
        try:
            self._call("DELETE", f"{self.path}/{id}", body=body)
        except NotFound:
            return False
        return True
