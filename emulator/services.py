"""NFS appliances, container registries (commonserviceitem), notes and SSH keys."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import logging
import re
import time
from datetime import datetime, timedelta, timezone

import bcrypt

from . import seed
from .backend import RegistryUser
from .compute import _obj, _ref_id
from .core import md5
from .errors import ApiError, bad, conflict, not_found

log = logging.getLogger("emulator")
PERMISSIONS = ("all", "readwrite", "readonly")


class ServicesMixin:
    # ---- appliances: NFS (here) and database (databases.py)
    def create_appliance(self, zone: str, body: dict) -> dict:
        a = _obj(body, "Appliance")
        if a.get("Class") not in ("nfs", "database"):
            raise bad("unsupported_res_class", f"Class {a.get('Class')!r} はこのエミュレータでは未対応です。")
        if not a.get("Name"):
            raise bad("missing_param", "Name が必要です。")
        remark = a.get("Remark") if isinstance(a.get("Remark"), dict) else {}
        try:
            plan_id = int(_ref_id(a.get("Plan")) or _ref_id(remark.get("Plan")) or 0)
        except ValueError:
            plan_id = 0
        if a["Class"] == "database":
            return self.create_database(zone, a, remark, plan_id)
        if plan_id not in seed.NFS_PLAN_BY_ID:
            raise bad("param_res_not_found", f"NFSプランが見つかりません: {plan_id}")
        ip = remark_ip(remark)
        with self.lock:
            swid = self._appliance_switch(zone, remark)
            remark = {**remark, "Plan": {"ID": plan_id}, "Switch": {"ID": swid},
                      "Zone": {"ID": seed.ZONES[zone][0]}, "Network": remark.get("Network") or {},
                      "Servers": [{"IPAddress": ip}]}
            rec = self._insert_appliance(zone, a, "nfs", plan_id, ip, swid, remark, a.get("Settings") or {}, "",
                                         seed.nfs_class(plan_id))
            out = self.render(rec)
        self._submit(rec["ID"])
        return out

    def _appliance_switch(self, zone: str, remark: dict) -> str:
        """The ID of the switch `Remark.Switch` names, which must be a switch of this zone (under the lock)."""
        swid = _ref_id(remark.get("Switch"))
        sw = self.res.get(swid or "")
        if not sw or sw["_kind"] != "switch" or sw["_zone"] != zone:
            raise not_found(f"switch {swid}")
        return swid

    def _insert_appliance(self, zone: str, a: dict, cls: str, plan_id: int, ip: str, swid: str, remark: dict,
                          settings: dict, settings_hash: str, service_class: str) -> dict:
        """A new appliance of class `cls` on switch `swid` at `ip`, being created (under the lock)."""
        now = time.time()
        rec = self._insert("appliance", zone, {
            "Class": cls, "Name": a["Name"], "Description": a.get("Description") or "",
            "Tags": list(a.get("Tags") or []), "Icon": a.get("Icon"), "Plan": {"ID": plan_id},
            "Remark": remark, "Settings": settings, "SettingsHash": settings_hash,
            "Availability": "migrating",
            "Instance": {"Status": "down", "BeforeStatus": "", "StatusChangedAt": None, "Host": {"Name": ""}},
            "Interfaces": [{"IPAddress": ip, "UserIPAddress": ip, "HostName": "", "Switch": {"ID": swid}}],
            "Zone": seed.zone_obj(zone), "ServiceClass": service_class,
            "_switch": swid, "_created_ts": now,
            "_pending": {"op": "create", "due": now + self._delay(f"{cls}_create")}})
        self._event(rec, "created")
        return rec

    def _render_appliance(self, rec: dict, out: dict) -> dict:
        sw = self.res.get(rec.get("_switch") or "")
        name = sw["Name"] if sw else ""
        out["Switch"] = {"ID": rec.get("_switch"), "Name": name}
        for nic in out["Interfaces"]:
            nic["Switch"] = {"ID": rec.get("_switch"), "Name": name, "Scope": "user",
                             "UserSubnet": (sw or {}).get("UserSubnet")}
        return self._render_database(out) if rec["Class"] == "database" else out

    def _appliance_blocked(self, rec: dict) -> None:
        if rec["Availability"] == "migrating" or self._still_creating(rec):
            raise conflict("still_creating")

    def appliance_power(self, zone: str, rid: str, on: bool, force: bool = False) -> None:
        with self.lock:
            rec = self._get("appliance", zone, rid)
            self._appliance_blocked(rec)
            status = rec["Instance"]["Status"]
            if rec["Availability"] != "available":
                raise conflict("conflict", "アプライアンスは利用可能な状態ではありません。")
            if rec.get("_pending") or status != ("down" if on else "up"):
                raise conflict("conflict", "アプライアンスは既にその電源状態か、処理中です。")
            cls = rec["Class"]
            if on:
                rec["_pending"] = {"op": "boot", "due": time.time() + self._delay(f"{cls}_boot")}
            else:
                rec["_pending"] = {"op": "shutdown", "force": force,
                                   "due": time.time() + (0 if force else self._delay(f"{cls}_shutdown"))}
                self._set_status(rec, "cleaning")
            self._save(rec)
        self._submit(rid)

    def _job_appliance(self, rid: str, pend: dict) -> None:
        """An appliance's create, boot or shutdown: the backend's call (an NFS has one for create only), the
        transition's delay, then its state (a failed shutdown leaves it up)."""
        with self.lock:
            rec = self._current(rid, pend)
            if rec is None:
                return
            call = self._database_call(rec, pend) if rec["Class"] == "database" else self._nfs_call(rec, pend)
            what = f"{rec['Class']} {pend['op']} {rid}"
        ok = True if call is None else self._backend_ok(what, call)
        if not self._wait_due(pend):
            return
        with self.lock:
            rec = self._finish(rid, pend)
            if rec is None:
                return
            if pend["op"] == "create":
                rec["Availability"] = "available" if ok else "failed"
                self._event(rec, rec["Availability"])
            if ok:
                self._set_status(rec, "down" if pend["op"] == "shutdown" else "up")
            elif pend["op"] == "shutdown":
                self._set_status(rec, "up")
            self._save(rec)

    def _nfs_call(self, rec: dict, pend: dict):
        """The backend's call for an NFS appliance's create (None for boot and shutdown)."""
        if pend["op"] != "create":
            return None
        args = (rec["ID"], rec["_switch"], rec["Remark"]["Servers"][0]["IPAddress"], list(rec["Tags"]))
        return lambda: self.backend.nfs_created(*args)

    def delete_appliance(self, zone: str, rid: str, body: dict) -> dict:
        with self.lock:
            rec = self._get("appliance", zone, rid)
            if rec["Availability"] == "migrating":
                raise conflict("still_creating")
            if rec.get("_pending") or rec["Instance"]["Status"] != "down":
                raise conflict("server_power_must_be_down")
            out = self._deleted(rec)
        gone = self.backend.database_deleted if rec["Class"] == "database" else self.backend.nfs_deleted
        self._backend_job(rid, gone)
        return out

    # ---- container registry
    def appliance_database_monitor(self, zone: str, rid: str) -> dict:
        """`GET /appliance/{id}/database/monitor`: the last hour's 5-minute `Free-Disk-Size` samples (KiB)
        as the NFS appliance reports them (null before it is up); free = plan size minus what the share holds."""
        with self.lock:
            self._settle()
            rec = self._get("appliance", zone, rid)
            up = rec["Availability"] == "available" and rec["Instance"]["Status"] == "up"
            size_gb = seed.NFS_PLAN_BY_ID.get(int(rec["Plan"]["ID"]), ("", 0))[1]
            created = rec.get("_created_ts") or time.time()
        used = self.backend.nfs_used_bytes(rid) if up else None
        free = None if used is None else max(0, size_gb * 1024 * 1024 - used // 1024)
        jst = timezone(timedelta(hours=9))
        now = time.time()
        step = 300
        start = max(created, now - 3600) // step * step
        samples = {}
        t = start
        while t <= now:
            at = datetime.fromtimestamp(t, jst).isoformat(timespec="seconds")
            samples[at] = {"Free-Disk-Size": free}
            t += step
        return samples

    def create_commonserviceitem(self, zone: str, body: dict) -> dict:
        c = _obj(body, "CommonServiceItem")
        if (c.get("Provider") or {}).get("Class") != "containerregistry":
            raise bad("unsupported_res_class", "Provider.Class は containerregistry のみ対応しています。")
        if not c.get("Name"):
            raise bad("missing_param", "Name が必要です。")
        label = (c.get("Status") or {}).get("registry_name") or ""
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?", label):
            raise bad("invalid_format", f"registry_name が不正です: {label!r}")
        settings = c.get("Settings") or {"ContainerRegistry": {"public": "none", "virtual_domain": ""}}
        with self.lock:
            if any(r["Status"]["registry_name"] == label for r in self._all("commonserviceitem")):
                raise conflict("res_already_exists", f"registry_name は既に使われています: {label}")
            rec = self._insert("commonserviceitem", zone, {
                "Name": c["Name"], "Description": c.get("Description") or "", "Tags": list(c.get("Tags") or []),
                "Icon": c.get("Icon"), "Availability": "migrating",
                "Provider": {"ID": "100000000001", "Name": "containerregistry", "Class": "containerregistry",
                             "ServiceClass": seed.REGISTRY_CLASS},
                "Settings": settings, "SettingsHash": md5(json.dumps(settings, sort_keys=True)),
                "Status": {"registry_name": label, "hostname": f"{label}.sakuracr.jp"},
                "ServiceClass": seed.REGISTRY_CLASS, "_users": [], "_pending": {"op": "create"}})
            self._event(rec, "created")
            out = self.render(rec)
        self._submit(rec["ID"])
        return out

    def _job_commonserviceitem(self, rid: str, pend: dict) -> None:
        with self.lock:
            rec = self._current(rid, pend)
            if rec is None:
                return
            fqdn, tags = rec["Status"]["hostname"], list(rec["Tags"])
        ok = self._backend_ok(f"registry_created {rid}", lambda: self.backend.registry_created(rid, fqdn, tags))
        with self.lock:
            rec = self._finish(rid, pend)
            if rec is None:
                return
            rec["Availability"] = "available" if ok else "failed"
            users = self._registry_users(rec)
            self._save(rec)
        if ok and users:
            self.backend.registry_users_changed(rid, users)

    @staticmethod
    def _registry_users(rec: dict) -> list[RegistryUser]:
        return [RegistryUser(u["username"], u["password_bcrypt"], u["permission"]) for u in rec["_users"]]

    def _push_users(self, rid: str) -> None:
        """Send the current user list to the backend (off the request thread, in order per registry)."""
        def run():
            with self._job_lock(rid):
                with self.lock:
                    rec = self.res.get(rid)
                    if not rec or rec.get("_pending"):
                        return  # the create job pushes users once the registry exists
                    users = self._registry_users(rec)
                try:
                    self.backend.registry_users_changed(rid, users)
                except Exception:  # noqa: BLE001
                    log.exception("registry_users_changed %s failed", rid)
        self.pool.submit(run)

    def registry_users(self, zone: str, rid: str) -> list[dict]:
        with self.lock:
            rec = self._get("commonserviceitem", zone, rid)
            return [{"username": u["username"], "permission": u["permission"]} for u in rec["_users"]]

    def registry_user_set(self, zone: str, rid: str, username: str | None, body: dict, create: bool) -> None:
        c = _obj(body, "ContainerRegistry")
        name = c.get("username") if create else username
        if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", str(name)):
            raise bad("invalid_format", f"username が不正です: {name!r}")
        perm, password = c.get("permission"), c.get("password")
        if perm is not None and perm not in PERMISSIONS:
            raise bad("invalid_format", f"permission は {'/'.join(PERMISSIONS)} のいずれかです。")
        if create and (not password or not perm):
            raise bad("missing_param", "password と permission が必要です。")
        hashed = bcrypt.hashpw(str(password).encode(), bcrypt.gensalt(rounds=6)).decode() if password else None
        with self.lock:
            rec = self._get("commonserviceitem", zone, rid)
            user = next((u for u in rec["_users"] if u["username"] == name), None)
            if create:
                if user:
                    raise conflict("res_already_exists", f"ユーザは既に存在します: {name}")
                rec["_users"].append({"username": name, "password_bcrypt": hashed, "permission": perm})
            else:
                if not user:
                    raise not_found(f"user {name}")
                user.update({k: v for k, v in (("password_bcrypt", hashed), ("permission", perm)) if v})
            self._save(rec)
        self._push_users(rid)

    def registry_user_delete(self, zone: str, rid: str, username: str) -> None:
        with self.lock:
            rec = self._get("commonserviceitem", zone, rid)
            before = len(rec["_users"])
            rec["_users"] = [u for u in rec["_users"] if u["username"] != username]
            if len(rec["_users"]) == before:
                raise not_found(f"user {username}")
            self._save(rec)
        self._push_users(rid)

    def delete_commonserviceitem(self, zone: str, rid: str, body: dict) -> dict:
        with self.lock:
            rec = self._get("commonserviceitem", zone, rid)
            out = self._deleted(rec)
        self._backend_job(rid, self.backend.registry_deleted)
        return out

    # ---- notes and SSH keys
    def create_note(self, zone: str, body: dict) -> dict:
        n = _obj(body, "Note")
        if not n.get("Name"):
            raise bad("missing_param", "Name が必要です。")
        cls = n.get("Class") or "shell"
        if cls not in ("shell", "yaml_cloud_config", "json"):
            raise bad("invalid_format", f"Class が不正です: {cls}")
        with self.lock:
            rec = self._insert("note", zone, {
                "Name": n["Name"], "Description": "", "Tags": list(n.get("Tags") or []), "Icon": n.get("Icon"),
                "Class": cls, "Content": n.get("Content") or "", "Scope": "user", "Availability": "available"})
            return self.render(rec)

    def create_sshkey(self, zone: str, body: dict) -> dict:
        k = _obj(body, "SSHKey")
        if not k.get("Name") or not k.get("PublicKey"):
            raise bad("missing_param", "Name と PublicKey が必要です。")
        with self.lock:
            rec = self._insert("sshkey", zone, {
                "Name": k["Name"], "Description": k.get("Description") or "", "PublicKey": k["PublicKey"],
                "Fingerprint": fingerprint(k["PublicKey"])})
            return self.render(rec)

    def _check_update(self, rec: dict, body: dict) -> None:
        kind = rec["_kind"]
        if rec.get("Scope") == "shared":
            raise ApiError(403, "forbidden", "公開リソースは変更できません。")
        if kind == "appliance":
            self._appliance_blocked(rec)
        if kind == "commonserviceitem":
            if body.get("SettingsHash") and body["SettingsHash"] != rec["SettingsHash"]:
                raise conflict("original_hash_mismatch")
            label = (body.get("Status") or {}).get("registry_name")
            if label and label != rec["Status"]["registry_name"]:
                raise bad("invalid_param_comb", "registry_name は変更できません。")


def remark_ip(remark: dict) -> str:
    """An appliance's address, `Remark.Servers[0].IPAddress`, which must be an IPv4 address."""
    servers = remark.get("Servers") or []
    ip = servers[0].get("IPAddress") if servers and isinstance(servers[0], dict) else None
    try:
        ipaddress.IPv4Address(ip or "")
    except ValueError:
        raise bad("missing_param", "Remark.Servers[0].IPAddress が必要です。")
    return ip


def fingerprint(public_key: str) -> str:
    parts = public_key.split()
    try:
        digest = hashlib.md5(base64.b64decode(parts[1], validate=True)).hexdigest()
    except (IndexError, ValueError):
        return ""
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))
