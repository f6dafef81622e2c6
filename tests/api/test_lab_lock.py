"""One writer per lab: the lab lock (a Prefect global concurrency limit) against a real Prefect server."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

import pytest
from prefect import flow, get_client

from flows.lock import LabBusy, held_labs, lab_lock, lock_name
from flows.provision import provision
from flows.teardown import teardown_lab
from swarmlab.spec import local
from tests.api.test_provision_flow import EXPECTED, listing


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
    t0 = time.monotonic()
    assert outer("lk-a") == frozenset({"lk-a"})
    assert time.monotonic() - t0 < 5, "the subflow waited for its parent's lock"
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


def test_two_provisions_of_one_lab_at_once_build_one_lab(cloud_env, prefect_api):
    spec = local("lab-l")
    results: dict[int, object] = {}

    def run(i: int) -> None:
        results[i] = provision(spec, return_state=True)

    runners = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for r in runners:
        r.start()
    for r in runners:
        r.join(300)
    assert all(s.is_completed() for s in results.values()), [s.message for s in results.values()]
    first, second = (results[i].result() for i in range(2))
    assert listing(cloud_env, "lab-l") == EXPECTED, "two concurrent provisions made duplicates"
    assert [s.id for s in first.servers] == [s.id for s in second.servers]
    assert (first.switch_id, first.nfs_id, first.registry_id) == (second.switch_id, second.nfs_id, second.registry_id)
    assert sorted([first.created, second.created], key=len)[0] == [], "the second run should have found it all"
    teardown_lab("lab-l", spec.zone)
    assert listing(cloud_env, "lab-l") == Counter()
