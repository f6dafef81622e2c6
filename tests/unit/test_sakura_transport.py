"""Transport retry rules against a tiny real HTTP server on loopback (scripted answers)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from swarmlab.sakura import Busy, Conflict, SakuraClient, StillCreating
from swarmlab.sakura.errors import ServerError


class Scripted:
    """Answers requests from a list of (status, body); records what it saw."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.seen: list[dict] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.seen.append({"method": self.command, "path": self.path, "body": body,
                                   "headers": dict(self.headers)})
                status, doc = outer.answers.pop(0) if outer.answers else (200, {"is_ok": True})
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}/cloud/zone"

    def client(self, **kw) -> SakuraClient:
        return SakuraClient("tok", "sec", "is1a", api_root=self.root, rate_per_s=1000,
                            backoff_base_s=0.001, backoff_cap_s=0.01, poll_interval_s=0.01, **kw)


def err(status, code):
    return (status, {"is_fatal": True, "serial": "x", "status": f"{status}", "error_code": code,
                     "error_msg": "msg"})


@pytest.fixture
def scripted():
    servers = []

    def make(*answers):
        s = Scripted(answers)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.httpd.shutdown()


def test_post_retried_on_busy_then_succeeds(scripted):
    s = scripted(err(503, "busy"), err(503, "too_many_request"),
                 (201, {"is_ok": True, "Success": True, "Switch": {"ID": 113500000001, "Name": "sw"}}))
    sw = s.client().switches.create("sw", ["t"])
    assert sw.id == "113500000001" and len(s.seen) == 3
    req = s.seen[0]
    assert req["method"] == "POST" and req["path"] == "/cloud/zone/is1a/api/cloud/1.1/switch"
    assert json.loads(req["body"]) == {"Switch": {"Name": "sw", "Description": "", "Tags": ["t"]}}
    assert req["headers"]["X-Sakura-Bigint-As-Int"] == "1"
    assert req["headers"]["Authorization"].startswith("Basic ")


def test_post_not_retried_on_other_503(scripted):
    s = scripted(err(503, "operation_failure"))
    with pytest.raises(Busy):
        s.client().switches.create("sw", [])
    assert len(s.seen) == 1


def test_get_retried_on_any_503_and_423_and_gives_up(scripted):
    s = scripted(err(503, "service_unavailable"), err(423, "locked"), err(503, "busy"), err(503, "busy"))
    with pytest.raises(Busy) as ei:
        s.client(max_retries=3).switches.get("1")
    assert len(s.seen) == 4 and ei.value.attempts == 4 and "after 4 attempts" in str(ei.value)


def test_still_creating_retried_conflict_not(scripted):
    s = scripted(err(409, "still_creating"), err(409, "conflict"))
    with pytest.raises(Conflict) as ei:
        s.client().request("PUT", "server/1/power")
    assert ei.value.error_code == "conflict" and not isinstance(ei.value, StillCreating)
    assert len(s.seen) == 2


@pytest.mark.parametrize("status,code", [(400, "bad_request"), (403, "forbidden"), (404, "not_found"),
                                         (500, "internal_server_error"), (409, "disconnect_b4_delete")])
def test_no_retry(scripted, status, code):
    s = scripted(err(status, code))
    with pytest.raises(Exception) as ei:
        s.client().request("DELETE", "switch/1")
    assert ei.value.status == status and len(s.seen) == 1
    if status == 500:
        assert isinstance(ei.value, ServerError)


def test_find_query_and_paging(scripted):
    page1 = {"Total": 150, "From": 0, "Count": 100,
             "Switches": [{"ID": i, "Name": "sw", "Tags": ["a"]} for i in range(100)]}
    page2 = {"Total": 150, "From": 100, "Count": 50,
             "Switches": [{"ID": 100 + i, "Name": "sw" if i else "sw1", "Tags": ["a"]} for i in range(50)]}
    s = scripted((200, page1), (200, page2))
    found = s.client().switches.find("sw", ["a"])
    assert len(found) == 149 and all(f.name == "sw" for f in found)
    path, _, qs = s.seen[0]["path"].partition("?")
    assert path.endswith("/switch") and "=" not in qs
    assert json.loads(unquote(qs)) == {"Count": 100, "Filter": {"Name": ["sw"], "Tags.Name": [["a"]]}}
    assert json.loads(unquote(s.seen[1]["path"].partition("?")[2]))["From"] == 100


def test_delete_sends_json_body_and_power_off_is_idempotent(scripted):
    down = (200, {"is_ok": True, "Server": {"ID": 1, "Name": "s", "Instance": {"Status": "down"}}})
    up = (200, {"is_ok": True, "Server": {"ID": 1, "Name": "s", "Instance": {"Status": "up"}}})
    s = scripted(down, (200, {"is_ok": True}), up, err(409, "conflict"), down)
    c = s.client()
    assert c.servers.power_off("1").status == "down"          # already down: no DELETE sent
    assert c.servers.delete("1", with_disks=["7", 8]) is True
    assert s.seen[1]["method"] == "DELETE" and json.loads(s.seen[1]["body"]) == {"WithDisk": ["7", "8"]}
    assert c.servers.power_off("1", force=True).status == "down"  # 409 conflict, re-read: down
    assert json.loads(s.seen[3]["body"]) == {"Force": True}


def test_pacing_holds_across_threads(scripted):
    import time
    from concurrent.futures import ThreadPoolExecutor

    s = scripted()
    c = SakuraClient("tok", "sec", "is1a", api_root=s.root, rate_per_s=20)
    t0 = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: c.request("GET", "zone"), range(21)))
    assert time.monotonic() - t0 >= 0.95  # 21 requests at 20/s: the last leaves >= 1 s after the first
    assert len(s.seen) == 21


def test_pace_hook_runs_before_every_attempt_retries_included(scripted):
    s = scripted(err(503, "busy"), err(503, "busy"))
    paced: list[int] = []
    c = s.client(pace=lambda: paced.append(len(s.seen)))
    c.request("GET", "server")
    assert len(s.seen) == 3 and paced == [0, 1, 2]  # each before its request left
