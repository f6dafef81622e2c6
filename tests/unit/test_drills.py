"""Pure drill verdicts: judging a probe window, quorum answers, node readiness, stack
convergence (service fixtures), proof through HAProxy, and the markdown report."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmlab.release.deploy import StackStatus
from swarmlab.drills.probe import Sample, summarize
from swarmlab.drills.verdict import (
    DrillResult,
    DrillsFailed,
    ExerciseReport,
    edge_missing,
    judge,
    markdown,
    no_leader_kind,
    node_status,
    nodes_not_ready,
    stack_unconverged,
)
from swarmlab.swarm.facts import NodeRow, parse_swarm_info
from swarmlab.release.service_facts import parse_service_inspect, parse_service_ls, parse_service_ps

SERVICES = Path(__file__).parent / "fixtures" / "services"
DOCKER_INFO = Path(__file__).parent / "fixtures" / "docker_info"
NO_LEADER = ("Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader. "
             "It's possible that too few managers are online. Make sure more than half of the managers are online.")


def samples(ok: int, failed: int, start: float = 0.0) -> list[Sample]:
    out = [Sample(t=start + i * 0.05, url="http://198.18.70.9/", status=200, latency_ms=3) for i in range(ok)]
    out += [Sample(t=start + 0.01 + i * 0.05, url="http://198.18.70.9/", status=0, latency_ms=3000,
                   error="ReadTimeout") for i in range(failed)]
    return out


def test_judge_zero_failures_passes_and_one_failure_fails():
    ok = judge(DrillResult(name="rolling update"), summarize(samples(100, 0)), conditions={"3 on v2": True})
    assert ok.passed and (ok.ok, ok.failed, ok.failure_bound) == (100, 0, 0) and ok.why == "0 failed of 100"
    bad = judge(DrillResult(name="rolling update"), summarize(samples(100, 1)), conditions={"3 on v2": True})
    assert not bad.passed and "1 failed requests > 0 allowed" in bad.why
    assert bad.first_failures and "ReadTimeout" in bad.first_failures[0]


def test_judge_within_the_bound_reports_failures_and_passes():
    r = judge(DrillResult(name="worker down"), summarize(samples(300, 12)), bound=40,
              conditions={"postgres data intact after the move": True})
    assert r.passed and r.failed == 12 and r.failure_bound == 40 and "(bound 40)" in r.why
    over = judge(DrillResult(name="worker down"), summarize(samples(300, 41)), bound=40, conditions={})
    assert not over.passed and "41 failed requests > 40 allowed" in over.why


def test_judge_fails_on_a_broken_condition_or_an_empty_window():
    r = judge(DrillResult(name="worker down"), summarize(samples(50, 0)), bound=40,
              conditions={"postgres data intact after the move": False})
    assert not r.passed and r.why == "postgres data intact after the move"
    empty = judge(DrillResult(name="scale"), summarize([]), conditions={})
    assert not empty.passed and "no request" in empty.why


def test_no_leader_kinds_definitive_and_deadline():
    assert no_leader_kind(NO_LEADER) == "definitive"
    assert no_leader_kind("rpc error: code = DeadlineExceeded desc = context deadline exceeded") == "deadline"
    assert no_leader_kind("drill-manager03: `docker node ls` did not finish within 30 s; its channel was closed") \
        == "deadline"
    assert no_leader_kind("Cannot connect to the Docker daemon") == ""
    info = parse_swarm_info((DOCKER_INFO / "no_leader.json").read_text())
    assert no_leader_kind(info.error) == "definitive"


def _row(host: str, status: str, manager: str = "") -> NodeRow:
    return NodeRow(id=host, hostname=host, status=status, availability="Active", manager_status=manager)


def test_nodes_not_ready_names_unknown_down_and_missing_nodes():
    expected = {"m1", "m2", "m3", "w1"}
    rows = [_row("m1", "Ready", "Leader"), _row("m2", "Unknown", "Reachable"), _row("m3", "Down", "Unreachable")]
    assert nodes_not_ready(rows, expected) == ["w1 missing", "m2 Unknown", "m3 Down"]
    assert nodes_not_ready(rows + [_row("w1", "Ready")], {"m1", "w1"}) == []
    assert node_status(rows, "m3") == "Down" and node_status(rows, "zz") == ""


def _status(tag: str) -> StackStatus:
    ls = parse_service_ls((SERVICES / f"ls_{tag}.jsonl").read_text())
    ps = parse_service_ps((SERVICES / f"ps_{tag}.jsonl").read_text())
    inspect = parse_service_inspect((SERVICES / f"inspect_{tag}.json").read_text())
    name = inspect[0].name
    return StackStatus(services={"web": next((r for r in ls if r.name == name), None)},
                       inspects={"web": inspect[0]}, tasks={"web": [t for t in ps if t.service == name]})


def test_stack_unconverged_uses_each_services_own_spec():
    assert stack_unconverged(_status("rolled_back")) == {}
    updating = stack_unconverged(_status("updating"))
    assert set(updating) == {"web"} and updating["web"]
    missing = StackStatus(services={"db": None}, inspects={"db": None}, tasks={"db": []})
    assert stack_unconverged(missing) == {"db": "service not found"}


def test_edge_missing_counts_replicas_and_versions_answering_through_haproxy():
    seen = {"web": {"w1-web1": "v-1", "w2-web2": "v-1", "w3-web3": "v-1"},
            "app": {"w1-app1": "v-2", "w2-app2": "v-1"}}
    assert edge_missing(seen, {"web": 3}) == []
    assert edge_missing(seen, {"web": 3, "app": 3}) == ["app: 2/3 replicas answered (w1-app1, w2-app2)"]
    assert edge_missing(seen, {"app": 2}, {"app": "v-2"}) == ["app: w2-app2 not on v-2"]


def test_report_markdown_has_a_table_per_drill_and_says_failed():
    drills = [judge(DrillResult(name="scale", recover_s=12.3), summarize(samples(40, 0)), conditions={}),
              judge(DrillResult(name="worker down", detect_s=14.2, recover_s=31.0, notes=["db moved"]),
                    summarize(samples(600, 50)), bound=40, conditions={})]
    report = ExerciseReport(lab="drill", urls=["http://198.18.70.9/"], rate_per_s=20, drills=drills)
    text = markdown(report)
    assert text.startswith("# Drills on lab drill: FAILED")
    assert text.count("| time to detect | time to recover |") == 2
    assert "| – | 12.3 s | 40 | 0 | 0 | pass" in text
    assert "| 14.2 s | 31.0 s | 600 | 50 | 40 | fail: 50 failed requests > 40 allowed |" in text
    assert "- db moved" in text
    assert not report.passed and report.drill("scale").passed
    with pytest.raises(DrillsFailed, match="worker down: 50 failed requests > 40 allowed.*healed"):
        raise DrillsFailed(report)


def test_a_report_with_an_error_or_no_drill_did_not_pass():
    ok = judge(DrillResult(name="scale"), summarize(samples(10, 0)), conditions={})
    assert ExerciseReport(lab="x", urls=[], rate_per_s=20, drills=[ok]).passed
    assert not ExerciseReport(lab="x", urls=[], rate_per_s=20, drills=[ok], error="DrillTimeout: ...").passed
    assert not ExerciseReport(lab="x", urls=[], rate_per_s=20, drills=[]).passed
