"""Parsing `docker info` / `docker node ls` / `docker node inspect` output.

Fixtures are `docker info --format '{{json .Swarm}}'` from Docker 20.10.24 (Debian's docker.io in
the lab VM image). manager_leader, worker, deadline and no_leader were captured from a real
3-manager + 1-worker swarm of lab VM containers formed by swarmlab.swarm (deadline / no_leader: the
survivor after stopping dockerd on 2 managers, about 20 s apart); node IDs, cluster ID and the
10.213.77.0/24 addresses were rewritten to the seed's 192.168.1.0/24. The others are hand-written
in the same format.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from swarmlab.swarm import (
    LocalNodeState,
    SwarmNoLeader,
    is_no_leader,
    parse_node_inspect,
    parse_node_ls,
    parse_swarm_info,
    raise_if_no_leader,
)
from swarmlab.swarm.errors import SwarmFactsError
from swarmlab.swarm.facts import NODE_LS_COMMAND, SWARM_INFO_COMMAND

FIXTURES = Path(__file__).parent / "fixtures" / "docker_info"


def text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def test_fresh_node():
    f = parse_swarm_info(text("fresh"))
    assert f.local_node_state == LocalNodeState.inactive and not f.in_swarm
    assert (f.node_id, f.cluster_id, f.remote_managers, f.control_available) == ("", "", [], False)


def test_worker_in_swarm():
    f = parse_swarm_info(text("worker"))
    assert f.in_swarm and not f.is_manager
    assert f.cluster_id == ""  # workers do not know it (moby#32166)
    assert f.node_id == "r4t6y8u1i3o5p7a9s2d4f6g8j" and f.node_addr == "192.168.1.30"
    assert f.remote_manager_ips == {"192.168.1.20", "192.168.1.21", "192.168.1.22"}
    assert "192.168.1.21:2377" in f.remote_managers and len(f.remote_manager_ids) == 3


def test_manager_leader():
    f = parse_swarm_info(text("manager_leader"))
    assert f.is_manager and f.cluster_id == "x3d2wq0fvqy2qzvdh3wbm1u6g"
    assert (f.nodes, f.managers, f.error, f.no_leader) == (4, 3, "", False)


def test_foreign_swarm_node():
    f = parse_swarm_info(text("foreign_worker"))
    assert f.in_swarm and f.remote_manager_ips == {"10.20.0.5"}
    m = parse_swarm_info(text("foreign_manager"))
    assert m.is_manager and m.cluster_id == "e8j3kd9s0a7f6g5h4j3k2l1z0"


@pytest.mark.parametrize("fixture", ["no_leader", "deadline"])
def test_no_leader(fixture):
    f = parse_swarm_info(text(fixture))
    assert f.is_manager and f.cluster_id == "" and f.no_leader
    with pytest.raises(SwarmNoLeader) as info:
        raise_if_no_leader("lab-manager01", f.error)
    assert "lab-manager01" in str(info.value) and "more than half" in str(info.value).lower()
    assert pickle.loads(pickle.dumps(info.value)).host == "lab-manager01"


def test_no_leader_markers_in_cli_stderr():
    assert is_no_leader("Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a "
                        "leader. It's possible that too few managers are online.")
    assert is_no_leader("Error response from daemon: rpc error: code = DeadlineExceeded desc = context deadline exceeded")
    assert not is_no_leader("Error response from daemon: This node is not a swarm manager.")
    raise_if_no_leader("x", "all good")


def test_full_docker_info_and_locked():
    full = json.dumps({"ID": "abc", "Containers": 3, "Swarm": json.loads(text("worker"))})
    assert parse_swarm_info(full).node_id == "r4t6y8u1i3o5p7a9s2d4f6g8j"
    assert parse_swarm_info(text("locked")).local_node_state == LocalNodeState.locked


@pytest.mark.parametrize("bad", ["", "Cannot connect to the Docker daemon", '{"LocalNodeState":"weird"}', "[1]"])
def test_unparseable_info(bad):
    with pytest.raises(SwarmFactsError) as info:
        parse_swarm_info(bad, "lab-worker02")
    assert "lab-worker02" in str(info.value)


NODE_LS = """\
{"Availability":"Drain","EngineVersion":"20.10.24","Hostname":"swarmlab-manager01","ID":"k7q3n2x9w1e4r5t6y8u0i2o3p","ManagerStatus":"Leader","Self":true,"Status":"Ready","TLSStatus":"Ready"}
{"Availability":"Active","EngineVersion":"20.10.24","Hostname":"swarmlab-manager02","ID":"b5v8c1x3z7a9s2d4f6g8h0j1k","ManagerStatus":"Reachable","Self":false,"Status":"Ready","TLSStatus":"Ready"}
{"Availability":"Active","EngineVersion":"20.10.24","Hostname":"swarmlab-worker01","ID":"r4t6y8u1i3o5p7a9s2d4f6g8j","ManagerStatus":"","Self":false,"Status":"Down","TLSStatus":"Ready"}

