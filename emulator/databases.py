"""Database appliances (`/appliance`, `Class: database`): validation, asynchronous boot, settings (`PUT` with
`SettingsHash`, applied by `PUT /appliance/{id}/config`), the status endpoint, and the value-shape quirks of
the real answers (`ServicePort` as a string, `SourceNetwork` `""` when any source may connect, `Remark.Network`
`[]` when none was given)."""

from __future__ import annotations

import ipaddress
import json
import re

from . import seed
from .backend import DatabaseRuntime
from .core import md5
from .errors import bad, conflict
from .services import remark_ip

ENGINES = {"postgres": ("PostgreSQL", "15", "15.8")}   # DatabaseName -> (title, default version, revision)
ANY = "0.0.0.0/0"
USER_RE = r"[A-Za-z][A-Za-z0-9_]{2,19}"


def _common(settings: dict) -> dict:
    conf = settings.get("DBConf") if isinstance(settings.get("DBConf"), dict) else {}
    return conf.get("Common") if isinstance(conf.get("Common"), dict) else {}


def check_settings(settings, current: dict | None = None) -> dict:
    """`Settings.DBConf` validated and normalised (port an int, sources a list, `[]` = any); what is absent
    is kept from `current`. Errors are 400s with the real API's codes."""
    if not isinstance(settings, dict):
        raise bad("missing_param", "Settings.DBConf.Common が必要です。")
    cur = _common(current or {})
    new = _common(settings)
    merged = {**cur, **{k: v for k, v in new.items() if v is not None}}
    if not merged.get("DefaultUser") or not merged.get("UserPassword"):
        raise bad("missing_param", "Settings.DBConf.Common.DefaultUser と UserPassword が必要です。")
    if not re.fullmatch(USER_RE, str(merged["DefaultUser"])):
        raise bad("invalid_format", f"DefaultUser が不正です: {merged['DefaultUser']!r}")
    if len(str(merged["UserPassword"])) < 8:
        raise bad("invalid_format", "UserPassword は8文字以上です。")
    try:
        port = int(merged.get("ServicePort") or 5432)
    except (TypeError, ValueError):
        raise bad("invalid_format", f"ServicePort が不正です: {merged.get('ServicePort')!r}")
    if not 1024 <= port <= 65535:
        raise bad("invalid_format", f"ServicePort は1024から65535です: {port}")
    sources = merged.get("SourceNetwork")
    sources = [] if sources in (None, "") else sources
    if not isinstance(sources, list):
        raise bad("invalid_format", "SourceNetwork はリストです。")
    nets = []
    for s in sources:
        try:
            nets.append(str(ipaddress.IPv4Network(str(s), strict=False)))
        except ValueError:
            raise bad("invalid_format", f"SourceNetwork が不正です: {s!r}")
    common = {"ServicePort": port, "SourceNetwork": [] if nets == [ANY] else nets,
              "DefaultUser": str(merged["DefaultUser"]), "UserPassword": str(merged["UserPassword"])}
    out: dict = {"DBConf": {"Common": common}}
    conf = settings.get("DBConf") if isinstance(settings.get("DBConf"), dict) else {}
    backup = conf.get("Backup", ((current or {}).get("DBConf") or {}).get("Backup"))
    if isinstance(backup, dict) and backup:
        out["DBConf"]["Backup"] = {"Rotate": int(backup.get("Rotate") or 8), "Time": str(backup.get("Time") or ""),
                                   **({"DayOfWeek": list(backup["DayOfWeek"])} if backup.get("DayOfWeek") else {})}
    return out


def settings_hash(settings: dict) -> str:
    return md5(json.dumps(settings, sort_keys=True))


