"""flows.artifacts.Writer against a throwaway Prefect server: writes land in order, on the flow run that made
them; a failed write fails the flow, unless the flow failed first (its own error wins)."""

from __future__ import annotations

import threading

import pytest
from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

import flows.artifacts
from flows.artifacts import Writer


class BodyFailed(RuntimeError):
    pass


@flow
def staged(key: str, fail_write: bool = False, fail_body: bool = False) -> None:
    with Writer(key) as writes:
        progress = writes.progress(f"{key}-progress", "starting")
        for percent in (30.0, 65.0, 100.0):
            progress(percent, f"at {percent:.0f}")
        writes.submit(create_table_artifact, key=f"{key}-table", table=[{"stage": "done"}])
        if fail_write:
            writes.submit(lambda: 1 / 0)
        if fail_body:
            raise BodyFailed("the flow's own error")


def artifact(key: str):
    with get_client(sync_client=True) as client:
        (found,) = client.read_latest_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return found


def test_writes_land_in_order_on_the_flow_run(prefect_api):
    state = staged("aw-ok", return_state=True)
    assert state.is_completed(), state.message
    run_id = state.state_details.flow_run_id
    progress = artifact("aw-ok-progress")
    assert (progress.data, progress.description) == (100.0, "at 100")  # the last update, written last
    assert progress.flow_run_id == run_id
    assert artifact("aw-ok-table").flow_run_id == run_id


def test_a_failed_write_fails_the_flow(prefect_api):
    state = staged("aw-write", fail_write=True, return_state=True)
    assert state.is_failed()
    with pytest.raises(ZeroDivisionError):
        state.result()


def test_the_flows_own_error_wins(prefect_api):
    state = staged("aw-body", fail_write=True, fail_body=True, return_state=True)
    with pytest.raises(BodyFailed):
        state.result()


def test_a_burst_of_progress_updates_is_one_write_of_the_last(prefect_api, monkeypatch):
    sent = []
    real = flows.artifacts.update_progress_artifact
    monkeypatch.setattr(flows.artifacts, "update_progress_artifact",
                        lambda *a, **kw: (sent.append(a[1]), real(*a, **kw))[1])

    @flow
    def burst() -> None:
        gate = threading.Event()
        with Writer("aw-burst") as writes:
            progress = writes.progress("aw-burst-progress", "starting")
            writes.submit(gate.wait, 30)  # the writer is busy while the stages pass
            for percent in (30.0, 55.0, 65.0, 90.0):
                progress(percent, f"at {percent:.0f}")
            gate.set()
            writes.submit(gate.clear).result()
            progress(100.0, "at 100")  # after the writer caught up: written too

    assert burst(return_state=True).is_completed()
    assert sent == [90.0, 100.0]
    progress = artifact("aw-burst-progress")
    assert (progress.data, progress.description) == (100.0, "at 100")
