import requests
from prefect.states import Completed, Failed

from swarmlab.hosts import AuthFailed, HostUnreachable
from swarmlab.sakura.errors import Busy, Unauthorized
from tasks.retry import SSH_RETRY, TRANSIENT_RETRY, retry_on


def failed(exc: BaseException):
    return Failed(data=exc)


def test_transient_retry_only_on_busy_and_network_errors():
    cond = TRANSIENT_RETRY["retry_condition_fn"]
    assert cond(None, None, failed(Busy(503, "busy", "server busy", "GET", "/x")))
    assert cond(None, None, failed(requests.ConnectionError("refused")))
    assert not cond(None, None, failed(Unauthorized(401, "unauthorized", "bad key", "GET", "/x")))
    assert not cond(None, None, failed(ValueError("bug")))


def test_ssh_retry_only_while_a_host_is_unreachable():
    cond = SSH_RETRY["retry_condition_fn"]
    assert cond(None, None, failed(HostUnreachable("h1", "connection refused")))
    assert not cond(None, None, failed(AuthFailed("h1", "ubuntu")))


def test_a_completed_state_is_not_retried():
    assert not retry_on(ValueError)(None, None, Completed(data=1))
