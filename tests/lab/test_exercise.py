"""exercise_lab on a real local lab: every drill, with a probe through HAProxy counting what users saw.

It runs the drills once on the session's `built` lab (tests/lab/conftest.py), after the release tests and
before the exposure probes. Timings go to `python -m benchmarks drills`, not here.

    .venv/bin/python -m pytest tests/lab/test_exercise.py -q -x -s
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def exercised(built):
    from flows.exercise import exercise_lab

    report = exercise_lab(built.spec, fail_on_verdict=False)
    print("\n" + "\n".join(f"{d.name}: {d.verdict} ({d.why}) detect={d.detect_s} recover={d.recover_s} "
                            f"ok={d.ok} failed={d.failed}" for d in report.drills))
    return built.spec, report


def test_every_drill_ran_in_order_and_passed(exercised):
    _, report = exercised
    assert report.error == ""
    assert [d.name for d in report.drills] == ["scale", "rolling update", "rollback", "database restart", "worker down",
                                               "one manager down", "two managers down", "all managers down",
                                               "recovery"]
    assert [(d.name, d.why) for d in report.drills if not d.passed] == [], [
        (d.name, d.first_failures) for d in report.drills if not d.passed]


def test_each_drill_has_a_timeline_svg_with_one_bar_per_second_and_the_worker_down_markers(exercised):
    import math
    import xml.etree.ElementTree as ET
    from pathlib import Path

    from swarmlab.drills.timeline import slug

    _, report = exercised
    directory = Path(report.report_dir)
    assert (directory / "drills.md").is_file() and (directory / "index.html").is_file()
    ns = {"s": "http://www.w3.org/2000/svg"}
    for i, d in enumerate(report.drills):
        root = ET.parse(directory / f"{i:02d}-{slug(d.name)}.svg").getroot()
        seconds = root.findall("s:g[@class='second']", ns)
        assert len(seconds) == math.ceil(d.end_s - d.start_s), d.name
        assert sum(int(g.get("data-ok")) for g in seconds) >= d.ok > 0, d.name
        assert f'src="{i:02d}-{slug(d.name)}.svg"' in (directory / "index.html").read_text()
    worker = report.drill("worker down")
    root = ET.parse(directory / f"{report.drills.index(worker):02d}-{slug(worker.name)}.svg").getroot()
    assert [g.get("data-host") for g in root.findall("s:g[@class='event down']", ns)] == [worker.details["db_from"]]
    assert [g.get("data-host") for g in root.findall("s:g[@class='event up']", ns)] == [worker.details["db_from"]]


def test_no_failed_request_during_scaling_rolling_update_and_rollback(exercised):
    _, report = exercised
    for name in ("scale", "rolling update", "rollback"):
        d = report.drill(name)
        assert d.ok > 0 and d.failed == 0, (name, d.first_failures)
    update, back = report.drill("rolling update"), report.drill("rollback")
    assert update.details["image"].endswith("-v2") and not back.details["image"].endswith("-v2")


def test_no_failed_request_while_two_then_all_managers_are_down(exercised):
    _, report = exercised
    assert report.drill("one manager down").failed == 0
    two = report.drill("two managers down")
    assert two.ok > 0 and two.failed == 0, two.first_failures
    assert "does not have a leader" in two.details["message"]
    assert two.details["answers"].endswith("definitive")
    every = report.drill("all managers down")
    assert every.ok > 0 and every.failed == 0, every.first_failures


def test_worker_down_keeps_postgres_data_and_fails_no_request(exercised):
    _, report = exercised
    d = report.drill("worker down")
    assert d.details["data_intact"] is True
    assert d.details["db_to"] != d.details["db_from"]
    assert d.failure_bound == 0  # HAProxy retries the probe's GETs caught on the dead worker
    assert d.failed == 0, d.first_failures
    assert d.ok > 0 and d.detect_s is not None and d.recover_s is not None


def test_every_node_ready_and_the_stack_converged_at_the_end(exercised):
    spec, report = exercised
    from blocks.sakura import SakuraCloudCredentials
    from flows.session import open_fleet
    from swarmlab.release import deploy
    from swarmlab.drills.verdict import nodes_not_ready, stack_unconverged
    from swarmlab.cloud.provision import discover
    from swarmlab.swarm import node_table

    rec = report.drill("recovery")
    assert rec.passed and rec.details["quorum_s"] <= rec.details["all_ready_s"]
    assert report.total is not None and report.total.sent > 0
    client = SakuraCloudCredentials.from_env().client(spec.zone)
    inventory = discover(client, spec)
    assert {s.name: client.servers.get(s.id).status for s in inventory.servers} == \
        {s.name: "up" for s in inventory.servers}
    fleet = open_fleet(inventory, spec, None)
    try:
        session = fleet.session(spec.server_name(spec.managers[0]))
        expected = {spec.server_name(s) for s in spec.managers + spec.workers}
        assert nodes_not_ready(node_table(session), expected) == []
        assert stack_unconverged(deploy.observe(session, spec)) == {}
    finally:
        fleet.close()


def test_a_drill_that_fails_midway_still_leaves_the_lab_healed(exercised, monkeypatch):
    spec, _ = exercised
    from blocks.sakura import SakuraCloudCredentials
    from flows.exercise import exercise_lab
    from swarmlab.drills import steps
    from swarmlab.cloud.provision import discover

    def broken(lab):
        lab.power_off(spec.server_name(spec.workers[1]))
        lab.power_off(spec.server_name(spec.managers[0]))
        raise RuntimeError("a drill broke halfway")

    monkeypatch.setattr(steps, "scale", broken)
    with pytest.raises(RuntimeError, match="a drill broke halfway"):
        exercise_lab(spec)
    client = SakuraCloudCredentials.from_env().client(spec.zone)
    inventory = discover(client, spec)
    assert {s.name: client.servers.get(s.id).status for s in inventory.servers} == \
        {s.name: "up" for s in inventory.servers}
