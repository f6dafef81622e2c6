"""Paths beyond plain CRUD that SAKURA's SDKs use in a server-and-disk lifecycle: single product
plans, NICs after create (and their packet filter), appliance status, auth-status (credential checks)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI

from . import seed
from .cloud import Cloud
from .errors import not_found


def _one(items: list[dict], rid: str, what: str) -> dict:
    for item in items:
        if str(item["ID"]) == rid:
            return item
    raise not_found(f"{what} {rid}")


def add_paths(app: FastAPI, cloud: Cloud, prefix: str, ctx: Callable, catalogue: Callable) -> None:
    P = prefix

    products = {"server": ("ServerPlan", lambda z: seed.server_plans()),
                "disk": ("DiskPlan", lambda z: seed.disk_plans()),
                "internet": ("InternetPlan", lambda z: seed.internet_plans())}
    catalogue("product/internet", "InternetPlans", products["internet"][1])

    def product(kind: str) -> None:
        singular, items = products[kind]

        @app.get(f"{P}/product/{kind}/{{rid}}")
        def _read(rid: str, c=Depends(ctx)):
            return c.reply({"is_ok": True, singular: _one(items(c.zone), rid, f"{kind} plan")})

    for kind in products:
        product(kind)

    @app.post(f"{P}/interface")
    def interface_create(c=Depends(ctx)):
        return c.reply({"is_ok": True, "Success": True, "Interface": cloud.create_interface(c.zone, c.body)}, 201)

    @app.delete(f"{P}/interface/{{rid}}")
    def interface_delete(rid: str, c=Depends(ctx)):
        return c.reply({"is_ok": True, "Success": True, "Interface": cloud.delete_interface(c.zone, rid, c.body)})

    @app.put(f"{P}/interface/{{rid}}/to/switch/shared")
    def interface_to_shared(rid: str, c=Depends(ctx)):
        return c.reply({"is_ok": True, "Success": True, "Interface": cloud.interface_connect(c.zone, rid, "shared")})

    @app.put(f"{P}/interface/{{rid}}/to/switch/{{sid}}")
    def interface_to_switch(rid: str, sid: str, c=Depends(ctx)):
        return c.reply({"is_ok": True, "Success": True, "Interface": cloud.interface_connect(c.zone, rid, sid)})

    @app.delete(f"{P}/interface/{{rid}}/to/switch")
    def interface_disconnect(rid: str, c=Depends(ctx)):
        return c.reply({"is_ok": True, "Success": True, "Interface": cloud.interface_connect(c.zone, rid, None)})

    @app.put(f"{P}/interface/{{rid}}/to/packetfilter/{{pfid}}")
    def interface_to_filter(rid: str, pfid: str, c=Depends(ctx)):
        return c.reply({"is_ok": True, "Success": True, "Interface": cloud.interface_filter(c.zone, rid, pfid)})

    @app.delete(f"{P}/interface/{{rid}}/to/packetfilter")
    def interface_filter_off(rid: str, c=Depends(ctx)):
        return c.reply({"is_ok": True, "Success": True, "Interface": cloud.interface_filter(c.zone, rid, None)})

    @app.get(f"{P}/auth-status")
    def auth_status(c=Depends(ctx)):
        """Who the credentials are: the one emulator account, an API key allowed to create."""
        return c.reply({"is_ok": True, "Account": {"Class": "account", "Code": "emulator", "ID": "100000000001",
                                                   "Name": "emulator"},
                        "AuthClass": "account", "AuthMethod": "apikey", "ExternalPermission": "none",
                        "IsAPIKey": True, "Member": {"Class": "member", "Code": "emulator", "Errors": []},
                        "OperationPenalty": "none", "Permission": "create", "RESTFilter": None, "User": None})

    @app.get(f"{P}/appliance/{{rid}}/status")
    def appliance_status(rid: str, c=Depends(ctx)):
        status = cloud.read("appliance", c.zone, rid)["Instance"]["Status"]
        return c.reply({"is_ok": True, "Appliance": {"SettingsResponse": {"Status": status, "is_fatal": False}}})
