"""HTTP layer: FastAPI routes for /cloud/zone/{zone}/api/cloud/1.1/..., auth, faults, admin endpoints
(`/_emulator/*`, behind the same Basic credentials as the API)."""

from __future__ import annotations

import base64
import hmac
import json
import random
from collections.abc import Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import seed
from .cloud import Cloud
from .core import KINDS
from .errors import ApiError, bad, error_body
from .paths import add_paths, path_ids
from .query import find
from .wire import WireMiddleware, parse_body, parse_query, render

P = "/cloud/zone/{zone}/api/cloud/1.1"


class Ctx:
    def __init__(self, zone: str, bigint: bool, body: dict, query: str):
        self.zone, self.bigint, self.body, self.query = zone, bigint, body, query

    def reply(self, data: dict, status: int = 200) -> JSONResponse:
        return JSONResponse(render(data, self.bigint), status_code=status)


async def ctx(request: Request, zone: str) -> Ctx:
    return Ctx(zone, request.headers.get("x-sakura-bigint-as-int") == "1", parse_body(await request.body()),
               request.url.query)


def err(status: int, code: str, msg: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, code, msg), status_code=status, headers=headers)


def add_action(app: FastAPI, method: str, path: str, run: Callable[..., None]) -> None:
    """A route that calls `run(ctx, **path ids)` and answers `{"is_ok": true}`."""

    def action(request: Request, c: Ctx = Depends(ctx)) -> JSONResponse:
        run(c, **path_ids(request))
        return c.reply({"is_ok": True})

    app.add_api_route(path, action, methods=[method])


