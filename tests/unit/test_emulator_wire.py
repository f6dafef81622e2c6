"""The emulator's wire rules as pure functions (the conformance suite checks them over HTTP)."""

import pytest

from emulator.errors import ApiError
from emulator.wire import normalize_path, parse_body, parse_query, render, tunnelled_method


@pytest.mark.parametrize("header,value,method", [
    (b"x-sakura-http-method", b"PUT", "PUT"), (b"X-Sakura-HTTP-Method", b"delete", "DELETE"),
    (b"x-sakura-http-method", b"BREW", "POST"), (b"content-type", b"GET", "POST"),
])
def test_tunnelled_method(header, value, method):
    assert tunnelled_method("POST", [(header, value)]) == method
    assert tunnelled_method("GET", [(header, value)]) == "GET"


@pytest.mark.parametrize("raw", [b'{"A":{"ID":12}}', b'%7B%22A%22%3A%7B%22ID%22%3A12%7D%7D',
                                 b'{"A": {"ID": "12"}}'])
def test_bodies_in_any_wrapping(raw):
    assert parse_body(raw) == {"A": {"ID": "12"}}


@pytest.mark.parametrize("raw", [b"", b"null", b"{}", b"  "])
def test_empty_bodies(raw):
    assert parse_body(raw) == {}


@pytest.mark.parametrize("raw", [b"[1]", b"{x", b"42"])
def test_bad_bodies_are_400_invalid_format(raw):
    with pytest.raises(ApiError) as e:
        parse_body(raw)
    assert (e.value.status, e.value.code) == (400, "invalid_format")


def test_queries():
    assert parse_query('%7B%22Sort%22%3A%20%22%22%7D') == {"Sort": []}
    assert parse_query('{"Filter":{"Name":"a+b"}}') == {"Filter": {"Name": "a+b"}}
    assert parse_query('%7B%22Filter%22%3A+%7B%7D%7D') == {"Filter": {}}
    assert parse_query("null") == {} and parse_query("") == {}


def test_render_ids_and_numbers():
    doc = {"ID": "113100000001", "Plan": {"ID": 4}, "Remark": {"Plan": {"ID": "101"}, "Size": 2.0},
           "Price": {"Hourly": 9.0, "Rate": 0.5}, "ServiceClassID": "50001", "Name": "123"}
    assert render(doc, bigint=True) == {"ID": 113100000001, "Plan": {"ID": 4},
                                        "Remark": {"Plan": {"ID": "101"}, "Size": 2},
                                        "Price": {"Hourly": 9, "Rate": 0.5}, "ServiceClassID": 50001,
                                        "Name": "123"}
    assert render(doc, bigint=False)["ID"] == "113100000001"


def test_paths_never_redirect():
    assert normalize_path("/cloud/zone/is1a/api/cloud/1.1/server/") == "/cloud/zone/is1a/api/cloud/1.1/server"
    assert normalize_path("/cloud/zone/is1a/api/cloud/1.1/server.json") == "/cloud/zone/is1a/api/cloud/1.1/server"
