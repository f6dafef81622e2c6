"""Pure parts of the SAKURA client: query encoding, filters, backoff, retry classification."""

import json
from urllib.parse import unquote

import pytest
import requests
import urllib3

from swarmlab.sakura.query import backoff_delay, encode_query, find_query, name_tags_filter, normalize_id
from swarmlab.sakura.transport import RateLimiter, Transport, request_not_sent, should_retry_status


def test_encode_query_is_compact_json_percent_encoded_whole():
    q = {"Filter": {"Name": ["lab-worker1"], "Tags.Name": [["swarmlab", "lab"]]}, "Count": 100}
    enc = encode_query(q)
    assert "=" not in enc and "&" not in enc and " " not in enc and "{" not in enc
    assert json.loads(unquote(enc)) == q
    assert unquote(enc) == json.dumps(q, separators=(",", ":"))


def test_encode_query_empty_gives_no_query_string():
    assert encode_query(None) == "" and encode_query({}) == ""
    t = Transport("t", "s", "is1a", api_root="http://x/cloud/zone/")
    assert t.url("switch") == "http://x/cloud/zone/is1a/api/cloud/1.1/switch"
    assert t.url("/note", zone="tk1b") == "http://x/cloud/zone/tk1b/api/cloud/1.1/note"
    url = t.url("switch", query={"Count": 1})
    assert url == "http://x/cloud/zone/is1a/api/cloud/1.1/switch?%7B%22Count%22%3A1%7D"


def test_encode_query_non_ascii_and_spaces():
    q = {"Filter": {"Name": ["東京 sw"]}}
    assert json.loads(unquote(encode_query(q))) == q


def test_name_tags_filter_exact_name_and_tags_and():
    assert name_tags_filter("lab-sw", ["swarmlab", "lab"]) == {
        "Name": ["lab-sw"], "Tags.Name": [["swarmlab", "lab"]]}
    assert name_tags_filter() == {}
    assert name_tags_filter(None, ["a"]) == {"Tags.Name": [["a"]]}
    assert name_tags_filter(None, None, Scope="shared", CPU=2) == {"Scope": ["shared"], "CPU": ["2"]}
    assert name_tags_filter("x", Provider__Class="containerregistry") == {
        "Name": ["x"], "Provider.Class": ["containerregistry"]}


def test_find_query_shape():
    assert find_query({"Name": ["a"]}, count=100, from_=0) == {"Count": 100, "Filter": {"Name": ["a"]}}
    assert find_query(None, count=10, from_=20, sort=["-ID"]) == {"Count": 10, "From": 20, "Sort": ["-ID"]}


@pytest.mark.parametrize("raw,want", [(113500000001, "113500000001"), ("113500000001", "113500000001"),
                                      (1.0, "1"), (" 42 ", "42")])
def test_normalize_id(raw, want):
    assert normalize_id(raw) == want


@pytest.mark.parametrize("bad", [True, None, 1.5, [1]])
def test_normalize_id_rejects(bad):
    with pytest.raises(TypeError):
        normalize_id(bad)


def test_backoff_schedule_is_exponential_capped_with_equal_jitter():
    lo = [backoff_delay(a, 0.5, 30, rand=lambda: 0.0) for a in range(10)]
    hi = [backoff_delay(a, 0.5, 30, rand=lambda: 1.0) for a in range(10)]
    assert hi[:7] == [0.5, 1, 2, 4, 8, 16, 30]
    assert all(h == 30 for h in hi[6:])
    assert lo == [h / 2 for h in hi]
    assert all(l <= backoff_delay(a, 0.5, 30) <= h for a, (l, h) in enumerate(zip(lo, hi)))


@pytest.mark.parametrize("method,status,code,want", [
    ("GET", 503, "busy", True), ("POST", 503, "busy", True), ("POST", 503, "too_many_request", True),
    ("PUT", 503, "operation_failure", True), ("POST", 503, "operation_failure", False),
    ("POST", 503, "", False), ("DELETE", 503, "", True),
    ("GET", 423, "locked", True), ("POST", 423, "locked", True),
    ("PUT", 409, "still_creating", True), ("POST", 409, "still_creating", True),
    ("PUT", 409, "conflict", False), ("DELETE", 409, "disconnect_b4_delete", False),
    ("GET", 401, "unauthorized", False), ("GET", 403, "forbidden", False),
    ("GET", 404, "not_found", False), ("POST", 400, "bad_request", False),
    ("GET", 500, "internal_server_error", False),
    ("GET", 504, "apiproxy_timeout", True), ("POST", 504, "apiproxy_timeout_non_get", False),
])
def test_retry_classification(method, status, code, want):
    assert should_retry_status(method, status, code) is want


def test_request_not_sent_only_for_connect_failures():
    pool = urllib3.HTTPConnectionPool("127.0.0.1")
    refused = requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(
        pool, "/", urllib3.exceptions.NewConnectionError(None, "refused")))
    dropped = requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("aborted"))
    assert request_not_sent(refused)
    assert request_not_sent(requests.exceptions.ConnectTimeout())
    assert not request_not_sent(dropped)
    assert not request_not_sent(requests.exceptions.ReadTimeout())


def test_rate_limiter_spaces_calls():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)

    rl = RateLimiter(10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        rl.acquire()
    assert slept == pytest.approx([0.1, 0.2, 0.3, 0.4])
    now[0] = 10.0
    assert rl.acquire() == 0.0
