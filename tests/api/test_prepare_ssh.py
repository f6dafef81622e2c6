"""Waiting for a host to come back (reboot, drills) against a real sshd: only "not back yet" is waited out."""

from __future__ import annotations

import threading
import time

import pytest

from swarmlab.drills.steps import wait_for
from swarmlab.hosts import AuthFailed, CommandFailed, HostKeyMismatch, KnownHosts, Session, SSHKey
from swarmlab.hosts.prepare import gather, wait_rebooted
from tests.api.test_hosts_ssh import make_sshd


@pytest.fixture
def pinned(tmp_path):
    """A running sshd and a session to it whose host key is pinned (first contact made)."""
    sshd = make_sshd(tmp_path)
    sshd.start()
    session = Session(sshd.host(), sshd.client_key, KnownHosts(tmp_path / "pins.json"))
    boot = gather(session, []).boot
    yield sshd, session, boot
    session.close()
    sshd.stop()


def come_back(sshd, session, *, new_host_key=False, new_authorized_key=False) -> None:
    """As a reboot: sshd goes away with its connections, and comes back (optionally changed)."""
    sshd.stop()
    session.close()
    if new_host_key:
        sshd.new_host_key()
    if new_authorized_key:
        (sshd.dir / "authorized_keys").write_text(SSHKey.generate().key().public_line + " someone-else\n")
    sshd.procs.clear()
    sshd.start()


@pytest.mark.parametrize("change, error", [({"new_host_key": True}, HostKeyMismatch),
                                           ({"new_authorized_key": True}, AuthFailed)],
                         ids=["another host key", "our key refused"])
def test_reboot_wait_fails_at_once_when_the_host_comes_back_changed(pinned, change, error):
    sshd, session, boot = pinned
    come_back(sshd, session, **change)
    t0 = time.monotonic()
    with pytest.raises(error) as err:
        wait_rebooted(session, boot, timeout_s=120, interval_s=0.2)
    assert time.monotonic() - t0 < 5, f"{error.__name__} was waited on"
    assert err.value.host == "lab-manager01" and "lab-manager01" in str(err.value)


def test_reboot_wait_waits_out_a_host_that_is_down(pinned):
    sshd, session, _ = pinned
    sshd.stop()
    session.close()
    sshd.procs.clear()
    timer = threading.Timer(1.5, sshd.start, kwargs={"wait": False})
    t0 = time.monotonic()
    timer.start()
    try:
        facts = wait_rebooted(session, "the-boot-before", timeout_s=30, interval_s=0.2)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 >= 1.4 and facts.boot != "the-boot-before"


def test_reboot_wait_times_out_naming_the_host_and_the_last_answer(pinned):
    sshd, session, boot = pinned
    t0 = time.monotonic()
    with pytest.raises(CommandFailed, match=r"lab-manager01.*not back within 1 s; last: still the old boot"):
        wait_rebooted(session, boot, timeout_s=1, interval_s=0.2)
    assert time.monotonic() - t0 < 5


def test_drill_wait_fails_at_once_on_another_host_key(pinned):
    sshd, session, _ = pinned
    come_back(sshd, session, new_host_key=True)
    t0 = time.monotonic()
    with pytest.raises(HostKeyMismatch):
        wait_for("lab-manager01 answers", lambda: session.run("true").ok, timeout_s=60, interval_s=0.2)
    assert time.monotonic() - t0 < 5
