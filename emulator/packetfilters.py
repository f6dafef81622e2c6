"""Packet filters (`/packetfilter`): validation of the real rule shapes, attach/detach to a NIC,
the attachment rendered on the NIC, and the backend told the whole table after every change."""

from __future__ import annotations

import ipaddress
import json
import re
import threading

from .backend import FilterRule
from .compute import _obj
from .core import md5
from .errors import bad, conflict

MAX_RULES = 30
PROTOCOLS = ("tcp", "udp", "icmp", "fragment", "ip")
PORTED = ("tcp", "udp")
_PORT = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")
_filter_lock = threading.Lock()


def _network(value) -> str | None:
    """`A`, `A/N` or `A/M.M.M.M`, or empty (any)."""
    if value in (None, ""):
        return None
    try:
        ipaddress.IPv4Network(str(value), strict=False)
    except ValueError:
        raise bad("invalid_format", f"SourceNetwork が不正です: {value}")
    return str(value)


def _port(value, key: str) -> str | None:
    if value in (None, ""):
        return None
    m = _PORT.fullmatch(str(value))
    lo, hi = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (-1, -1)
    if not m or not (0 <= lo <= hi <= 65535):
        raise bad("invalid_format", f"{key} が不正です: {value} (ポート番号か 1024-65535 の形式)")
    return str(value)


def check_expression(expr) -> list[dict]:
    """The rules as the API stores and renders them; 400 `invalid_format` naming the rule and field."""
    if expr is None:
        return []
    if not isinstance(expr, list):
        raise bad("invalid_format", "Expression は配列です。")
    if len(expr) > MAX_RULES:
        raise bad("invalid_format", f"Expression のルールは{MAX_RULES}個までです ({len(expr)}個)。")
    out = []
    for i, rule in enumerate(expr):
        if not isinstance(rule, dict):
            raise bad("invalid_format", f"Expression[{i}] はオブジェクトです。")
        proto = rule.get("Protocol")
        if proto not in PROTOCOLS:
            raise bad("invalid_format", f"Expression[{i}].Protocol が不正です: {proto} ({', '.join(PROTOCOLS)})")
        action = rule.get("Action")
        if action not in ("allow", "deny"):
            raise bad("invalid_format", f"Expression[{i}].Action が不正です: {action} (allow, deny)")
        r = {"Protocol": proto, "SourceNetwork": _network(rule.get("SourceNetwork"))}
        if proto in PORTED:
            r["SourcePort"] = _port(rule.get("SourcePort"), f"Expression[{i}].SourcePort")
            r["DestinationPort"] = _port(rule.get("DestinationPort"), f"Expression[{i}].DestinationPort")
        elif rule.get("SourcePort") not in (None, "") or rule.get("DestinationPort") not in (None, ""):
            raise bad("invalid_param_comb", f"Expression[{i}]: {proto} にポートは指定できません。")
        r["Action"] = action
        r["Description"] = str(rule.get("Description") or "")
        out.append(r)
    return out


class PacketFilterMixin:
    def create_packetfilter(self, zone: str, body: dict) -> dict:
        pf = _obj(body, "PacketFilter")
        if not pf.get("Name"):
            raise bad("missing_param", "Name が必要です。")
        expr = check_expression(pf.get("Expression"))
        with self.lock:
            rec = self._insert("packetfilter", zone, {
                "Name": str(pf["Name"]), "Description": str(pf.get("Description") or ""),
                "RequiredHostVersion": 0, "Expression": expr, "ExpressionHash": _hash(expr)})
            rec.pop("Tags", None)
            self._save(rec)
            return self.render(rec)

    def update_packetfilter(self, zone: str, rid: str, body: dict) -> dict:
        pf = _obj(body, "PacketFilter")
        with self.lock:
            rec = self._get("packetfilter", zone, rid)
            if pf.get("OriginalExpressionHash") and pf["OriginalExpressionHash"] != rec["ExpressionHash"]:
                raise conflict("original_hash_mismatch")
            if "Expression" in pf:
                rec["Expression"] = check_expression(pf["Expression"])
                rec["ExpressionHash"] = _hash(rec["Expression"])
            for key in ("Name", "Description"):
                if pf.get(key) is not None:
                    rec[key] = str(pf[key])
            if not rec["Name"]:
                raise bad("missing_param", "Name が必要です。")
            rec.pop("Tags", None)
            self._save(rec, touch=True)
            out = self.render(rec)
        self._sync_filters()
        return out

    def delete_packetfilter(self, zone: str, rid: str, body: dict) -> dict:
        with self.lock:
            rec = self._get("packetfilter", zone, rid)
            if any(n.get("_packetfilter") == rid for n in self._all("interface")):
                raise conflict("conflict", "パケットフィルタはインタフェースに接続されています。切断してから削除してください。")
            out = self.render(rec)
            self._remove(rec)
            return out

    def interface_filter(self, zone: str, rid: str, pfid: str | None) -> dict:
        """Attach filter `pfid` to NIC `rid` (replacing any), or detach with None. Allowed while the server runs."""
        with self.lock:
            nic = self._get("interface", zone, rid)
            if pfid is None:
                if not nic.get("_packetfilter"):
                    raise bad("res_already_disconnected", "パケットフィルタは接続されていません。")
            else:
                self._get("packetfilter", zone, pfid)
            nic["_packetfilter"] = pfid
            self._save(nic, touch=True)
            out = self.render(nic)
        self._sync_filters()
        return out

    def _nic_filter(self, nic: dict) -> dict | None:
        pf = self.res.get(nic.get("_packetfilter") or "")
        if not pf or pf["_kind"] != "packetfilter":
            return None
        return {k: pf[k] for k in ("ID", "Name", "RequiredHostVersion", "Expression")}

    def _render_packetfilter(self, rec: dict, out: dict) -> dict:
        out.pop("Tags", None)
        return out

    def _sync_filters(self) -> None:
        """Tell the backend every public address with a filter and its rules (the whole table): shared-segment
        NICs by their IPAddress, NICs on a router's switch by their UserIPAddress (a floating address the
        server adds itself, e.g. a VRRP VIP, is not in it: see the README)."""
        with _filter_lock:
            with self.lock:
                table: dict[str, list[FilterRule]] = {}
                for nic in self._all("interface"):
                    pf = self._nic_filter(nic)
                    sw = self.res.get(nic.get("_switch") or "") or {}
                    ip = nic.get("IPAddress") if nic.get("_switch") == "shared" else (
                        nic.get("UserIPAddress") if sw.get("_internet") else None)
                    if pf and ip:
                        table[ip] = [
                            FilterRule(protocol=r["Protocol"], source_network=r["SourceNetwork"],
                                       source_port=r.get("SourcePort"), destination_port=r.get("DestinationPort"),
                                       action=r["Action"]) for r in pf["Expression"]]
            self.backend.packet_filters_changed(table)


def _hash(expr: list[dict]) -> str:
    return md5(json.dumps(expr, sort_keys=True))
