"""TcpRelay over real loopback sockets: bytes both ways, half-close passed on, many connections, close."""

from __future__ import annotations

import socket
import threading

from swarmlab.hosts.engine import TcpRelay, addresses, reachable


def _upper_server():
    """A loopback server that answers each connection with the upper-cased bytes it read until EOF."""
    ls = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return ls


def _roundtrip(address: str, payload: bytes) -> bytes:
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)  # the server answers only after EOF: the relay must pass it on
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_relay_carries_bytes_both_ways_and_passes_the_half_close_on():
    ls = _upper_server()
    try:
        with TcpRelay(*ls.getsockname()) as relay:
            assert relay.address.startswith("127.0.0.1:")
            payload = bytes(range(97, 123)) * 40000  # ~1 MB, many recv() calls
            assert _roundtrip(relay.address, payload) == payload.upper()
            results = []
            threads = [threading.Thread(target=lambda i=i: results.append(_roundtrip(relay.address, b"c%d" % i)))
                       for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert sorted(results) == sorted(b"C%d" % i for i in range(8))
    finally:
        ls.close()


def test_a_closed_relay_no_longer_listens_and_an_unreachable_target_is_seen():
    ls = _upper_server()
    port = ls.getsockname()[1]
    relay = TcpRelay("127.0.0.1", port).start()
    address = relay.address
    relay.close()
    host, relay_port = address.split(":")
    assert not reachable(host, int(relay_port), timeout_s=1)
    ls.shutdown(socket.SHUT_RDWR)
    ls.close()
    assert not reachable("127.0.0.1", port, timeout_s=1)


def test_addresses_resolve_locally_or_not_at_all():
    assert addresses("localhost") >= {"127.0.0.1"}
    assert addresses("no-such-host.invalid") == set()


def test_an_upstream_that_fails_to_close_ends_its_connection_quietly():
    """A paramiko channel raises EOFError on close once its transport is gone: no traceback from the relay's
    thread, and the client's connection still ends."""
    from swarmlab.hosts.engine import Relay

    class Gone:
        def recv(self, n):
            return b""

        def sendall(self, data):
            raise OSError("transport gone")

        def shutdown(self, how):
            raise EOFError()

        def close(self):
            raise EOFError()

    class Dead(Relay):
        def _open(self):
            return Gone()

    failures = []
    hook, threading.excepthook = threading.excepthook, lambda args: failures.append(args.exc_type)
    try:
        with Dead() as relay:
            host, port = relay.address.split(":")
            with socket.create_connection((host, int(port)), timeout=10) as s:
                s.settimeout(10)
                assert s.recv(10) == b""
    finally:
        threading.excepthook = hook
    assert failures == []
