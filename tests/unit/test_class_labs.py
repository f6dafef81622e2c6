"""A class of labs: names <prefix>-NN and subnets one after another, validated before anything is built."""

from ipaddress import IPv4Network

import pytest

from swarmlab.spec import class_labs


def test_class_names_and_subnets_follow_one_another():
    assert class_labs("class", 3, "192.168.100.0/24") == [
        ("class-01", IPv4Network("192.168.100.0/24")), ("class-02", IPv4Network("192.168.101.0/24")),
        ("class-03", IPv4Network("192.168.102.0/24"))]
    with pytest.raises(ValueError, match="leave the private ranges"):
        class_labs("class", 3, "192.168.254.0/24")
    with pytest.raises(ValueError, match="prefix 'Class'"):
        class_labs("Class", 2, "192.168.1.0/24")
    with pytest.raises(ValueError, match="1 to 50 labs"):
        class_labs("class", 0, "192.168.1.0/24")


def test_a_lab_takes_one_to_nine_workers_below_its_haproxy():
    from swarmlab.spec import local

    big = local("big", workers=9)
    assert [str(w.private_ip) for w in big.workers] == [f"192.168.1.{30 + i}" for i in range(9)]
    assert [big.server_name(w) for w in big.workers][-1] == "big-worker09"
    assert str(big.servers[-1].private_ip) == "192.168.1.40"
    with pytest.raises(ValueError, match="1 to 9 workers"):
        local("big", workers=10)
