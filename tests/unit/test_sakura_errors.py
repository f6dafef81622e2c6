"""SAKURA errors: typed, actionable, and never carrying the API secret."""

import logging
import pickle

import pytest
import requests

from swarmlab.sakura import (Busy, Conflict, NotFound, ResourceFailed, SakuraAPIError, SakuraClient,
                             StillCreating, Unauthorized, WaitTimeout, wait)
from swarmlab.sakura.errors import NoMatch, SakuraConnectionError, error_for
from swarmlab.sakura.transport import Transport

SECRET = "s3cr3t-VALUE-do-not-leak"


def _response(status, body, text=None):
    r = requests.Response()
    r.status_code = status
    r._content = (text if text is not None else __import__("json").dumps(body)).encode()
    r.headers["Content-Type"] = "application/json"
    return r


def test_error_classes_by_status_and_code():
    assert type(error_for(401, "unauthorized", "", "GET", "/is1a/switch")) is Unauthorized
    assert type(error_for(404, "not_found", "", "GET", "/is1a/switch/1")) is NotFound
    assert type(error_for(409, "still_creating", "", "PUT", "/p")) is StillCreating
    assert isinstance(error_for(409, "still_creating", "", "PUT", "/p"), Conflict)
    assert type(error_for(503, "too_many_request", "", "GET", "/p")) is Busy
    assert type(error_for(418, "teapot", "", "GET", "/p")) is SakuraAPIError


def test_unauthorized_message_says_what_to_do():
    e = error_for(401, "unauthorized", "認証に失敗しました", "GET", "/is1a/switch")
    s = str(e)
    assert "401" in s and "unauthorized" in s and "GET /is1a/switch" in s
    assert "access token" in s and "secret" in s and "credentials block" in s
    assert e.status == 401 and e.error_code == "unauthorized" and e.method == "GET" and e.path == "/is1a/switch"


def test_conflict_hints_by_code():
    assert "power the server off" in str(error_for(409, "server_power_must_be_down", "", "DELETE", "/p"))
    assert "quota" in str(error_for(409, "limit_count_in_account", "", "POST", "/p"))
    assert "after 9 attempts" in str(error_for(503, "busy", "", "GET", "/p", attempts=9))


def test_errors_pickle_round_trip():
    for e in [error_for(404, "not_found", "m", "GET", "/p", "abc", 2), WaitTimeout("disk 'd'", "available", "x", 5),
              ResourceFailed("disk 'd' (ID 1)", "availability=failed"), NoMatch("archive", "hint"),
              SakuraConnectionError("GET", "/p", "refused", 3)]:
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e) and str(back) == str(e)


def test_transport_scrubs_secret_from_server_supplied_text():
    t = Transport("token", SECRET, "is1a", api_root="http://127.0.0.1:9/cloud/zone")
    err = t._error(_response(401, {"is_fatal": True, "serial": "ab", "status": "401 Unauthorized",
                                   "error_code": "unauthorized",
                                   "error_msg": f"bad credentials token:{SECRET}"}), "GET", "/is1a/switch", 1)
    assert isinstance(err, Unauthorized)
    for text in (str(err), repr(err), str(err.args), err.message):
        assert SECRET not in text
    err2 = t._error(_response(503, None, text=f"<html>{SECRET}</html>"), "GET", "/p", 1)
    assert isinstance(err2, Busy) and SECRET not in str(err2)


def test_client_and_transport_repr_hide_secret():
    c = SakuraClient("abcdefghijkl", SECRET, "is1a")
    assert SECRET not in repr(c) and SECRET not in repr(c.transport) and SECRET not in str(vars(c))
    assert SECRET not in repr(vars(c.transport))


def test_connection_error_not_leaking_secret_and_no_post_retry(caplog):
    # nothing listens on port 9 of loopback: connect refused -> retried even for POST, then typed
    sleeps = []
    t = Transport("token", SECRET, "is1a", api_root="http://127.0.0.1:9/cloud/zone", max_retries=2,
                  rate_per_s=1000, sleep=sleeps.append)
    caplog.set_level(logging.DEBUG, logger="swarmlab.sakura")
    with pytest.raises(SakuraConnectionError) as ei:
        t.request("POST", "switch", body={"Switch": {"Name": "x"}})
    assert ei.value.attempts == 3 and len(sleeps) == 2
    assert SECRET not in str(ei.value) and SECRET not in caplog.text
    assert "POST /is1a/switch" in caplog.text


def test_wait_times_out_naming_resource_and_state():
    now = [0.0]

    def sleep(s):
        now[0] += s

    with pytest.raises(WaitTimeout) as ei:
        wait(lambda: {"Availability": "migrating"}, lambda o: False, lambda o: False, 10,
             "disk 'lab-worker1-disk' (ID 5)", wanted="available", poll_interval_s=2,
             state=lambda o: f"availability={o['Availability']}", clock=lambda: now[0], sleep=sleep)
    s = str(ei.value)
    assert "disk 'lab-worker1-disk' (ID 5)" in s and "availability=migrating" in s and "10 s" in s
    assert now[0] == 10


def test_wait_fails_fast_and_tolerates_404s():
    calls = []

    def fetch():
        calls.append(1)
        if len(calls) <= 2:
            raise error_for(404, "not_found", "", "GET", "/p")
        return "failed"

    with pytest.raises(ResourceFailed) as ei:
        wait(fetch, lambda o: False, lambda o: o == "failed", 100, "NFS 'n'", state=str,
             tolerate_not_found=2, sleep=lambda s: None)
    assert "NFS 'n'" in str(ei.value) and len(calls) == 3
    with pytest.raises(NotFound):
        wait(lambda: (_ for _ in ()).throw(error_for(404, "not_found", "", "GET", "/p")),
             lambda o: True, lambda o: False, 100, "x", sleep=lambda s: None)
