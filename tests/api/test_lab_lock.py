"""One writer per lab: the lab lock (a Prefect global concurrency limit) against a real Prefect server."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from prefect import flow, get_client
from prefect.variables import Variable
from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

from flows.lock import LabBusy, held_labs, lab_lock, lock_name
from flows.teardown import teardown_lab
from swarmlab.spec import local
from tests.api.test_provision_flow import EXPECTED, listing
from tests.conftest import ROOT


def active_slots(lab: str) -> int:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(lock_name(lab)).active_slots


def drop_limit(lab: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            client.delete_global_concurrency_limit_by_name(lock_name(lab))
        except Exception:  # noqa: BLE001 — absent already
            pass


@flow
def inner(lab: str) -> frozenset[str]:
    with lab_lock(lab, timeout_s=5):  # not reentrant → LabBusy after 5 s
        return held_labs()


@flow
def outer(lab: str) -> frozenset[str]:
    with lab_lock(lab):
        return inner(lab)


def test_lock_is_created_reentrant_in_subflows_and_released_on_error(prefect_api):
    drop_limit("lk-a")  # a missing limit would not limit anything: lab_lock creates it
    assert outer("lk-a") == frozenset({"lk-a"})  # inner would raise LabBusy if it waited for its parent
    assert active_slots("lk-a") == 0 and held_labs() == frozenset()

    with pytest.raises(ValueError, match="boom"):
        with lab_lock("lk-a"):
            assert active_slots("lk-a") == 1 and held_labs() == {"lk-a"}
            with lab_lock("lk-a"):
                raise ValueError("boom")
    assert active_slots("lk-a") == 0 and held_labs() == frozenset()
    with lab_lock("lk-a", timeout_s=2):  # free again
        pass


def test_a_second_writer_waits_logs_and_can_give_up(prefect_api, caplog):
    entered, release = threading.Event(), threading.Event()

    def holder():
        with lab_lock("lk-b"):
            entered.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert entered.wait(30)
        t0 = time.monotonic()
        with caplog.at_level(logging.INFO, logger="swarmlab.lock"), pytest.raises(LabBusy, match="lab lk-b is busy"):
            with lab_lock("lk-b", timeout_s=2):
                pytest.fail("entered a lab lock that another thread holds")
        assert time.monotonic() - t0 >= 1.9
        assert "waits for lab lk-b" in caplog.text and lock_name("lk-b") in caplog.text
        with lab_lock("lk-c", timeout_s=2):  # other labs are independent
            assert held_labs() == {"lk-c"}

        threading.Timer(1.0, release.set).start()
        t0 = time.monotonic()
        with lab_lock("lk-b", timeout_s=60):
            waited = time.monotonic() - t0
    finally:
        release.set()
        t.join(30)
    assert waited >= 0.9, "entered before the holder released"
    assert active_slots("lk-b") == 0


class BusyFront(ThreadingHTTPServer):
    """A loopback front to the Prefect server that answers 503 (as a SQLite server with its write lock taken
    does) to the first `busy[suffix]` requests whose path ends with `suffix`, and forwards everything else."""

    def __init__(self, upstream: str, busy: dict[str, int]):
        self.upstream, self.busy, self.refused = upstream.rstrip("/"), dict(busy), Counter()
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/api"


class _Forward(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _relay(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        front: BusyFront = self.server
        suffix = next((s for s in front.busy if self.path.endswith(s)), None)
        if suffix and front.refused[suffix] < front.busy[suffix]:
            front.refused[suffix] += 1
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        r = httpx.request(self.command, front.upstream + self.path.removeprefix("/api"), content=body,
                          headers=headers, timeout=30)
        self.send_response(r.status_code)
        for k, v in r.headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _relay


def test_a_busy_server_is_asked_again_by_the_lock_itself(prefect_api):
    """With the Prefect client's own retries off, a 503 to the lease request, the heartbeat write or the release
    would fail the lock (or, with them on, stall it 2 s and more): the lock asks again itself, and the heartbeat
    names its holder before the body starts."""
    busy = {"/increment-with-lease": 2, "/variables/name/swarmlab-lab-lk-e": 2, "/decrement-with-lease": 2}
    front = BusyFront(prefect_api, busy)
    threading.Thread(target=front.serve_forever, daemon=True).start()
    try:
        with temporary_settings({PREFECT_API_URL: front.url, PREFECT_CLIENT_MAX_RETRIES: 0}):
            with lab_lock("lk-e", timeout_s=30):
                assert active_slots("lk-e") == 1
                assert "pid" in Variable.get(lock_name("lk-e"))["holder"]
    finally:
        front.shutdown()
    assert front.refused == busy
    assert active_slots("lk-e") == 0


HOLD = ("import sys, time; from flows.lock import lab_lock\n"
        "with lab_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(600)")


def test_a_dead_holder_is_taken_over_once_its_heartbeat_is_stale(prefect_api, tmp_path, monkeypatch, caplog):
    import flows.lock

    monkeypatch.setattr(flows.lock, "STALE_S", 25.0)  # 90 s in production; the holder beats every 10 s
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    proc = subprocess.Popen([sys.executable, "-c", HOLD, "lk-d"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=open(tmp_path / "holder.log", "wb"), text=True)
    try:
        assert proc.stdout.readline().strip() == "held", (tmp_path / "holder.log").read_text()[-2000:]
        with pytest.raises(LabBusy):  # alive: not taken over
            with lab_lock("lk-d", timeout_s=8):
                pass
        proc.kill()  # dies holding the lock: no release, no more heartbeats
        proc.wait()
        t0 = time.monotonic()
        with caplog.at_level(logging.INFO, logger="swarmlab.lock"), lab_lock("lk-d", timeout_s=90):
            waited = time.monotonic() - t0
            assert active_slots("lk-d") == 1
    finally:
        proc.kill()
    assert 24 <= waited < 60, waited
    assert "takes over the lock of lab lk-d" in caplog.text and "pid" in caplog.text
    assert active_slots("lk-d") == 0


PROVISION = "import sys; from flows.provision import provision; from swarmlab.spec import local; " \
            "print('CREATED', provision(local(sys.argv[1])).created)"


def test_two_provisions_of_one_lab_at_once_build_one_lab(cloud_env, prefect_api, tmp_path):
    """Two processes (as two workers would) provision one lab at once: one lab, both see the same inventory."""
    cloud_env.faults(delay_scale=1.0)  # a provision takes ~10 s: the two runs surely overlap
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    logs = [tmp_path / f"provision-{i}.log" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", PROVISION, "lab-l"], cwd=ROOT, env=env,
                              stdout=open(log, "wb"), stderr=subprocess.STDOUT) for log in logs]
    try:
        codes = [p.wait(300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], [o[-2000:] for o in outputs]
    cloud_env.faults(delay_scale=0.05)
    assert listing(cloud_env, "lab-l") == EXPECTED, "two concurrent provisions made duplicates"
    created = sorted((next(line for line in o.splitlines() if line.startswith("CREATED")) for o in outputs), key=len)
    assert created[0] == "CREATED []", f"the run that waited still created something: {created}"
    assert any("waits for lab lab-l" in o for o in outputs), "neither run waited for the other"

    from blocks.sakura import SakuraCloudCredentials
    from swarmlab.cloud.provision import discover
    inv = discover(SakuraCloudCredentials.from_env().client("is1a"), local("lab-l"))
    assert len(inv.servers) == 7
    teardown_lab("lab-l", "is1a")
    assert listing(cloud_env, "lab-l") == Counter()
