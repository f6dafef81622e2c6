"""Router+switch (`/internet`): a router with a block of public addresses (/28, /27 or /26) and the
switch it comes with. The switch is an ordinary switch for NICs (`PUT /interface/{id}/to/switch/{sw}`)
that cannot be deleted on its own; deleting the router deletes both, once no NIC is on the switch."""

from __future__ import annotations

import ipaddress
import logging
import threading

from . import seed
from .compute import _obj
from .errors import ApiError, bad, conflict, not_found

log = logging.getLogger("emulator")

MASK_LENS = (28, 27, 26)            # the zones' Member plans (Zone.Settings.Subnet.Plan.Member)
RESERVED_LOW = 4                    # network, gateway and the router pair's two addresses
_create_lock = threading.Lock()     # one allocation at a time: a block is taken once it is in the state


def usable(net: ipaddress.IPv4Network) -> tuple[str, str]:
    """The addresses servers may take: the first 4 and the broadcast are the router's."""
    return str(net.network_address + RESERVED_LOW), str(net.broadcast_address - 1)


def router_class(mbps: int) -> str:
    return f"cloud/internet/router/{mbps}m"


class InternetMixin:
    def create_internet(self, zone: str, body: dict) -> dict:
        i = _obj(body, "Internet")
        if not i.get("Name"):
            raise bad("missing_param", "Name が必要です。")
        try:
            mask, mbps = int(i.get("NetworkMaskLen") or 28), int(i.get("BandWidthMbps") or 100)
        except (TypeError, ValueError):
            raise bad("invalid_format", "NetworkMaskLen と BandWidthMbps は数値です。")
        if mask not in MASK_LENS:
            raise bad("invalid_format", f"NetworkMaskLen が不正です: {mask} ({', '.join(map(str, MASK_LENS))})")
        if mbps not in seed.INTERNET_BANDWIDTHS:
            raise bad("param_res_not_found", f"帯域プランが見つかりません: {mbps}Mbps")
        with _create_lock:
            with self.lock:
                taken = {r["_subnet"] for r in self._all("internet")}
                swid = self._new_id()
            tags = list(i.get("Tags") or [])
            try:
                subnet = self.backend.router_subnet(mask, taken)
                net = ipaddress.IPv4Network(subnet)
                self.backend.internet_created(swid, subnet, str(net.network_address + 1), tags)
            except Exception as e:  # noqa: BLE001 - the backend's reason, as the API reports a failed create
                log.exception("internet_created failed")
                raise ApiError(503, "operation_failure", f"ルータ+スイッチの作成に失敗しました: {e}")
            with self.lock:
                rec = self._insert("internet", zone, {
                    "Name": i["Name"], "Description": i.get("Description") or "", "Tags": tags, "Icon": i.get("Icon"),
                    "BandWidthMbps": mbps, "NetworkMaskLen": mask, "Scope": "user", "ServiceClass": router_class(mbps),
                    "Zone": seed.zone_obj(zone), "_subnet": subnet, "_switch": swid})
                sw = self._insert("switch", zone, {
                    "Name": i["Name"], "Description": "", "Tags": [], "Icon": None, "Scope": "user",
                    "UserSubnet": None, "Subnets": [], "Bridge": None, "HybridConnection": None,
                    "Zone": seed.zone_obj(zone), "ServiceClass": seed.SWITCH_CLASS,
                    "_internet": rec["ID"], "_subnet_id": self._new_id()}, rid=swid)
                self._event(rec, "created")
                self._event(sw, "created")
                return self.render(rec)

    def delete_internet(self, zone: str, rid: str, body: dict) -> dict:
        with self.lock:
            rec = self._get("internet", zone, rid)
            swid = rec["_switch"]
            if any(n.get("_switch") == swid for n in self._all("interface", zone)):
                raise conflict("disconnect_b4_delete", "ルータのスイッチに接続されたNICを切断してから削除してください。")
            out = self._deleted(rec)
            sw = self.res.get(swid)
            if sw:
                self._drop(sw)
        self._backend_job(swid, self.backend.switch_deleted)
        return out

    def check_router_ip(self, nic: dict, ip: str | None) -> None:
        """A NIC on a router's switch may take only an address of the router's usable range."""
        sw = self.res.get(nic.get("_switch") or "")
        subnet = self._router_subnet(sw) if sw and sw["_kind"] == "switch" else None
        if subnet is None or not ip:
            return
        lo, hi = (ipaddress.IPv4Address(subnet["IPAddresses"][k]) for k in ("Min", "Max"))
        if not lo <= ipaddress.IPv4Address(ip) <= hi:
            raise bad("invalid_param_comb", f"UserIPAddress {ip} はルータのスイッチ {sw['ID']} の割り当て範囲 "
                      f"({lo}-{hi}) の外です。")

    # ---- rendering
    def _router_of(self, sw: dict) -> dict | None:
        rec = self.res.get(sw.get("_internet") or "")
        return rec if rec and rec["_kind"] == "internet" else None

    def _router_subnet(self, sw: dict) -> dict | None:
        """The switch's subnet as `Switch.Subnets[]` holds it, or None for an ordinary switch."""
        router = self._router_of(sw)
        if router is None:
            return None
        net = ipaddress.IPv4Network(router["_subnet"])
        lo, hi = usable(net)
        return {"ID": sw["_subnet_id"], "NetworkAddress": str(net.network_address),
                "NetworkMaskLen": net.prefixlen, "DefaultRoute": str(net.network_address + 1),
                "NextHop": None, "StaticRoute": None, "ServiceClass": f"cloud/global-ipaddress-v4/{net.prefixlen}",
                "IPAddresses": {"Min": lo, "Max": hi},
                "Internet": {"ID": router["ID"], "Name": router["Name"], "BandWidthMbps": router["BandWidthMbps"],
                             "ServiceClass": router["ServiceClass"]}}

    def _render_router_switch(self, rec: dict, out: dict) -> dict:
        subnet = self._router_subnet(rec)
        if subnet is not None:
            router = self._router_of(rec)
            out["Subnets"] = [subnet]
            out["Internet"] = {"ID": router["ID"], "Name": router["Name"], "BandWidthMbps": router["BandWidthMbps"],
                               "Scope": "user", "ServiceClass": router["ServiceClass"]}
        return out

    def _render_internet(self, rec: dict, out: dict) -> dict:
        sw = self.res.get(rec["_switch"])
        if sw is None:
            raise not_found(f"switch {rec['_switch']}")
        subnet = {k: v for k, v in self._router_subnet(sw).items()
                  if k in ("ID", "NetworkAddress", "NetworkMaskLen", "DefaultRoute", "NextHop", "StaticRoute")}
        out["Switch"] = {"ID": sw["ID"], "Name": sw["Name"], "Scope": "user", "UserSubnet": None,
                         "HybridConnection": None, "Subnets": [subnet], "IPv6Nets": [], "Bridge": None}
        return out

    def _router_nic_switch(self, sw: dict) -> dict | None:
        """A router switch as a NIC embeds it (like the shared segment's): its subnet and gateway."""
        subnet = self._router_subnet(sw)
        if subnet is None:
            return None
        return {"ID": sw["ID"], "Name": sw["Name"], "Scope": "user",
                "Subnet": {"ID": subnet["ID"], "NetworkAddress": subnet["NetworkAddress"],
                           "NetworkMaskLen": subnet["NetworkMaskLen"], "DefaultRoute": subnet["DefaultRoute"],
                           "Internet": {"BandWidthMbps": subnet["Internet"]["BandWidthMbps"]}},
                "UserSubnet": {"DefaultRoute": subnet["DefaultRoute"], "NetworkMaskLen": subnet["NetworkMaskLen"]}}
