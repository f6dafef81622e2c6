"""Helpers of the conformance suite: a raw client that talks like SAKURA's older SDKs (saklient:
every non-GET tunnelled through POST + `X-Sakura-HTTP-Method`, JSON bodies sent as form-encoded,
queries as a whole percent-encoded JSON object), and a key-by-key shape check against real bodies."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

import requests
from swarmlab.sakura.wait import Deadline

FIXTURES = Path(__file__).resolve().parent.parent / "unit" / "fixtures" / "sakura"
ENVELOPE = {"is_ok", "Success", "Total", "From", "Count"}


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def naked_keys() -> set[str]:
    """Every field name of iaas-api-go's `naked` wire structs (see fixtures/sakura/README.md)."""
    return set(fixture("iaas-api-go-naked-keys.json"))


class Raw:
    """A client as saklient writes one; `bigint` adds `X-Sakura-Bigint-As-Int: 1` (as the Go SDKs do)."""

    def __init__(self, emu, zone: str = "is1a", bigint: bool = False):
        self.emu, self.zone = emu, zone
        self.s = requests.Session()
        self.s.auth = (emu.token, emu.secret)
        self.s.headers.update({"X-Requested-With": "XMLHttpRequest", "X-Sakura-Request-Format": "json",
                               "X-Sakura-No-Authenticate-Header": "1"})
        if bigint:
            self.s.headers["X-Sakura-Bigint-As-Int"] = "1"

    def send(self, method: str, path: str, body=None, query=None, tunnel: bool = True,
             header: str = "X-Sakura-HTTP-Method") -> requests.Response:
        url = self.emu.url(path, self.zone)
        if query is not None:
            url += "?" + quote(json.dumps(query))  # Python's default separators, encoded as a whole
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        wire = method
        if tunnel and method != "GET":
            wire, headers[header] = "POST", method
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        return self.s.request(wire, url, data=data, headers=headers, timeout=10, allow_redirects=False)

    def ok(self, method: str, path: str, body=None, query=None, **kw) -> dict:
        r = self.send(method, path, body, query, **kw)
        assert r.status_code in (200, 201, 202), f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    def wait(self, path: str, key: str, pred, timeout: float = 10.0) -> dict:
        return wait_for(self, path, key, pred, timeout)


def wait_for(api, path: str, key: str, pred, timeout: float, interval: float = 0.05) -> dict:
    """GET `path` through `api.ok` until `pred(body[key])`, within `timeout` seconds."""
    deadline = Deadline(timeout)
    while True:
        obj = api.ok("GET", path)[key]
        if pred(obj):
            return obj
        assert not deadline.passed, f"timed out waiting on {path}: {obj}"
        time.sleep(interval)


def shape(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return {str: "string", list: "list", dict: "object"}[type(v)]


def missing_keys(real, ours, path: str = "") -> list[str]:
    """Where `ours` lacks a key of the real body, or has another value shape. A real `null` says
    nothing about the shape, an empty real list nothing about its items, and a reference object may
    be `null` when there is nothing to refer to (no icon, no CD-ROM)."""
    out: list[str] = []
    if real is None or (isinstance(real, dict) and ours is None):
        return out
    if shape(real) != shape(ours):
        return [f"{path or '.'}: real {shape(real)}, ours {shape(ours)}"]
    if isinstance(real, dict):
        for k, v in real.items():
            if k not in ours:
                out.append(f"{path}.{k}: missing")
            else:
                out.extend(missing_keys(v, ours[k], f"{path}.{k}"))
    elif isinstance(real, list) and real and ours:
        out.extend(missing_keys(real[0], ours[0], f"{path}[0]"))
    return out


def invented_keys(ours, known: set[str], path: str = "") -> list[str]:
    """Keys of ours that neither the fixtures nor iaas-api-go's naked structs know."""
    out: list[str] = []
    if isinstance(ours, dict):
        for k, v in ours.items():
            if k not in known:
                out.append(f"{path}.{k}")
            out.extend(invented_keys(v, known, f"{path}.{k}"))
    elif isinstance(ours, list):
        for i, x in enumerate(ours):
            out.extend(invented_keys(x, known, f"{path}[{i}]"))
    return out


def all_keys(doc) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in all_keys(v)}
    if isinstance(doc, list):
        return {k for x in doc for k in all_keys(x)}
    return set()
