"""Which Prefect global limit paces an API root: SAKURA's own, or one per other endpoint."""

from flows.ratelimit import LIMIT, limit_name
from swarmlab.sakura.transport import DEFAULT_API_ROOT


def test_sakura_cloud_uses_the_one_shared_limit():
    assert limit_name(DEFAULT_API_ROOT) == LIMIT == "sakura-api"
    assert limit_name(DEFAULT_API_ROOT + "/") == LIMIT
    assert limit_name(None) == LIMIT


def test_another_root_gets_its_own_limit_named_by_host_and_port():
    assert limit_name("http://127.0.0.1:35101/cloud/zone") == "sakura-api-127.0.0.1-35101"
    assert limit_name("https://emu.example:8443/cloud/zone") == "sakura-api-emu.example-8443"
