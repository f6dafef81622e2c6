"""Paths beyond plain CRUD that SAKURA's SDKs use in a server-and-disk lifecycle: single product
plans, NICs after create (and their packet filter), appliance status, auth-status (credential checks)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI, Request

from . import seed
from .cloud import Cloud
from .errors import not_found


def _one(items: list[dict], rid: str, what: str) -> dict:
    for item in items:
        if str(item["ID"]) == rid:
            return item
    raise not_found(f"{what} {rid}")


def path_ids(request: Request) -> dict[str, str]:
    """The IDs in a request's path (`rid`, `sid`, ...), the zone left out."""
    return {k: v for k, v in request.path_params.items() if k != "zone"}


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

    def nic_route(method: str, path: str, run: Callable[..., dict], status: int) -> None:
        def _nic(request: Request, c=Depends(ctx)):
            return c.reply({"is_ok": True, "Success": True, "Interface": run(c, **path_ids(request))}, status)

        app.add_api_route(f"{P}/{path}", _nic, methods=[method])

    # NIC operations: each answers the Interface as it is afterwards
    nic_routes: list[tuple[str, str, Callable[..., dict], int]] = [
        ("POST", "interface", lambda c: cloud.create_interface(c.zone, c.body), 201),
        ("DELETE", "interface/{rid}", lambda c, rid: cloud.delete_interface(c.zone, rid, c.body), 200),
        ("PUT", "interface/{rid}/to/switch/shared", lambda c, rid: cloud.interface_connect(c.zone, rid, "shared"),
         200),
        ("PUT", "interface/{rid}/to/switch/{sid}", lambda c, rid, sid: cloud.interface_connect(c.zone, rid, sid),
         200),
        ("DELETE", "interface/{rid}/to/switch", lambda c, rid: cloud.interface_connect(c.zone, rid, None), 200),
        ("PUT", "interface/{rid}/to/packetfilter/{pfid}",
         lambda c, rid, pfid: cloud.interface_filter(c.zone, rid, pfid), 200),
        ("DELETE", "interface/{rid}/to/packetfilter", lambda c, rid: cloud.interface_filter(c.zone, rid, None), 200),
    ]
    for method, path, run, status in nic_routes:
        nic_route(method, path, run, status)

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
        rec = cloud.read("appliance", c.zone, rid)
        if rec["Class"] == "database":
            return c.reply({"is_ok": True, "Appliance": {"SettingsResponse": cloud.database_status(c.zone, rid)}})
        return c.reply({"is_ok": True, "Appliance": {"SettingsResponse": {"Status": rec["Instance"]["Status"],
                                                                          "is_fatal": False}}})
