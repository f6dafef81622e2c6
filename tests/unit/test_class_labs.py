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
