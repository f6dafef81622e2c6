"""The docker backend's packet-filter rules, rendered for iptables-restore (pure)."""

from __future__ import annotations

import pytest

from emulator.backend import FilterRule as R
from emulator.docker.netfilter import chain_name, restore_input, rule_args


def test_each_sakura_rule_becomes_one_stateless_iptables_rule():
    ip = "198.18.77.10"
    assert rule_args(ip, R("tcp", "203.0.113.0/255.255.255.0", None, "22", "allow")) == \
        ["-d", "198.18.77.10/32", "-s", "203.0.113.0/24", "-p", "tcp", "--dport", "22", "-j", "RETURN"]
    assert rule_args(ip, R("udp", None, "53", "32768-61000", "allow")) == \
        ["-d", "198.18.77.10/32", "-p", "udp", "--sport", "53", "--dport", "32768:61000", "-j", "RETURN"]
    assert rule_args(ip, R("fragment", None, None, None, "allow"))[2:] == ["-f", "-j", "RETURN"]
    assert rule_args(ip, R("icmp", "198.18.77.1", None, None, "allow"))[2:] == \
        ["-s", "198.18.77.1/32", "-p", "icmp", "-j", "RETURN"]
    assert rule_args(ip, R("ip", None, None, None, "deny")) == ["-d", "198.18.77.10/32", "-j", "DROP"]
    with pytest.raises(ValueError, match="sctp"):
        rule_args(ip, R("sctp", None, None, None, "allow"))


def test_restore_input_replaces_only_the_instances_chain_and_comments_every_rule():
    table = {"198.18.77.11": [R("ip", None, None, None, "deny")],
             "198.18.77.9": [R("tcp", None, None, "22", "allow"), R("ip", None, None, None, "deny")]}
    text = restore_input("lab-emu", table)
    chain = chain_name("lab-emu")
    assert len(chain) <= 28 and chain != chain_name("lab-emu2")
    lines = text.splitlines()
    assert lines[:3] == ["*filter", f":{chain} - [0:0]", f"-F {chain}"] and lines[-1] == "COMMIT"
    rules = [x for x in lines if x.startswith("-A")]
    assert all(x.startswith(f"-A {chain} ") and '--comment "sakura-emulator:lab-emu"' in x for x in rules)
    assert [x.split()[3] for x in rules] == ["198.18.77.9/32", "198.18.77.9/32", "198.18.77.11/32"]
    assert restore_input("lab-emu", {}).splitlines() == ["*filter", f":{chain} - [0:0]", f"-F {chain}", "COMMIT"]
