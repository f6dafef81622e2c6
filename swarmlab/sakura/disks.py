"""Disks (`/disk`) and the disk edit ("ディスクの修正") parameters."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from .models import Disk
from .base import Resource

DISK_PLANS: dict[str, int] = {"ssd": 4, "hdd": 2}


class DiskEdit(BaseModel):
    """What the cloud writes into a disk created from an archive: host name, keys, startup scripts,
    and the static IP and subnet of NIC 0 (when NIC 0 is on a switch). `to_wire()` gives the API's
    `Config` object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host_name: str | None = None
    password: SecretStr | None = None
    ssh_public_keys: list[str] = Field(default_factory=list)
    ssh_key_ids: list[str] = Field(default_factory=list)
    notes: list[tuple[str, dict[str, str | SecretStr]]] = Field(default_factory=list)
    user_ip: str | None = None
    mask_len: int | None = Field(None, ge=1, le=32)
    default_route: str | None = None
    disable_pw_auth: bool = True
    background: bool = True

    def to_wire(self) -> dict[str, Any]:
        w: dict[str, Any] = {}
        if self.host_name:
            w["HostName"] = self.host_name
        if self.password is not None:
            w["Password"] = self.password.get_secret_value()
        keys = [{"ID": str(k)} for k in self.ssh_key_ids] + [{"PublicKey": k} for k in self.ssh_public_keys]
        if keys:
            w["SSHKeys"] = keys
        w["DisablePWAuth"] = self.disable_pw_auth
        if self.user_ip:
            w["UserIPAddress"] = self.user_ip
        subnet: dict[str, Any] = {}
        if self.default_route:
            subnet["DefaultRoute"] = self.default_route
        if self.mask_len is not None:
            subnet["NetworkMaskLen"] = self.mask_len
        if subnet:
            w["UserSubnet"] = subnet
        if self.notes:
            w["Notes"] = [{"ID": str(nid), "Variables": {k: v.get_secret_value() if isinstance(v, SecretStr) else v
                                                         for k, v in vars_.items()}} for nid, vars_ in self.notes]
        w["Background"] = self.background
        return w


class Disks(Resource[Disk]):
    path, singular, plural, model, kind = "disk", "Disk", "Disks", Disk, "disk"

    def create(self, name: str, tags: list[str], archive_id: str, server_id: str | None,
               size_gb: int, plan: Literal["ssd", "hdd"] = "ssd", config: DiskEdit | None = None,
               description: str = "") -> Disk:
        """Copy `archive_id` into a new disk, attached to `server_id`, edited with `config`.

        The copy is asynchronous: the answer says `migrating`; call `wait_available`."""
        if plan not in DISK_PLANS:
            raise ValueError(f"disk plan must be one of {sorted(DISK_PLANS)}, not {plan!r}")
        disk: dict[str, Any] = {
            "Name": name, "Description": description, "Tags": list(tags),
            "Plan": {"ID": DISK_PLANS[plan]}, "SizeMB": size_gb * 1024, "Connection": "virtio",
            "SourceArchive": {"ID": str(archive_id)},
        }
        if server_id:
            disk["Server"] = {"ID": str(server_id)}
        body: dict[str, Any] = {"Disk": disk}
        if config is not None:
            body["Config"] = config.to_wire()
        body["BootAtAvailable"] = False
        return self._one(self._call("POST", self.path, body=body))

    def edit(self, id: str, config: DiskEdit) -> None:
        """Re-run the disk edit on an existing disk (`PUT /disk/{id}/config`)."""
        self._call("PUT", f"{self.path}/{id}/config", body=config.to_wire())

    def wait_available(self, id: str, timeout_s: float = 1800.0) -> Disk:
        """Wait until the copy finished (`available`); raise `ResourceFailed` at once on `failed`."""
        return self._wait(id, lambda d: d.availability == "available",
                          lambda d: d.availability == "failed",
                          timeout_s, "available")

    def detach(self, id: str) -> None:
        """Disconnect the disk from its server (`DELETE /disk/{id}/to/server`); the server must be down."""
        self._call("DELETE", f"{self.path}/{id}/to/server")