class DatabaseMixin:
    def create_database(self, zone: str, a: dict, remark: dict, plan_id: int) -> dict:
        """`POST /appliance` of Class database (`create_appliance` has checked its Name and read its plan)."""
        if plan_id not in seed.DATABASE_PLANS:
            raise bad("param_res_not_found", f"データベースプランが見つかりません: {plan_id}")
        engine = ((remark.get("DBConf") or {}).get("Common") or {}) if isinstance(remark.get("DBConf"), dict) else {}
        name = engine.get("DatabaseName")
        if name not in ENGINES:
            raise bad("invalid_format", f"Remark.DBConf.Common.DatabaseName は {'/'.join(ENGINES)} です: {name!r}")
        title, version, revision = ENGINES[name]
        if engine.get("DatabaseVersion") not in (None, "", version):
            raise bad("invalid_format", f"DatabaseVersion {engine['DatabaseVersion']!r} は提供されていません "
                                        f"({name} {version})。")
        settings = check_settings(a.get("Settings"), {"DBConf": {"Common": {
            k: engine[k] for k in ("DefaultUser", "UserPassword") if engine.get(k)}}})
        ip = remark_ip(remark)
        net = remark.get("Network") if isinstance(remark.get("Network"), dict) else {}
        with self.lock:
            swid = self._appliance_switch(zone, remark)
            taken = [r["Name"] for r in self._all("appliance", zone)
                     if r.get("_switch") == swid and r["Remark"]["Servers"][0]["IPAddress"] == ip]
            if taken:
                raise conflict("res_already_exists", f"{ip} は {taken[0]} が使用しています。")
            remark = {"Zone": {"ID": seed.ZONES[zone][0]}, "Network": net, "Servers": [{"IPAddress": ip}],
                      "DBConf": {"Common": {"DatabaseTitle": f"{title} {revision}", "DatabaseName": name,
                                            "DatabaseVersion": version, "DatabaseRevision": revision}},
                      "Switch": {"ID": swid}, "Plan": {"ID": plan_id}}
            rec = self._insert_appliance(zone, a, "database", plan_id, ip, swid, remark, settings,
                                         settings_hash(settings), seed.database_class(plan_id))
            out = self.render(rec)
        self._submit(rec["ID"])
        return out

    def _render_database(self, out: dict) -> dict:
        common = out["Settings"]["DBConf"]["Common"]
        common["ServicePort"] = str(common["ServicePort"])
        common["SourceNetwork"] = list(common["SourceNetwork"]) or ""
        if "Backup" not in out["Settings"]["DBConf"]:
            out["Settings"]["DBConf"]["Backup"] = []
        if not out["Remark"].get("Network"):
            out["Remark"]["Network"] = []
        return out

    def database_runtime(self, rec: dict) -> DatabaseRuntime:
        common = rec["Settings"]["DBConf"]["Common"]
        net = rec["Remark"].get("Network") or {}
        engine = rec["Remark"]["DBConf"]["Common"]
        return DatabaseRuntime(
            id=rec["ID"], switch_id=rec["_switch"], ip=rec["Remark"]["Servers"][0]["IPAddress"],
            mask_len=int(net.get("NetworkMaskLen") or 24), port=common["ServicePort"], user=common["DefaultUser"],
            password=common["UserPassword"], source_networks=list(common["SourceNetwork"]),
            engine=engine["DatabaseName"], version=engine["DatabaseVersion"], tags=list(rec["Tags"]))

    def _database_call(self, rec: dict, pend: dict):
        """The backend's call for a database's create, boot or shutdown."""
        db, rid = self.database_runtime(rec), rec["ID"]
        return {"create": lambda: self.backend.database_created(db),
                "boot": lambda: self.backend.database_power_on(db),
                "shutdown": lambda: self.backend.database_power_off(rid, pend.get("force", False))}[pend["op"]]

    def update_database(self, rec: dict, fields: dict) -> None:
        """`PUT /appliance/{id}` of a database: plain fields, and `Settings` (with `SettingsHash` when sent)."""
        if fields.get("SettingsHash") and fields["SettingsHash"] != rec["SettingsHash"]:
            raise conflict("original_hash_mismatch", "SettingsHash が一致しません。再取得してください。")
        if "Settings" in fields:
            rec["Settings"] = check_settings(fields["Settings"], rec["Settings"])
            rec["SettingsHash"] = settings_hash(rec["Settings"])
            rec["_config_pending"] = True

    def appliance_config(self, zone: str, rid: str) -> None:
        """`PUT /appliance/{id}/config`: apply the saved settings (the backend reconfigures a running server)."""
        with self.lock:
            rec = self._get("appliance", zone, rid)
            self._appliance_blocked(rec)
            if rec["Class"] != "database":
                rec.pop("_config_pending", None)
                return
            rec.pop("_config_pending", None)
            self._save(rec)
            db = self.database_runtime(rec)
            running = rec["Instance"]["Status"] == "up" and not rec.get("_pending")
        if running:
            with self._job_lock(rid):
                self.backend.database_settings_changed(db)

    def database_status(self, zone: str, rid: str) -> dict:
        """`Appliance.SettingsResponse` of `GET /appliance/{id}/status` for a database."""
        with self.lock:
            rec = self._get("appliance", zone, rid)
            status = rec["Instance"]["Status"]
            up = rec["Availability"] == "available" and status == "up" and not rec.get("_pending")
            engine = rec["Remark"]["DBConf"]["Common"]["DatabaseName"]
        conf: dict = {"version": {"lastmodified": "", "commithash": "", "status": "latest", "tag": "1.0",
                                  "expire": ""},
                      "log": [], "backup": {"history": []}}
        if up:
            conf[engine] = {"status": self.backend.database_engine_status(rid) or "stopped"}
        return {"Status": status, "is_fatal": False, "DBConf": conf}
