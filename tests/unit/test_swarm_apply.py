"""apply_plan's command sequence and secret handling, over a recording stand-in for `hosts.Session`
and a recording joiner (the real one posts `/swarm/join` to the node's engine).

The real thing (paramiko ↔ sshd ↔ dockerd) is exercised by tests/api/test_hosts_ssh.py and the lab
tests; this checks the order of steps, the addresses and that join tokens never reach a command line.
"""

from __future__ import annotations

import threading

import pytest

from swarmlab import spec as specs
from swarmlab.hosts import CommandFailed, HostsFailed, Result
from swarmlab.swarm import (SwarmJoinFailed, SwarmNoLeader, apply_plan, node_table, parse_swarm_info, plan_swarm,
                            rotate_join_tokens)
from swarmlab.swarm.apply import join_request

WORKER_TOKEN = "SWMTKN-1-0k3w1x9workerworkerworkerworker-8c7d6e5f4g3h2j1k0l9m8n7b6"
MANAGER_TOKEN = "SWMTKN-1-0k3w1x9managermanagermanagermana-1a2s3d4f5g6h7j8k9l0z1x2c3"
LOG: list[tuple[str, str]] = []
LOCK = threading.Lock()


class Recorder:
    """Answers the docker commands apply_plan sends, like a node would."""

    def __init__(self, name: str, fail_join: str = "", stderr: str = ""):
        self.name = name
        self.fail_join = fail_join
        self.stderr = stderr

    def run(self, cmd, *, sudo=False, timeout_s=120, check=True, secrets=(), input=None):
        assert sudo, f"docker must run as root: {cmd}"
        with LOCK:
            LOG.append((self.name, cmd))
        if self.stderr:
            raise CommandFailed(self.name, cmd, 1, self.stderr, secrets=secrets)
        if "join-token" in cmd:
            out = (WORKER_TOKEN if cmd.endswith("worker") else MANAGER_TOKEN) + "\n"
        elif cmd.startswith("docker info"):
            out = '{"NodeID":"id-%s","LocalNodeState":"active","ControlAvailable":true}' % self.name
        else:
            out = ""
        return Result(exit_status=0, stdout=out, stderr="")


def joiner(session, action, token):
    """Records the Engine API request the real joiner sends (token in the body, never in a command)."""
    args = join_request(action, token)
    with LOCK:
        LOG.append((session.name, f"POST /swarm/join {args['remote_addrs'][0]} listen={args['listen_addr']} "
                                  f"advertise={args['advertise_addr']} data-path={args['data_path_addr']}"))
        JOINED.append((session.name, args["join_token"]))
    if session.fail_join:
        raise SwarmJoinFailed(action.host, action.manager_addr, session.fail_join)
    return f"{action.host}: joined the swarm as {action.role} via {action.manager_addr}"


JOINED: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def clear_log():
    LOG.clear()
    JOINED.clear()


SPEC = specs.seed("lab")
NAMES = [SPEC.server_name(s) for s in SPEC.managers + SPEC.workers]
IPS = {SPEC.server_name(s): str(s.private_ip) for s in SPEC.servers}


def fresh_plan():
    return plan_swarm(SPEC, IPS, {n: parse_swarm_info('{"LocalNodeState":"inactive"}') for n in NAMES})


