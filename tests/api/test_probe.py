"""The probe against a real HTTP server on loopback that fails on purpose for a while."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from swarmlab.drills.probe import Probe, Sample, summarize


class Handler(BaseHTTPRequestHandler):
    failing = threading.Event()

    def do_GET(self):
        if self.failing.is_set():
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"down")
            return
        body = json.dumps({"hostname": f"app{self.server.server_port % 3}"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    Handler.failing.clear()


def test_counts_every_request_and_sees_failures_in_their_window(server):
    url = f"http://127.0.0.1:{server.server_port}/version"
    with Probe([url], allowed_hosts=set(), rate_per_s=40) as probe:
        time.sleep(0.5)
        Handler.failing.set()
        t_fail = probe.now()
        time.sleep(0.5)
        Handler.failing.clear()
        t_ok = probe.now()
        time.sleep(0.5)
    total = probe.summary()
    assert 40 <= total.sent <= 70
    assert total.failed > 5 and total.ok > 20
    assert probe.summary(0, t_fail - 0.1).failed == 0
    assert probe.summary(t_ok + 0.2).failed == 0
    assert list(total.served_by) == [f"app{server.server_port % 3}"]


def test_refuses_hosts_outside_the_lab():
    with pytest.raises(ValueError, match="not a lab host"):
        Probe(["http://10.1.2.3/"], allowed_hosts={"192.168.1.40"})


def test_summary_percentiles():
    samples = [Sample(t=i, url="u", status=200, latency_ms=float(i)) for i in range(1, 101)]
    s = summarize(samples + [Sample(t=101, url="u", status=0, latency_ms=2000, error="ConnectTimeout")])
    assert (s.sent, s.ok, s.failed) == (101, 100, 1)
    assert s.p50_ms == 51.0 and s.p99_ms == 99.0
    assert s.first_failures == ["101.0s u: ConnectTimeout"]
