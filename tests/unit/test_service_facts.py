"""Parsers of docker service ls/ps/inspect JSON, over output captured from Docker 20.10 in the lab."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmlab.swarm.errors import SwarmFactsError
from swarmlab.release.service_facts import (
    converged,
    image_matches,
    last_task_error,
    parse_replicas,
    parse_service_inspect,
    parse_service_ls,
    parse_service_ps,
    running_nodes,
    service_ps_command,
    stack_ls_command,
)

FIX = Path(__file__).parent / "fixtures" / "services"
V1 = "rel.sakuracr.jp/web:v-6850af9ed26e"
V2 = "rel.sakuracr.jp/web:v-6850af9ed26e-v2"


def fx(name: str) -> str:
    return (FIX / name).read_text()


def state(tag: str):
    row = next(r for r in parse_service_ls(fx(f"ls_{tag}.jsonl")) if r.name == "nginxs")
    inspect = parse_service_inspect(fx(f"inspect_{tag}.json"))[0]
    ps = FIX / f"ps_{tag}.jsonl"
    return row, inspect, parse_service_ps(ps.read_text()) if ps.exists() else []


def test_service_ls():
    rows = parse_service_ls(fx("ls_created.jsonl"))
    assert [(r.name, r.running, r.desired, r.image, r.mode) for r in rows] == [("nginxs", 2, 2, V1, "replicated")]
    assert rows[0].converged
    assert parse_replicas("3/3 (max 1 per node)") == (3, 3)
    assert parse_replicas("0/1") == (0, 1)
    assert parse_replicas("") == (0, 0)


def test_service_ps_created():
    tasks = parse_service_ps(fx("ps_created.jsonl"))
    assert [t.name for t in tasks] == ["nginxs.1", "nginxs.2"]
    assert all(t.running and t.service == "nginxs" and image_matches(t.image, V1) for t in tasks)
    assert running_nodes(tasks) == ["rel-worker02", "rel-worker03"]
    assert tasks[0].ports == "*:8080->80/tcp"
    assert last_task_error(tasks) == ""


def test_service_ps_rejected_task_error_is_unquoted():
    tasks = parse_service_ps(fx("ps_broken.jsonl"))
    assert tasks[0].state == "rejected" and not tasks[0].running
    assert tasks[0].error == "No such image: rel.sakuracr.jp/web:v-000000000000"
    assert "broken.1 on rel-worker02: Rejected" in last_task_error(tasks)
    assert "No such image" in last_task_error(tasks, "broken")
    assert last_task_error(tasks, "other") == ""
    assert running_nodes(tasks) == []


def test_inspect_fields():
    i = parse_service_inspect(fx("inspect_created.json"))[0]
    assert i.name == "nginxs" and i.replicas == 2 and image_matches(i.image, V1) and "@sha256:" in i.image
    assert [(p.published, p.target, p.mode) for p in i.ports] == [(8080, 80, "host")]
    assert i.update_state == "" and i.update_done and i.previous_image == "" and i.stack == ""


def test_update_then_rollback_states():
    _, updating, _ = state("updating")
    assert updating.update_state == "updating" and not updating.update_done
    assert image_matches(updating.image, V2) and image_matches(updating.previous_image, V1)
    _, updated, _ = state("updated")
    assert updated.update_state == "completed" and updated.update_done
    _, back, _ = state("rolled_back")
    assert back.update_state == "rollback_completed" and back.update_done and image_matches(back.image, V1)
    rb = parse_service_inspect(fx("inspect_rolling_back.json"))[0]
    assert rb.update_state == "rollback_started" and not rb.update_done


def test_converged_verdicts():
    assert converged(*state("created"), replicas=2, image=V1) == (True, "")
    ok, why = converged(*state("created"), replicas=3, image=V1)
    assert not ok and "2 replicas" in why
    ok, why = converged(*state("created"), replicas=2, image=V2)
    assert not ok and "want " + V2 in why
    ok, why = converged(*state("updating"), replicas=2, image=V2)
    assert not ok and "updating" in why
    assert converged(*state("rolled_back"), replicas=2, image=V1)[0]
    ok, why = converged(None, None, [], replicas=1, image=V1)
    assert not ok and "not found" in why


def test_image_matches_ignores_swarm_digest_unless_pinned():
    assert image_matches(V1 + "@sha256:" + "a" * 64, V1)
    assert not image_matches(V1 + "@sha256:" + "a" * 64, V2)
    assert not image_matches(V1 + "@sha256:" + "a" * 64, V1 + "@sha256:" + "b" * 64)


def test_bad_output_is_a_typed_error():
    with pytest.raises(SwarmFactsError, match="not JSON"):
        parse_service_ls("ID NAME MODE\n")
    with pytest.raises(SwarmFactsError):
        parse_service_inspect("[{")
    assert parse_service_inspect("[]") == []


def test_commands_quote_names():
    assert service_ps_command("a b").endswith("'a b'")
    assert "com.docker.stack.namespace=stack01" in stack_ls_command("stack01")