"""


def test_node_ls():
    rows = parse_node_ls(NODE_LS)
    assert [r.hostname for r in rows] == ["swarmlab-manager01", "swarmlab-manager02", "swarmlab-worker01"]
    m1, m2, w1 = rows
    assert m1.id == "k7q3n2x9w1e4r5t6y8u0i2o3p" and m1.is_self and m1.is_leader and m1.drained and m1.ready
    assert m2.is_manager and not m2.is_leader and not m2.drained and not m2.is_self
    assert not w1.is_manager and not w1.ready and w1.engine_version == "20.10.24"
    assert parse_node_ls("") == []
    # a custom --format that appends the table's self marker still parses
    assert parse_node_ls('{"ID":"abc *","Hostname":"h"}')[0].id == "abc"
    with pytest.raises(SwarmFactsError):
        parse_node_ls("ID HOSTNAME STATUS")


def test_node_inspect():
    out = json.dumps([{
        "ID": "b5v8c1x3z7a9s2d4f6g8h0j1k", "Version": {"Index": 40},
        "Spec": {"Labels": {}, "Role": "manager", "Availability": "drain"},
        "Description": {"Hostname": "swarmlab-manager02", "Engine": {"EngineVersion": "20.10.24"}},
        "Status": {"State": "ready", "Addr": "192.168.1.21"},
        "ManagerStatus": {"Reachability": "reachable", "Addr": "192.168.1.21:2377"},
    }, {
        "ID": "r4t6y8u1i3o5p7a9s2d4f6g8j", "Spec": {"Role": "worker", "Availability": "active"},
        "Description": {"Hostname": "swarmlab-worker01"}, "Status": {"State": "down", "Addr": "192.168.1.30"},
    }])
    m2, w1 = parse_node_inspect(out)
    assert (m2.role, m2.addr, m2.manager_addr, m2.leader, m2.reachability) == (
        "manager", "192.168.1.21", "192.168.1.21:2377", False, "reachable")
    assert (w1.role, w1.state, w1.addr, w1.manager_addr) == ("worker", "down", "192.168.1.30", "")


class Recording:
    """A host that answers `docker node ls` and records every command (the observe logic, no SSH)."""

    def __init__(self, name: str, info: str = ""):
        self.name, self.info, self.commands = name, info, []

    def run(self, cmd, **_):
        from swarmlab.hosts import Result
        self.commands.append(cmd)
        return Result(exit_status=0, stdout=NODE_LS if "node ls" in cmd else self.info, stderr="")


def test_observe_asks_docker_info_only_of_hosts_whose_swarm_state_is_not_known():
    from swarmlab.spec import local
    from swarmlab.swarm.apply import observe

    spec = local("swarmlab")
    names = [spec.server_name(s) for s in spec.managers + spec.workers]
    sessions = {n: Recording(n, text("worker")) for n in names}
    known = {n: json.loads(text("manager_leader" if "manager" in n else "worker"))
             for n in names if n != "swarmlab-worker03"}
    facts, rows = observe(spec, sessions, known=known)
    assert list(facts) == names and facts["swarmlab-manager01"].control_available
    assert {n: s.commands for n, s in sessions.items() if s.commands} == {
        "swarmlab-manager01": [NODE_LS_COMMAND], "swarmlab-worker03": [SWARM_INFO_COMMAND]}
    assert [r.hostname for r in rows] == ["swarmlab-manager01", "swarmlab-manager02", "swarmlab-worker01"]
