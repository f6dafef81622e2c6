"""Which shared subnet an emulator instance started without --shared-subnet takes."""

from ipaddress import ip_network as net

from emulator.docker.networks import first_free_24


def test_the_first_24_that_overlaps_nothing():
    assert first_free_24([]) == "198.18.0.0/24"
    assert first_free_24([net("198.18.0.0/24"), net("198.18.1.0/24")]) == "198.18.2.0/24"
    assert first_free_24([net("198.18.0.0/23"), net("198.18.2.128/25"), net("172.17.0.0/16")]) == "198.18.3.0/24"


def test_one_just_taken_by_another_instance_is_skipped_and_a_full_pool_is_none():
    assert first_free_24([net("198.18.0.0/24")], {"198.18.1.0/24"}) == "198.18.2.0/24"
    assert first_free_24([net("198.18.0.0/16")], pool=net("198.18.0.0/16")) is None
    assert first_free_24([net("10.0.0.0/8")], pool=net("10.1.0.0/23")) is None
