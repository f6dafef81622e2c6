"""Wire rules every SAKURA Cloud client relies on: method tunnelling, lenient bodies and queries,
ID and number rendering. Pure functions plus one ASGI middleware; api.py wires them in."""

from __future__ import annotations

import json
from urllib.parse import unquote, unquote_plus

from .errors import bad

METHODS = frozenset({"GET", "PUT", "DELETE", "POST"})
API_PREFIX = "/cloud/zone/"
NO_CONVERT = frozenset({"Remark"})  # the real API keeps string IDs in Remark even as bigint ints


class WireMiddleware:
    """Before routing: `POST` + `X-Sakura-HTTP-Method: X` becomes `X`; an API path's trailing `/`
    or `.json` (node-sacloud appends it) is dropped, so no client ever gets a redirect."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            scope = dict(scope)
            scope["method"] = tunnelled_method(scope["method"], scope.get("headers") or [])
            path = normalize_path(scope["path"])
            if path != scope["path"]:
                scope["path"], scope["raw_path"] = path, path.encode()
        await self.app(scope, receive, send)


def tunnelled_method(method: str, headers: list[tuple[bytes, bytes]]) -> str:
    """The method a request means: a POST's `X-Sakura-HTTP-Method` header (any case) wins."""
    if method.upper() != "POST":
        return method
    for name, value in headers:
        if name.decode("latin-1").lower() == "x-sakura-http-method":
            wanted = value.decode("latin-1").strip().upper()
            return wanted if wanted in METHODS else method
    return method


def normalize_path(path: str) -> str:
    if path.endswith(".json"):
        path = path[: -len(".json")]
    return path.rstrip("/") or "/"


def parse_json_object(raw: str | bytes, what: str) -> dict:
    """A JSON object from a body or query string, whatever its wrapping: raw, percent-encoded
    (with `+` or `%20` for spaces), `null`, empty or `{}` all work; anything else is 400."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = text.strip()
    if not text:
        return {}
    for candidate in dict.fromkeys((text, unquote(text), unquote_plus(text))):
        try:
            doc = json.loads(candidate)
        except ValueError:
            continue
        if doc is None:
            return {}
        if isinstance(doc, dict):
            return doc
        raise bad("invalid_format", f"{what}はJSONオブジェクトです。")
    raise bad("invalid_format", f"{what}のJSONが不正です。")


def parse_body(raw: bytes) -> dict:
    """A request body: JSON whatever the Content-Type (form-encoded included)."""
    return ids_as_str(parse_json_object(raw, "リクエストボディ"))


def parse_query(raw: str) -> dict:
    """A find query: the whole query string is one JSON object (no `key=`)."""
    q = parse_json_object(raw, "検索条件(クエリ)")
    if isinstance(q.get("Sort"), str):
        q["Sort"] = [q["Sort"]] if q["Sort"] else []
    return q


def ids_as_str(o):
    """Request IDs, numbers or strings, as strings."""
    if isinstance(o, dict):
        return {k: str(v) if k == "ID" and isinstance(v, int) and not isinstance(v, bool) else ids_as_str(v)
                for k, v in o.items()}
    if isinstance(o, list):
        return [ids_as_str(x) for x in o]
    return o


def render(o, bigint: bool):
    """A response document: integral floats as integers; with `bigint`, digit-string `*ID` fields
    as numbers (outside `Remark`, as the real API does)."""
    if isinstance(o, dict):
        return {k: _id_value(v, bigint) if k.endswith("ID")
                else (ints(v) if k in NO_CONVERT else render(v, bigint)) for k, v in o.items()}
    if isinstance(o, list):
        return [render(x, bigint) for x in o]
    if isinstance(o, float) and o.is_integer():
        return int(o)
    return o


def _id_value(v, bigint: bool):
    if bigint and isinstance(v, str) and v.isdigit():
        return int(v)
    return render(v, bigint)


def ints(o):
    """Integral floats as integers, nothing else changed."""
    if isinstance(o, dict):
        return {k: ints(v) for k, v in o.items()}
    if isinstance(o, list):
        return [ints(x) for x in o]
    if isinstance(o, float) and o.is_integer():
        return int(o)
    return o
