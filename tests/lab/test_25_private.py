"""Issue 12 (host side): the swarm on the private switch, no join token on any command line or host log, and host
keys shipped and pinned before first contact.

    flock /tmp/swarmlab-docker.lock .venv/bin/python -m pytest tests/lab/test_25_private.py -q -x
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from pydantic import SecretStr

from swarmlab.hosts import HostError, HostKeyMismatch, SSHKey, wait_reachable
from swarmlab.cloud.secrets import host_key

pytestmark = pytest.mark.lab

TOKEN_MARK = "SWMTKN-1-"  # every swarm join token starts so
CANARY = "SWMTKN-1-canary"


class ArgvSampler:
    """`ps -eo args` on every host, again and again, from sessions of its own, while the block runs."""

    def __init__(self, lab):
        self.fleet = lab.fleet()
        self.names = self.fleet.names()
        self.samples: dict[str, list[str]] = {n: [] for n in self.names}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _loop(self, name: str) -> None:
        session = self.fleet.session(name)
        while not self._stop.is_set():
            try:
                self.samples[name].append(session.run("ps -ww -eo args", timeout_s=30).stdout)
            except HostError as e:  # e.g. a reboot after apt: the session reconnects on the next call
                self.errors.append(f"{name}: {e}")
                time.sleep(1)

    def __enter__(self):
        self.fleet.sessions(self.names)
        self._threads = [threading.Thread(target=self._loop, args=(n,), daemon=True) for n in self.names]
        for t in self._threads:
            t.start()
        time.sleep(1)
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(1)
        self._stop.set()
        for t in self._threads:
            t.join(60)
        self.fleet.close()

    def hits(self, mark: str) -> dict[str, list[str]]:
        return {n: [line for s in samples for line in s.splitlines() if mark in line]
                for n, samples in self.samples.items() if any(mark in s for s in samples)}


@pytest.fixture(scope="module")
def joined(lab):
    """bootstrap_swarm (every node joins when the lab is new) and then a worker's rejoin, under the sampler;
    a canary process with a token-like argument proves the sampler sees short-lived command lines."""
    from flows.bootstrap import bootstrap_swarm

    spec = lab.spec
    worker = spec.server_name(spec.workers[0])
    with ArgvSampler(lab) as sampler:
        fleet = lab.fleet()
        try:
            fleet.session(worker).run(f"bash -c 'sleep 2; true' {CANARY}")  # no exec: bash stays
        finally:
            fleet.close()
        changed = bootstrap_swarm(lab.inventory, spec)
        lab.drop_worker(worker)
        changed += bootstrap_swarm(lab.inventory, spec)
    return sampler, changed


def test_no_join_token_on_any_command_line_while_nodes_join(lab, joined):
    sampler, changed = joined
    worker = lab.spec.server_name(lab.spec.workers[0])
    assert f"{worker}: joined the swarm as worker via {lab.spec.managers[0].private_ip}:2377" in changed
    counts = {n: len(s) for n, s in sampler.samples.items()}
    assert min(counts.values()) >= 5, f"too few ps samples to mean anything: {counts} {sampler.errors[:3]}"
    assert list(sampler.hits(CANARY)) == [worker], f"the sampler missed the canary's command line: {counts}"
    leaks = {n: [re.sub(r"SWMTKN-1-\S+", "SWMTKN-1-***", line) for line in lines if CANARY not in line]
             for n, lines in sampler.hits(TOKEN_MARK).items()}
    assert not any(leaks.values()), f"a join token was on a command line (redacted here): {leaks}"


def test_no_join_token_in_any_host_log_or_journal(lab, joined):
    fleet = lab.fleet()
    try:
        # the pattern is split in the command so that sudo's own log line of this command cannot match it
        cmd = ("grep -rIl 'SWM''TKN-1-' /var/log 2>/dev/null; "
               "journalctl --no-pager -o cat 2>/dev/null | grep -c 'SWM''TKN-1-' || true")
        found = {n: fleet.session(n).run(cmd, sudo=True, timeout_s=120).stdout.split() for n in fleet.names()}
    finally:
        fleet.close()
    assert all(out == ["0"] for out in found.values()), f"join token found in host logs: {found}"


def test_swarm_ports_listen_on_the_private_address_only(lab, joined):
    spec = lab.spec
    fleet = lab.fleet()
    try:
        for server in (spec.managers[0], spec.workers[0]):
            s = fleet.session(spec.server_name(server))
            tcp = s.run("ss -Hltn", sudo=True).stdout
            udp = s.run("ss -Hlun", sudo=True).stdout
            addr = s.run("docker info --format '{{.Swarm.NodeAddr}}'", sudo=True).stdout.strip()
            assert addr == str(server.private_ip)
            local = [line.split()[3] for line in tcp.splitlines() + udp.splitlines() if line.split()]
            swarm = [a for a in local if a.rsplit(":", 1)[1] in ("2377", "7946")]
            assert swarm, f"{spec.server_name(server)}: nothing listens on 2377/7946: {local}"
            assert all(a.rsplit(":", 1)[0] == str(server.private_ip) for a in swarm), swarm
            if server.role.value == "manager":
                assert f"{server.private_ip}:2377" in swarm
    finally:
        fleet.close()


def test_every_server_presents_the_host_key_shipped_and_pinned_for_it(lab):
    from blocks.sakura import SakuraCloudCredentials

    root = SakuraCloudCredentials.from_env().access_token_secret
    fleet = lab.fleet()
    try:
        for info in lab.inventory.servers:
            want = host_key(SecretStr(root.get_secret_value()), lab.spec.name, info.name).public_key.split()[:2]
            pin = fleet.known_hosts.get(info.id)
            assert pin is not None and [pin.type, pin.key] == want, info.name
            s = fleet.session(info.name)
            assert s.run("cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[:2] == want
            assert s.run("ls /etc/ssh | grep '^ssh_host_' | sort").stdout.split() == [
                "ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]
    finally:
        fleet.close()


def test_a_server_presenting_another_host_key_is_refused_naming_it(lab):
    name = lab.spec.server_name(lab.spec.workers[-1])
    fleet = lab.fleet()
    other = SSHKey.generate("impostor").private_key.get_secret_value()
    s = fleet.session(name)
    swap = ("install -m 600 /dev/stdin /etc/ssh/ssh_host_ed25519_key.other && "
            "cp -p /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.kept && "
            "mv /etc/ssh/ssh_host_ed25519_key.other /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh")
    try:
        s.run(swap, sudo=True, input=other)
        with pytest.raises(HostKeyMismatch) as info:
            wait_reachable(fleet.hosts[name], fleet.key, fleet.known_hosts, timeout_s=30, hostkey_grace_s=2)
        assert name in str(info.value) and fleet.hosts[name].server_id in str(info.value)
    finally:  # the session opened before the swap survives sshd's restart: put the shipped key back
        s.run("mv /etc/ssh/ssh_host_ed25519_key.kept /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh",
              sudo=True)
        fleet.close()
    fleet = lab.fleet()
    try:
        assert fleet.session(name).run("hostname").stdout.strip() == name
    finally:
        fleet.close()
