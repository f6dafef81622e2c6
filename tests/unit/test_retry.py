import socket

import pytest
from prefect.states import Completed, Failed

from swarmlab.hosts import AuthFailed, HostUnreachable
from swarmlab.sakura.errors import Busy, SakuraConnectionError, Unauthorized
from swarmlab.sakura.transport import Transport
from tasks.retry import SSH_RETRY, TRANSIENT_RETRY, retry_on


def failed(exc: BaseException):
    return Failed(data=exc)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_transient_retry_fires_on_what_the_transport_raises_when_the_api_is_down(method):
    transport = Transport("tok", "sec", "is1a", api_root=f"http://127.0.0.1:{closed_port()}/cloud/zone",
                          rate_per_s=1000, max_retries=1, backoff_base_s=0.001, backoff_cap_s=0.01)
    with pytest.raises(SakuraConnectionError) as err:
        transport.request(method, "server", body={} if method == "POST" else None)
    assert err.value.attempts == 2, "a refused connection is retried by the transport first"
    assert TRANSIENT_RETRY["retry_condition_fn"](None, None, failed(err.value))


def test_transient_retry_only_on_busy_and_network_errors():
    cond = TRANSIENT_RETRY["retry_condition_fn"]
    assert cond(None, None, failed(Busy(503, "busy", "server busy", "GET", "/x")))
    assert not cond(None, None, failed(Unauthorized(401, "unauthorized", "bad key", "GET", "/x")))
    assert not cond(None, None, failed(ValueError("bug")))


def test_ssh_retry_only_while_a_host_is_unreachable():
    cond = SSH_RETRY["retry_condition_fn"]
    assert cond(None, None, failed(HostUnreachable("h1", "connection refused")))
    assert not cond(None, None, failed(AuthFailed("h1", "ubuntu")))


def test_a_completed_state_is_not_retried():
    assert not retry_on(ValueError)(None, None, Completed(data=1))
