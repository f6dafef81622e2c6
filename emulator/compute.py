"""Switches, servers, NICs and disks: validation, state rules and rendering."""

from __future__ import annotations

import ipaddress
import logging
import re
import time

from . import seed
from .backend import Note, PrivateNIC, ServerRuntime
from .core import now_iso, public
from .errors import ApiError, bad, conflict, not_found

log = logging.getLogger("emulator")


def _obj(body: dict, key: str) -> dict:
    value = body.get(key)
    if not isinstance(value, dict):
        raise bad("missing_param", f"{key} が必要です。")
    return value


def _ref_id(value) -> str | None:
    if isinstance(value, dict) and value.get("ID") not in (None, ""):
        return str(value["ID"])
    return None


class ComputeMixin:
    shared_net: ipaddress.IPv4Network

    # ---- switch
    def create_switch(self, zone: str, body: dict) -> dict:
        s = _obj(body, "Switch")
        if not s.get("Name"):
            raise bad("missing_param", "Name が必要です。")
        with self.lock:
            rid = self._new_id()
        try:
            self.backend.switch_created(rid, s["Name"], list(s.get("Tags") or []))
        except Exception as e:  # noqa: BLE001
            log.exception("switch_created failed")
            raise ApiError(503, "operation_failure", f"スイッチの作成に失敗しました: {e}")
        with self.lock:
            rec = self._insert("switch", zone, {
                "Name": s["Name"], "Description": s.get("Description") or "", "Tags": list(s.get("Tags") or []),
                "Icon": s.get("Icon"), "Scope": "user", "UserSubnet": s.get("UserSubnet") or None,
                "Subnets": [], "Bridge": None, "HybridConnection": None, "Zone": seed.zone_obj(zone),
                "ServiceClass": seed.SWITCH_CLASS}, rid=rid)
            self._event(rec, "created")
            return self.render(rec)

    def switch_servers(self, zone: str, rid: str) -> list[dict]:
        with self.lock:
            self._get("switch", zone, rid)
            ids = {n["_server"] for n in self._all("interface", zone) if n.get("_switch") == rid}
            return [self.render(self.res[i]) for i in sorted(ids)]

    def delete_switch(self, zone: str, rid: str, body: dict) -> dict:
        with self.lock:
            rec = self._get("switch", zone, rid)
            if rec.get("_internet"):
                raise bad("invalid_param_comb", f"スイッチ {rid} はルータのスイッチです。ルータ "
                          f"(/internet/{rec['_internet']}) を削除してください。")
            used = any(n.get("_switch") == rid for n in self._all("interface", zone)) or any(
                a.get("_switch") == rid for a in self._all("appliance", zone))
            if used:
                raise conflict("disconnect_b4_delete")
            out = self._deleted(rec)
        self._backend_job(rid, self.backend.switch_deleted)
        return out

    def _render_switch(self, rec: dict, out: dict) -> dict:
        out["ServerCount"] = len({n["_server"] for n in self._all("interface", rec["_zone"])
                                  if n.get("_switch") == rec["ID"]})
        return self._render_router_switch(rec, out)

    # ---- NIC helpers
    def shared_switch(self, zone: str) -> dict:
        net = self.shared_net
        gateway = str(net.network_address + 1)
        return {"ID": f"1{seed.ZONES[zone][0]:05d}000001", "Name": "スイッチ+ルータ", "Scope": "shared",
                "Subnet": {"ID": None, "NetworkAddress": str(net.network_address), "NetworkMaskLen": net.prefixlen,
                           "DefaultRoute": gateway, "Internet": {"BandWidthMbps": 100}},
                "UserSubnet": {"DefaultRoute": gateway, "NetworkMaskLen": net.prefixlen}}

    def _alloc_shared_ip(self) -> str:
        used = {n.get("IPAddress") for n in self._all("interface")}
        for host in self.shared_net.hosts():
            if int(host) - int(self.shared_net.network_address) >= 10 and str(host) not in used:
                return str(host)
        raise conflict("run_out_of_ipaddress", "共有セグメントのIPアドレスが不足しています。")

    def _nic_switch(self, nic: dict) -> dict | None:
        sw = nic.get("_switch")
        if sw == "shared":
            return self.shared_switch(nic["_zone"])
        if sw and sw in self.res:
            s = self.res[sw]
            if s.get("_internet"):
                return self._router_nic_switch(s)
            return {"ID": s["ID"], "Name": s["Name"], "Scope": "user", "Subnet": None,
                    "UserSubnet": s.get("UserSubnet")}
        return None

    def _nics(self, sid: str) -> list[dict]:
        return sorted((n for n in self.res.values() if n["_kind"] == "interface" and n["_server"] == sid),
                      key=lambda n: n["_index"])

    def _render_interface(self, rec: dict, out: dict, with_server: bool = True) -> dict:
        out["Switch"] = self._nic_switch(rec)
        out["PacketFilter"] = self._nic_filter(rec)
        if with_server and rec["_server"] in self.res:
            srv = self.res[rec["_server"]]
            out["Server"] = {"ID": srv["ID"], "Name": srv["Name"], "Instance": dict(srv["Instance"])}
        return out

    def update_interface(self, zone: str, rid: str, body: dict) -> dict:
        i = _obj(body, "Interface")
        with self.lock:
            rec = self._get("interface", zone, rid)
            if "UserIPAddress" in i:
                ip = i["UserIPAddress"]
                if ip not in (None, ""):
                    try:
                        ipaddress.IPv4Address(ip)
                    except ValueError:
                        raise bad("invalid_format", f"UserIPAddress が不正です: {ip}")
                    self.check_router_ip(rec, ip)
                rec["UserIPAddress"] = ip or None
            self._save(rec, touch=True)
            return self.render(rec)

    # ---- server
    def _plan(self, p: dict) -> dict:
        if not isinstance(p, dict):
            raise bad("missing_param", "ServerPlan が必要です。")
        if p.get("CPU") is None and p.get("ID"):
            for plan in seed.server_plans():
                if plan["ID"] == str(p["ID"]):
                    return plan
            raise bad("param_res_not_found", f"サーバプランが見つかりません: {p['ID']}")
        try:
            cpu, mem = int(p.get("CPU") or 0), int(p.get("MemoryMB") or 0)
        except (TypeError, ValueError):
            raise bad("invalid_format", "ServerPlan.CPU/MemoryMB が不正です。")
        gen = int(p.get("Generation") or 100)
        if cpu not in seed.SERVER_CPUS or mem % 1024 or mem // 1024 not in seed.SERVER_MEMORY_GB \
                or gen not in (100, 200):
            raise bad("param_res_not_found", f"サーバプランが見つかりません: CPU={cpu} MemoryMB={mem}")
        return seed.server_plan(cpu, mem // 1024, p.get("Commitment") or "standard", gen)

    def create_server(self, zone: str, body: dict) -> dict:
        s = _obj(body, "Server")
        if not s.get("Name"):
            raise bad("missing_param", "Name が必要です。")
        plan = self._plan(s.get("ServerPlan"))
        switches = s.get("ConnectedSwitches") or []
        if not isinstance(switches, list) or len(switches) > 10:
            raise bad("invalid_format", "ConnectedSwitches は10個までの配列です。")
        with self.lock:
            targets = []
            for i, cs in enumerate(switches):
                if cs is None or cs == {}:
                    targets.append(None)
                elif isinstance(cs, dict) and cs.get("Scope") == "shared":
                    if i != 0:
                        raise bad("invalid_param_comb", "共有セグメントに接続できるのはNIC0のみです。")
                    targets.append("shared")
                elif _ref_id(cs):
                    sw = self.res.get(_ref_id(cs))
                    if not sw or sw["_kind"] != "switch" or sw["_zone"] != zone:
                        raise not_found(f"switch {_ref_id(cs)}")
                    if sw["ID"] in targets:
                        raise conflict("connect_to_same_switch", "同じスイッチに複数のNICは接続できません。")
                    targets.append(sw["ID"])
                else:
                    raise bad("invalid_format", f"ConnectedSwitches[{i}] が不正です。")
            ts = now_iso()
            rec = self._insert("server", zone, {
                "Name": s["Name"], "Description": s.get("Description") or "", "Tags": list(s.get("Tags") or []),
                "Icon": s.get("Icon"), "HostName": "", "InterfaceDriver": s.get("InterfaceDriver") or "virtio",
                "Availability": "available", "ServerPlan": {k: v for k, v in plan.items() if k != "ServiceClass"},
                "Zone": seed.zone_obj(zone), "PrivateHost": None,
                "Instance": {"Status": "down", "BeforeStatus": "", "StatusChangedAt": ts,
                             "Host": {"Name": "", "InfoURL": ""}, "CDROM": None},
                "ServiceClass": plan["ServiceClass"], "_created_ts": time.time()})
            for i, target in enumerate(targets):
                self._add_nic(zone, rec["ID"], i, target)
            self._event(rec, "created")
            return self.render(rec)

    def _disks(self, sid: str) -> list[dict]:
        return sorted((d for d in self.res.values() if d["_kind"] == "disk" and d.get("_server") == sid),
                      key=lambda d: (d["ConnectionOrder"], d["ID"]))

    def _render_server(self, rec: dict, out: dict) -> dict:
        out["Disks"] = [{k: d.get(k) for k in ("ID", "Name", "Availability", "Connection", "ConnectionOrder",
                                               "SizeMB", "Plan", "EncryptionAlgorithm", "ServiceClass")}
                        for d in self._disks(rec["ID"])]
        out["Interfaces"] = [self._render_interface(n, public(n), with_server=False) for n in self._nics(rec["ID"])]
        return out

    def _busy_server(self, rec: dict) -> bool:
        return bool(rec.get("_pending")) or rec["Instance"]["Status"] != "down"

    def server_power(self, zone: str, rid: str, on: bool, force: bool = False) -> None:
        with self.lock:
            self._settle()
            rec = self._get("server", zone, rid)
            if self._still_creating(rec):
                raise conflict("still_creating")
            status, pend = rec["Instance"]["Status"], rec.get("_pending")
            if on:
                if status != "down" or pend:
                    raise conflict("server_is_cleaning" if status == "cleaning" else "conflict",
                                   "サーバは既に起動しているか、起動処理中です。")
                if any(d["Availability"] != "available" for d in self._disks(rid)):
                    raise conflict("disk_is_not_available")
                rec["_pending"] = {"op": "boot", "due": time.time() + self._delay("server_boot")}
            else:
                if status != "up" or pend:
                    raise conflict("conflict", "サーバは既に停止しているか、停止処理中です。")
                delay = 0.0 if force else self._delay("server_shutdown")
                rec["_pending"] = {"op": "shutdown", "due": time.time() + delay, "force": bool(force)}
                self._set_status(rec, "cleaning")
            self._save(rec)
        self._submit(rid)

    def server_went_down(self, rid: str) -> None:
        """The backend saw a VM stop by itself (e.g. `poweroff` inside it): reflect it as `down`."""
        with self.lock:
            rec = self.res.get(rid)
            if rec and rec["_kind"] == "server" and not rec.get("_pending") and rec["Instance"]["Status"] == "up":
                self._set_status(rec, "down")
                self._save(rec)

    def server_reset(self, zone: str, rid: str) -> None:
        with self.lock:
            rec = self._get("server", zone, rid)
            if rec["Instance"]["Status"] != "up" or rec.get("_pending"):
                raise conflict("server_power_must_be_up")
            rec["_pending"] = {"op": "reset", "due": time.time()}
            self._save(rec)
        self._submit(rid)

    def _job_server(self, rid: str, pend: dict) -> None:
        if not self._wait_due(pend):
            return
        op = pend["op"]
        with self.lock:
            rec = self._current(rid, pend)
            if rec is None:
                return
            rt = self._runtime(rec) if op in ("boot", "reset") else None

        def run() -> None:
            if op == "boot":
                self.backend.server_power_on(rt)
            elif op == "shutdown":
                self.backend.server_power_off(rid, pend.get("force", False))
            else:
                self.backend.server_power_off(rid, True)
                self.backend.server_power_on(rt)

        ok = self._backend_ok(f"server {rid} {op} in the backend", run)
        with self.lock:
            rec = self._finish(rid, pend)
            if rec is None:
                return
            if op == "boot" and ok:
                rec["Instance"]["Host"] = {"Name": f"sac-{rec['_zone']}-sv{int(rid) % 1000:03d}", "InfoURL": ""}
                self._set_status(rec, "up")
            elif op == "shutdown":
                self._set_status(rec, "down" if ok else "up")
            self._save(rec)

    def _runtime(self, srv: dict) -> ServerRuntime:
        keys, notes, edit0 = [], [], {}
        for d in self._disks(srv["ID"]):
            edit = d.get("_edit") or {}
            edit0 = edit0 or edit
            for k in list(edit.get("SSHKeys") or []) + ([edit["SSHKey"]] if edit.get("SSHKey") else []):
                if isinstance(k, dict) and k.get("PublicKey"):
                    keys.append(k["PublicKey"])
                elif _ref_id(k) and _ref_id(k) in self.res:
                    keys.append(self.res[_ref_id(k)].get("PublicKey", ""))
            for n in edit.get("Notes") or []:
                note = self.res.get(_ref_id(n) or "")
                if note and note["_kind"] == "note":
                    content = note.get("Content") or ""
                    for var, value in ((n.get("Variables") or {}) if isinstance(n, dict) else {}).items():
                        content = content.replace(f"@@@{var}@@@", str(value))
                    notes.append(Note(id=note["ID"], content=content))
        nics = self._nics(srv["ID"])
        shared_ip = nics[0]["IPAddress"] if nics and nics[0]["_switch"] == "shared" else None
        private = []
        for i, n in enumerate(nics):
            if n["_switch"] in (None, "shared"):
                continue
            sw = self.res.get(n["_switch"], {})
            mask = (sw.get("UserSubnet") or {}).get("NetworkMaskLen") or (
                (self._router_subnet(sw) or {}).get("NetworkMaskLen") if sw else None)
            if not mask and i == 0:
                mask = (edit0.get("UserSubnet") or {}).get("NetworkMaskLen")
            private.append(PrivateNIC(switch_id=n["_switch"], ip=n.get("UserIPAddress"), mask_len=int(mask or 24)))
        return ServerRuntime(id=srv["ID"], name=srv["Name"], hostname=srv.get("HostName") or srv["Name"],
                             shared_ip=shared_ip, private_nics=private, ssh_public_keys=[k for k in keys if k],
                             notes=notes, tags=list(srv.get("Tags") or []))

    def delete_server(self, zone: str, rid: str, body: dict) -> dict:
        with_disk = [str(x) for x in (body.get("WithDisk") or [])]
        with self.lock:
            self._settle()
            rec = self._get("server", zone, rid)
            if self._busy_server(rec):
                raise conflict("server_power_must_be_down")
            disks = []
            for did in with_disk:
                d = self.res.get(did)
                if not d or d["_kind"] != "disk" or d["_zone"] != zone:
                    raise bad("param_res_not_found", f"ディスクが見つかりません: {did}")
                disks.append(d)
            out = self.render(rec)
            for d in self._disks(rid):
                d["_server"] = None
                self._save(d)
            for d in disks:
                self._drop(d)
            for n in self._nics(rid):
                self._remove(n)
            self._drop(rec)
        self._backend_job(rid, self.backend.server_deleted)
        return out

    # ---- disk
    def create_disk(self, zone: str, body: dict) -> dict:
        d = _obj(body, "Disk")
        config = body.get("Config")
        if not d.get("Name"):
            raise bad("missing_param", "Name が必要です。")
        plan_id = int(_ref_id(d.get("Plan")) or 4)
        if plan_id not in seed.DISK_PLANS:
            raise bad("param_res_not_found", f"ディスクプランが見つかりません: {plan_id}")
        with self.lock:
            self._settle()
            src_id = _ref_id(d.get("SourceArchive")) or _ref_id(d.get("SourceDisk"))
            src = self.res.get(src_id or "")
            if src_id and (not src or src["_kind"] not in ("archive", "disk") or src["_zone"] != zone):
                raise bad("param_res_not_found", f"コピー元が見つかりません: {src_id}")
            if src and src["Availability"] != "available":
                raise conflict("disk_is_not_available")
            size = int(d.get("SizeMB") or (src or {}).get("SizeMB") or 20480)
            if size // 1024 not in seed.DISK_SIZES_GB or size % 1024:
                raise bad("invalid_range", f"SizeMB が不正です: {size}")
            if src and size < src["SizeMB"]:
                raise bad("cant_resize_smaller", "コピー元より小さいサイズは指定できません。")
            sid = _ref_id(d.get("Server"))
            srv = self.res.get(sid or "")
            if sid and (not srv or srv["_kind"] != "server" or srv["_zone"] != zone):
                raise bad("param_res_not_found", f"サーバが見つかりません: {sid}")
            if srv and self._busy_server(srv):
                raise conflict("server_power_must_be_down")
            edit = self._check_edit(config, zone) if config is not None else None
            failed = self.faults.take_failed_disk()
            now = time.time()
            rec = self._insert("disk", zone, {
                "Name": d["Name"], "Description": d.get("Description") or "", "Tags": list(d.get("Tags") or []),
                "Icon": d.get("Icon"), "Plan": {"ID": plan_id, "Name": seed.DISK_PLANS[plan_id][0],
                                                "StorageClass": "iscsi9999"},
                "SizeMB": size, "MigratedMB": 0, "Connection": d.get("Connection") or "virtio",
                "ConnectionOrder": len(self._disks(sid)) + 1 if sid else 0,
                "EncryptionAlgorithm": d.get("EncryptionAlgorithm") or "none",
                "SourceArchive": {"ID": src["ID"], "Name": src["Name"]} if src and src["_kind"] == "archive" else None,
                "SourceDisk": {"ID": src["ID"], "Name": src["Name"]} if src and src["_kind"] == "disk" else None,
                "Availability": "migrating", "JobStatus": {"Status": "running"}, "ReinstallCount": 0,
                "Zone": seed.zone_obj(zone), "ServiceClass": seed.disk_class(plan_id, size // 1024),
                "_server": sid, "_edit": edit, "_started_at": now,
                "_ready_at": now + self._delay("disk_copy"), "_final": "failed" if failed else "available"})
            if edit and srv:
                self._apply_edit(srv, edit)
            self._event(rec, "created")
            return self.render(rec)

    def _check_edit(self, edit, zone: str) -> dict:
        if not isinstance(edit, dict):
            raise bad("invalid_format", "Config はオブジェクトです。")
        for k in list(edit.get("SSHKeys") or []) + ([edit["SSHKey"]] if edit.get("SSHKey") else []):
            if not isinstance(k, dict) or not (k.get("PublicKey") or _ref_id(k)):
                raise bad("invalid_format", "SSHKeys の要素は {ID} か {PublicKey} です。")
            if _ref_id(k) and (self.res.get(_ref_id(k)) or {}).get("_kind") != "sshkey":
                raise bad("param_res_not_found", f"SSHキーが見つかりません: {_ref_id(k)}")
        for n in edit.get("Notes") or []:
            if (self.res.get(_ref_id(n) or "") or {}).get("_kind") != "note":
                raise bad("param_res_not_found", f"スタートアップスクリプトが見つかりません: {n}")
        ip = edit.get("UserIPAddress")
        if ip:
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                raise bad("invalid_format", f"UserIPAddress が不正です: {ip}")
        if edit.get("HostName") and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,63}", edit["HostName"]):
            raise bad("invalid_format", f"HostName が不正です: {edit['HostName']}")
        return dict(edit)

    def _apply_edit(self, srv: dict, edit: dict) -> None:
        if edit.get("HostName"):
            srv["HostName"] = edit["HostName"]
        nics = self._nics(srv["ID"])
        if edit.get("UserIPAddress") and nics:
            nics[0]["UserIPAddress"] = edit["UserIPAddress"]
            self._save(nics[0])
        self._save(srv, touch=True)

    def edit_disk(self, zone: str, rid: str, body: dict) -> None:
        with self.lock:
            self._settle()
            rec = self._get("disk", zone, rid)
            if rec["Availability"] != "available":
                raise conflict("disk_is_copying" if rec["Availability"] == "migrating" else "disk_is_not_available")
            srv = self.res.get(rec.get("_server") or "")
            if srv and self._busy_server(srv):
                raise conflict("server_power_must_be_down")
            rec["_edit"] = self._check_edit(body, zone)
            if srv:
                self._apply_edit(srv, rec["_edit"])
            self._save(rec, touch=True)

    def disk_attach(self, zone: str, rid: str, sid: str | None) -> None:
        with self.lock:
            rec = self._get("disk", zone, rid)
            target = self._get("server", zone, sid) if sid else None
            current = self.res.get(rec.get("_server") or "")
            for srv in (current, target):
                if srv and self._busy_server(srv):
                    raise conflict("server_power_must_be_down")
            if sid and rec.get("_server"):
                raise bad("res_already_connected", "ディスクは既に接続されています。")
            if not sid and not rec.get("_server"):
                raise bad("res_already_disconnected", "ディスクは接続されていません。")
            rec["_server"] = sid
            rec["ConnectionOrder"] = len(self._disks(sid)) + 1 if sid else 0
            self._save(rec, touch=True)

    def delete_disk(self, zone: str, rid: str, body: dict) -> dict:
        with self.lock:
            self._settle()
            rec = self._get("disk", zone, rid)
            if rec["Availability"] == "migrating":
                raise conflict("disk_is_copying", "ディスクはコピー中です。")
            srv = self.res.get(rec.get("_server") or "")
            if srv and self._busy_server(srv):
                raise conflict("server_power_must_be_down")
            return self._deleted(rec)

    def _render_disk(self, rec: dict, out: dict) -> dict:
        srv = self.res.get(rec.get("_server") or "")
        out["Server"] = {"ID": srv["ID"], "Name": srv["Name"]} if srv else None
        if rec["Availability"] == "migrating":
            span = max(rec["_ready_at"] - rec["_started_at"], 1e-6)
            frac = min(1.0, max(0.0, (time.time() - rec["_started_at"]) / span))
            out["MigratedMB"] = int(rec["SizeMB"] * frac * 0.99)
        return out
