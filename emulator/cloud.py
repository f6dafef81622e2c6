"""The emulated cloud: generic find/read/update/delete plus per-resource rules from the mixins."""

from __future__ import annotations

import ipaddress
import json

from . import fidelity, seed
from .backend import Backend
from .compute import ComputeMixin
from .core import KINDS, Core, md5, public
from .databases import DatabaseMixin
from .errors import ApiError, bad
from .faults import Faults
from .internet import InternetMixin
from .nics import NicMixin
from .packetfilters import PacketFilterMixin
from .query import find
from .services import ServicesMixin
from .store import Store

# fields a PUT may change, per kind
UPDATABLE = {
    "switch": ("Name", "Description", "Tags", "Icon", "UserSubnet"),
    "server": ("Name", "Description", "Tags", "Icon", "InterfaceDriver"),
    "disk": ("Name", "Description", "Tags", "Icon", "Connection"),
    "note": ("Name", "Tags", "Icon", "Class", "Content"),
    "sshkey": ("Name", "Description"),
    "appliance": ("Name", "Description", "Tags", "Icon"),
    "commonserviceitem": ("Name", "Description", "Tags", "Icon", "Settings"),
    "internet": ("Name", "Description", "Tags", "Icon"),
}


class Cloud(Core, ComputeMixin, NicMixin, PacketFilterMixin, ServicesMixin, DatabaseMixin, InternetMixin):
    def __init__(self, store: Store, backend: Backend, faults: Faults, shared_subnet: str = "198.18.0.0/24",
                 timing: str = "local"):
        self.shared_net = ipaddress.IPv4Network(shared_subnet)
        super().__init__(store, backend, faults, timing=timing)

    def start(self) -> None:
        super().start()
        self._sync_filters()

    def interface_connect(self, zone: str, rid: str, target: str | None) -> dict:
        out = super().interface_connect(zone, rid, target)
        self._sync_filters()
        return out

    def delete_interface(self, zone: str, rid: str, body: dict) -> dict:
        out = super().delete_interface(zone, rid, body)
        self._sync_filters()
        return out

    def render(self, rec: dict) -> dict:
        kind = rec["_kind"]
        out = public(rec)
        hook = getattr(self, f"_render_{kind}", None)
        out = hook(rec, out) if hook else out
        fill = getattr(fidelity, kind, None)
        if fill:
            out = fill(out, rec["_zone"] or "is1a")
        if kind == "disk" and rec["Availability"] == "migrating":
            fidelity.disk_job(out, rec["_started_at"], rec["_ready_at"])
        return out

    def find(self, kind: str, zone: str, q: dict) -> dict:
        with self.lock:
            self._settle()
            items = [self.render(r) for r in self._all(kind, zone)]
        return find(items, q, KINDS[kind][1])

    def read(self, kind: str, zone: str, rid: str) -> dict:
        with self.lock:
            self._settle()
            return self.render(self._get(kind, zone, rid))

    def update(self, kind: str, zone: str, rid: str, body: dict) -> dict:
        if kind == "packetfilter":
            return self.update_packetfilter(zone, rid, body)
        singular = KINDS[kind][0]
        fields = body.get(singular)
        if not isinstance(fields, dict):
            raise bad("missing_param", f"{singular} が必要です。")
        with self.lock:
            self._settle()
            rec = self._get(kind, zone, rid)
            self._check_update(rec, fields)
            if kind == "appliance" and rec["Class"] == "database":
                self.update_database(rec, fields)
            self._apply_fields(rec, fields, UPDATABLE[kind])
            if kind == "commonserviceitem":
                rec["SettingsHash"] = md5(json.dumps(rec["Settings"], sort_keys=True))
            self._save(rec, touch=True)
            return self.render(rec)

    def create(self, kind: str, zone: str, body: dict) -> dict:
        return getattr(self, f"create_{kind}")(zone, body)

    def delete(self, kind: str, zone: str, rid: str, body: dict) -> dict:
        hook = getattr(self, f"delete_{kind}", None)
        if hook:
            out = hook(zone, rid, body)
            if kind == "server":
                self._sync_filters()
            return out
        with self.lock:
            rec = self._get(kind, zone, rid)
            if rec.get("Scope") == "shared":
                raise ApiError(403, "forbidden", "公開リソースは削除できません。")
            return self._deleted(rec)

    # ---- catalogue
    def zones(self) -> list[dict]:
        return [seed.zone_obj(z) for z in seed.ZONES]
