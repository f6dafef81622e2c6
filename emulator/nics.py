"""NICs after server create: add one to a stopped server, connect it to a switch or the shared
segment, disconnect it, delete it (the paths SAKURA's SDKs use besides ConnectedSwitches)."""

from __future__ import annotations

from .compute import _obj, _ref_id
from .errors import bad, conflict, not_found

MAX_NICS = 10


class NicMixin:
    def _add_nic(self, zone: str, sid: str, index: int, target: str | None) -> dict:
        """Insert a NIC record (caller holds the lock); `target` is None, "shared" or a switch ID."""
        nid = self._new_id()
        mac = "9c:a3:ba:" + ":".join(f"{b:02x}" for b in int(nid[-6:]).to_bytes(3, "big"))
        return self._insert("interface", zone, {
            "MACAddress": mac, "IPAddress": self._alloc_shared_ip() if target == "shared" else None,
            "UserIPAddress": None, "HostName": None, "PacketFilter": None,
            "_server": sid, "_index": index, "_switch": target}, rid=nid)

    def _stopped_server_of(self, zone: str, sid: str | None) -> dict:
        srv = self.res.get(sid or "")
        if not srv or srv["_kind"] != "server" or srv["_zone"] != zone:
            raise not_found(f"server {sid}")
        if self._busy_server(srv):
            raise conflict("server_power_must_be_down")
        return srv

    def create_interface(self, zone: str, body: dict) -> dict:
        sid = _ref_id(_obj(body, "Interface").get("Server"))
        if not sid:
            raise bad("missing_param", "Interface.Server.ID が必要です。")
        with self.lock:
            srv = self._stopped_server_of(zone, sid)
            nics = self._nics(srv["ID"])
            if len(nics) >= MAX_NICS:
                raise conflict("limit_count_in_server", f"NICはサーバあたり{MAX_NICS}個までです。")
            rec = self._add_nic(zone, srv["ID"], max((n["_index"] for n in nics), default=-1) + 1, None)
            self._save(srv, touch=True)
            return self.render(rec)

    def interface_connect(self, zone: str, rid: str, target: str | None) -> dict:
        """`target`: a switch ID, "shared", or None to disconnect."""
        with self.lock:
            nic = self._get("interface", zone, rid)
            self._stopped_server_of(zone, nic["_server"])
            if target is None:
                if nic["_switch"] is None:
                    raise bad("res_already_disconnected", "NICはスイッチに接続されていません。")
                nic.update(_switch=None, IPAddress=None)
            else:
                if nic["_switch"] is not None:
                    raise bad("res_already_connected", "NICは既にスイッチに接続されています。")
                if target == "shared":
                    if nic["_index"] != 0:
                        raise bad("invalid_param_comb", "共有セグメントに接続できるのはNIC0のみです。")
                    nic["IPAddress"] = self._alloc_shared_ip()
                else:
                    self._get("switch", zone, target)
                    if any(n["_switch"] == target for n in self._nics(nic["_server"])):
                        raise conflict("connect_to_same_switch", "同じスイッチに複数のNICは接続できません。")
                nic["_switch"] = target
            self._save(nic, touch=True)
            return self.render(nic)

    def delete_interface(self, zone: str, rid: str, body: dict) -> dict:
        with self.lock:
            nic = self._get("interface", zone, rid)
            self._stopped_server_of(zone, nic["_server"])
            out = self.render(nic)
            self._remove(nic)
            return out