def test_fresh_lab_command_sequence():
    sessions = {n: Recorder(n) for n in NAMES}
    changed = apply_plan(fresh_plan(), sessions, joiner=joiner)
    cmds = [(h, c) for h, c in LOG]
    assert cmds[0] == ("lab-manager01", "docker swarm init --listen-addr 192.168.1.20:2377 "
                                        "--advertise-addr 192.168.1.20 --data-path-addr 192.168.1.20")
    assert cmds[1] == ("lab-manager01", "docker swarm join-token -q worker")
    worker_joins = {h for h, c in cmds[2:5]}
    assert worker_joins == {"lab-worker01", "lab-worker02", "lab-worker03"}
    w1 = next(c for h, c in cmds[2:5] if h == "lab-worker01")
    assert w1 == ("POST /swarm/join 192.168.1.20:2377 listen=192.168.1.30:2377 advertise=192.168.1.30 "
                  "data-path=192.168.1.30")
    assert cmds[5] == ("lab-manager01", "docker swarm join-token -q manager")
    assert [h for h, _ in cmds[6:8]] == ["lab-manager02", "lab-manager03"]
    assert cmds[6][1] == ("POST /swarm/join 192.168.1.20:2377 listen=192.168.1.21:2377 advertise=192.168.1.21 "
                          "data-path=192.168.1.21")
    assert sorted(JOINED) == sorted([(f"lab-worker0{i}", WORKER_TOKEN) for i in (1, 2, 3)]
                                    + [(f"lab-manager0{i}", MANAGER_TOKEN) for i in (2, 3)])
    assert not any("SWMTKN" in c for _, c in LOG), "a join token reached a command line"
    drains = [c for h, c in cmds if "availability drain" in c]
    assert drains == [f"docker node update --availability drain id-lab-manager0{i}" for i in (1, 2, 3)]
    assert changed[0] == "lab-manager01: initialised a new swarm advertising 192.168.1.20"
    assert len(changed) == 1 + 5 + 3
    assert not any(WORKER_TOKEN in line or MANAGER_TOKEN in line for line in changed)


def test_noop_plan_runs_nothing():
    from swarmlab.swarm import SwarmPlan
    assert apply_plan(SwarmPlan(lab="lab", bootstrap="lab-manager01", bootstrap_addr="192.168.1.20",
                                noop="nothing"), {}, joiner=joiner) == []
    assert LOG == []


def test_failed_worker_joins_are_collected_and_redacted():
    sessions = {n: Recorder(n, fail_join="rpc error: code = Unavailable" if n == "lab-worker02" else "")
                for n in NAMES}
    with pytest.raises(HostsFailed) as err:
        apply_plan(fresh_plan(), sessions, joiner=joiner)
    assert list(err.value.errors) == ["lab-worker02"]
    assert isinstance(err.value.errors["lab-worker02"], SwarmJoinFailed)
    assert WORKER_TOKEN not in str(err.value) and "lab-worker02: joining the swarm via 192.168.1.20:2377" in str(err.value)
    # the other workers still joined; managers did not start joining after the failure
    assert {h for h, c in LOG if c.startswith("POST /swarm/join")} == {"lab-worker01", "lab-worker02", "lab-worker03"}


def test_node_table_no_leader():
    s = Recorder("lab-manager01", stderr="Error response from daemon: rpc error: code = Unknown desc = "
                                         "The swarm does not have a leader. It's possible that too few managers "
                                         "are online. Make sure more than half of the managers are online.")
    with pytest.raises(SwarmNoLeader) as err:
        node_table(s)
    assert err.value.host == "lab-manager01"


def test_rotate_join_tokens():
    tokens = rotate_join_tokens(Recorder("lab-manager01"))
    assert tokens.worker.get_secret_value() == WORKER_TOKEN and tokens.manager.get_secret_value() == MANAGER_TOKEN
    assert WORKER_TOKEN not in repr(tokens)
    assert [c for _, c in LOG] == ["docker swarm join-token --rotate -q worker",
                                   "docker swarm join-token --rotate -q manager"]


def test_join_request_puts_the_token_only_in_the_body():
    join = fresh_plan().joins[0]
    from pydantic import SecretStr
    args = join_request(join, SecretStr(WORKER_TOKEN))
    assert args == {"remote_addrs": ["192.168.1.20:2377"], "join_token": WORKER_TOKEN,
                    "listen_addr": f"{join.advertise_addr}:2377", "advertise_addr": join.advertise_addr,
                    "data_path_addr": join.advertise_addr}