def create_app(cloud: Cloud, token: str, secret: str, instance: str, backend: str) -> FastAPI:
    app = FastAPI(title="SAKURA Cloud emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.router.redirect_slashes = False
    expected = "Basic " + base64.b64encode(f"{token}:{secret}".encode()).decode()
    faults = cloud.faults

    def authorized(request: Request) -> bool:
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected.encode())

    @app.middleware("http")
    async def gate(request: Request, call_next):
        path = request.url.path
        if path.startswith("/_emulator/") and not authorized(request):
            return err(401, "unauthorized", headers={"WWW-Authenticate": 'Basic realm="sakura-cloud-emulator"'})
        if path.startswith("/cloud/zone/"):
            if faults.busy_rate and random.random() < faults.busy_rate:
                return err(503, "busy")
            if not authorized(request):
                return err(401, "unauthorized", headers={"WWW-Authenticate": 'Basic realm="sakura-cloud-emulator"'})
            if path.split("/")[3] not in seed.ZONES:
                return err(404, "not_found", "ゾーンが見つかりません。")
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError):
        return JSONResponse(e.body(), status_code=e.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        code = {404: "resource_path_not_found", 405: "method_not_allowed"}.get(e.status_code, "bad_request")
        return err(e.status_code, code, str(e.detail))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception):
        return err(500, "internal_server_error", f"{type(e).__name__}")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError):
        return err(400, "bad_request", str(e.errors()[:1]))

    # ---- admin (the API's credentials, never faulted)
    @app.get("/_emulator/health")
    def health():
        return {"ok": True, "instance": instance, "backend": backend, "shared_subnet": str(cloud.shared_net)}

    @app.get("/_emulator/faults")
    def get_faults():
        return faults.as_dict()

    @app.put("/_emulator/faults")
    async def put_faults(request: Request):
        try:
            changes = json.loads(await request.body() or b"{}")
        except ValueError:
            raise bad("invalid_format", "faults must be JSON")
        return faults.update(changes)

    @app.get("/_emulator/events")
    def events():
        return cloud.events()

    # ---- generic CRUD
    def crud(kind: str, ops: str) -> None:
        singular = KINDS[kind][0]
        if "f" in ops:
            @app.get(f"{P}/{kind}")
            def _find(c: Ctx = Depends(ctx)):
                return c.reply(cloud.find(kind, c.zone, parse_query(c.query)))
        if "c" in ops:
            @app.post(f"{P}/{kind}")
            def _create(c: Ctx = Depends(ctx)):
                obj = cloud.create(kind, c.zone, c.body)
                return c.reply({"is_ok": True, "Success": "Accepted" if kind == "appliance" else True,
                                singular: obj}, 201)
        if "r" in ops:
            @app.get(f"{P}/{kind}/{{rid}}")
            def _read(rid: str, c: Ctx = Depends(ctx)):
                return c.reply({"is_ok": True, singular: cloud.read(kind, c.zone, rid)})
        if "u" in ops:
            @app.put(f"{P}/{kind}/{{rid}}")
            def _update(rid: str, c: Ctx = Depends(ctx)):
                return c.reply({"is_ok": True, singular: cloud.update(kind, c.zone, rid, c.body)})
        if "d" in ops:
            @app.delete(f"{P}/{kind}/{{rid}}")
            def _delete(rid: str, c: Ctx = Depends(ctx)):
                return c.reply({"is_ok": True, singular: cloud.delete(kind, c.zone, rid, c.body)})

    for kind in ("switch", "server", "disk", "note", "sshkey", "appliance", "commonserviceitem", "packetfilter",
                 "internet"):
        crud(kind, "fcrud")
    crud("archive", "fr")

    @app.get(f"{P}/interface")
    def interface_find(c: Ctx = Depends(ctx)):
        return c.reply(cloud.find("interface", c.zone, parse_query(c.query)))

    @app.get(f"{P}/interface/{{rid}}")
    def interface_read(rid: str, c: Ctx = Depends(ctx)):
        return c.reply({"is_ok": True, "Interface": cloud.read("interface", c.zone, rid)})

    @app.put(f"{P}/interface/{{rid}}")
    def interface_update(rid: str, c: Ctx = Depends(ctx)):
        return c.reply({"is_ok": True, "Interface": cloud.update_interface(c.zone, rid, c.body)})

    @app.get(f"{P}/switch/{{rid}}/server")
    def switch_servers(rid: str, c: Ctx = Depends(ctx)):
        servers = cloud.switch_servers(c.zone, rid)
        return c.reply({"is_ok": True, "Total": len(servers), "From": 0, "Count": len(servers), "Servers": servers})

    # ---- power
    @app.get(f"{P}/server/{{rid}}/power")
    def server_power_get(rid: str, c: Ctx = Depends(ctx)):
        return c.reply({"is_ok": True, "Instance": cloud.read("server", c.zone, rid)["Instance"]})

    # ---- actions: run one state change, answer {"is_ok": true}
    def force(c: Ctx) -> bool:
        return bool(c.body.get("Force"))

    actions: list[tuple[str, str, Callable[..., None]]] = [
        ("PUT", "server/{rid}/power", lambda c, rid: cloud.server_power(c.zone, rid, on=True)),
        ("DELETE", "server/{rid}/power", lambda c, rid: cloud.server_power(c.zone, rid, on=False, force=force(c))),
        ("PUT", "server/{rid}/reset", lambda c, rid: cloud.server_reset(c.zone, rid)),
        ("PUT", "appliance/{rid}/power", lambda c, rid: cloud.appliance_power(c.zone, rid, on=True)),
        ("DELETE", "appliance/{rid}/power",
         lambda c, rid: cloud.appliance_power(c.zone, rid, on=False, force=force(c))),
        ("PUT", "appliance/{rid}/config", lambda c, rid: cloud.appliance_config(c.zone, rid)),
        ("PUT", "disk/{rid}/config", lambda c, rid: cloud.edit_disk(c.zone, rid, c.body)),
        ("PUT", "disk/{rid}/to/server/{sid}", lambda c, rid, sid: cloud.disk_attach(c.zone, rid, sid)),
        ("DELETE", "disk/{rid}/to/server", lambda c, rid: cloud.disk_attach(c.zone, rid, None)),
    ]
    for method, path, run in actions:
        add_action(app, method, f"{P}/{path}", run)

    @app.get(f"{P}/appliance/{{rid}}/database/monitor")
    def appliance_database_monitor(rid: str, c: Ctx = Depends(ctx)):
        return c.reply({"is_ok": True, "Data": cloud.appliance_database_monitor(c.zone, rid)})

    # ---- container registry users
    users = f"{P}/commonserviceitem/{{rid}}/containerregistry/users"

    @app.get(users)
    def registry_users(rid: str, c: Ctx = Depends(ctx)):
        return c.reply({"is_ok": True, "ContainerRegistry": {"users": cloud.registry_users(c.zone, rid)}})

    @app.post(users)
    def registry_user_add(rid: str, c: Ctx = Depends(ctx)):
        cloud.registry_user_set(c.zone, rid, None, c.body, create=True)
        return c.reply({"is_ok": True, "Success": True}, 201)

    @app.put(users + "/{username}")
    def registry_user_update(rid: str, username: str, c: Ctx = Depends(ctx)):
        cloud.registry_user_set(c.zone, rid, username, c.body, create=False)
        return c.reply({"is_ok": True})

    @app.delete(users + "/{username}")
    def registry_user_delete(rid: str, username: str, c: Ctx = Depends(ctx)):
        cloud.registry_user_delete(c.zone, rid, username)
        return c.reply({"is_ok": True})

    # ---- catalogue
    def catalogue(path: str, plural: str, items) -> None:
        @app.get(f"{P}/{path}")
        def _list(c: Ctx = Depends(ctx)):
            return c.reply(find(items(c.zone), parse_query(c.query), plural))

    catalogue("public/price", "ServiceClasses", seed.service_classes)
    catalogue("product/server", "ServerPlans", lambda z: seed.server_plans())
    catalogue("product/disk", "DiskPlans", lambda z: seed.disk_plans())
    catalogue("zone", "Zones", lambda z: cloud.zones())
    add_paths(app, cloud, P, ctx, catalogue)
    app.add_middleware(WireMiddleware)

    return app
