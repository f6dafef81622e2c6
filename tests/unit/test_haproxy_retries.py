"""The rendered retry settings in a real HAProxy on loopback: a GET caught on a dying backend (it closes
without answering, or never accepts the connection) is answered by another backend; a POST is not retried
once sent. The `defaults` section and the backend's request rules are taken verbatim from render_haproxy;
only the addresses (loopback) and the process settings (no chroot, user or daemon) differ."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from swarmlab.render.haproxy import CHECK, render_haproxy
from swarmlab.spec import local
from tests.unit.test_render_haproxy import _section
from swarmlab.sakura.wait import Deadline


class Ok(BaseHTTPRequestHandler):
    def _answer(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b"ok"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dying() -> Iterator[tuple[int, list[str]]]:
    """Accepts, reads the request, closes without a byte of answer (a worker killed mid-request)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    seen: list[str] = []

    def run():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            seen.append(c.recv(4096).split(b" ", 1)[0].decode())
            c.close()

    threading.Thread(target=run, daemon=True).start()
    try:
        yield srv.getsockname()[1], seen
    finally:
        srv.close()


@contextmanager
def black_hole() -> Iterator[int]:
    """A port whose SYNs go unanswered (accept queue full, never accepted): a powered-off worker."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    for _ in range(3):   # fill the accept queue; later SYNs are dropped
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", port))
        fillers.append(f)
    time.sleep(0.2)
    try:
        yield port
    finally:
        for f in fillers:
            f.close()
        srv.close()


@contextmanager
def haproxy(tmp_path: Path, ports: list[int], server_opts: str = "") -> Iterator[str]:
    """HAProxy with the rendered defaults and be_web rules, its servers on loopback `ports` in this order
    with `server_opts` (default none, no health check: each request meets the backends in round robin)."""
    spec = local()
    text = render_haproxy(spec, {spec.server_name(s): str(s.private_ip) for s in spec.servers})
    rules = [r for r in _section(text, "backend be_web") if not r.startswith(("server ", "option httpchk",
                                                                               "http-check"))]
    front = _free_port()
    cfg = "\n".join(["global", "    maxconn 256", "", "defaults",
                     *[f"    {d}" for d in _section(text, "defaults") if not d.startswith(("log ", "option httplog"))],
                     "", "frontend fe", f"    bind 127.0.0.1:{front}", "    default_backend be", "",
                     "backend be", *[f"    {r}" for r in rules],
                     *[f"    server s{i} 127.0.0.1:{p} {server_opts}".rstrip() for i, p in enumerate(ports)], ""])
    path = tmp_path / "haproxy.cfg"
    path.write_text(cfg)
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    proc = subprocess.Popen([binary, "-f", str(path), "-db"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = Deadline(10)
        while True:
            try:
                socket.create_connection(("127.0.0.1", front), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert not deadline.passed, "haproxy did not listen"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{front}/"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def healthy() -> Iterator[int]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_a_get_the_dying_backend_closes_on_is_answered_by_another_a_post_is_not(tmp_path, healthy):
    with dying() as (port, seen), haproxy(tmp_path, [port, healthy]) as url:
        gets = [requests.get(url, timeout=3) for _ in range(6)]
        assert [r.status_code for r in gets] == [200] * 6
        assert "GET" in seen                            # some GETs did reach the dying backend first
        posts = [requests.post(url, data=b"x", timeout=3).status_code for _ in range(6)]
        assert 502 in posts and 200 in posts            # sent to the dying one: not replayed
        assert "POST" in seen


def test_a_get_to_a_backend_that_never_accepts_is_answered_within_the_probe_timeout(tmp_path, healthy):
    with black_hole() as port, haproxy(tmp_path, [port, healthy]) as url:
        started = time.monotonic()
        codes = [requests.get(url, timeout=3).status_code for _ in range(4)]
        took = time.monotonic() - started
    assert codes == [200] * 4
    assert 1.0 <= took < 4 * 3    # two of them paid the 1 s connect timeout, then went to the other backend


def _burst(url: str, n: int = 20, every_s: float = 0.05) -> list:
    """`n` GETs `every_s` apart, each on its own connection, as the drills' probe sends them."""
    def one(i):
        time.sleep(i * every_s)
        try:
            return requests.get(url, timeout=3).status_code
        except requests.RequestException as e:
            return type(e).__name__
    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(one, range(n)))


@pytest.mark.parametrize("extra,lost", [("", False), (" on-marked-down shutdown-sessions", True)])
def test_a_dead_backend_under_load_with_the_rendered_health_options_costs_no_request(tmp_path, healthy, extra, lost):
    """The rendered check (observe layer4: one failed connect marks the server down) loses nothing; adding
    `on-marked-down shutdown-sessions` kills the requests still connecting to it (why it is not rendered)."""
    with black_hole() as port, haproxy(tmp_path, [port, healthy], CHECK + extra) as url:
        codes = _burst(url)
    failed = [c for c in codes if c != 200]
    assert bool(failed) is lost, codes
