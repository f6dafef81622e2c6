"""Controller hooks through prefect-shell, and the library's INFO progress lines in the Prefect run logs
(read back through the Prefect client), against a real emulator process and a throwaway Prefect server."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import Counter
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogHandler

import flows.build_and_destroy as bd
from flows.build_and_destroy import build_and_destroy
from flows.provision import provision
from flows.teardown import teardown_lab
from swarmlab.spec import local
from tasks.hooks import SMOKE_CHECK, HookFailed, run_hooks
from tests.api.test_provision_flow import listing


def run_logs(flow_run_id) -> list:
    """The run's logs as the Prefect API has them (the batched log worker flushed first)."""
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        return client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)


@flow
def hooked(commands: list[str], env: dict[str, str]) -> list[str]:
    return run_hooks("hk", "after_build", commands, env)


def test_hooks_run_through_prefect_shell_with_their_environment_and_log_their_output(prefect_api, tmp_path):
    out = tmp_path / "env.txt"
    env = {"LAB_NAME": "hk", "LAB_WEB_URL": "http://203.0.113.5/", "LAB_INVENTORY": '{"lab": "hk"}'}
    state = hooked([f'printf "%s|%s|%s" "$LAB_NAME" "$LAB_WEB_URL" "$LAB_INVENTORY" > {out}',
                    'echo "smoke ok for $LAB_NAME"'], env, return_state=True)
    assert state.is_completed(), state.message
    assert out.read_text() == 'hk|http://203.0.113.5/|{"lab": "hk"}'
    assert state.result() == ["smoke ok for hk"]
    messages = [r.message for r in run_logs(state.state_details.flow_run_id)]
    assert any("smoke ok for hk" in m for m in messages), messages  # streamed into the run's logs


def test_a_failing_hook_stops_its_list_and_fails_naming_lab_and_stage(prefect_api, tmp_path, monkeypatch):
    after, scripts = tmp_path / "after", tmp_path / "tmp"
    scripts.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scripts))  # where prefect-shell writes the hook's script
    state = hooked(["echo before", "exit 3", f"touch {after}"], {"LAB_NAME": "hk"}, return_state=True)
    assert state.is_failed()
    with pytest.raises(HookFailed, match=r"lab hk: hooks.after_build failed .*return code 3"):
        state.result()
    assert not after.exists(), "a command after the failing one ran (no strict mode)"
    assert list(scripts.iterdir()) == [], "the failed hook's script (its commands) was left behind"


def test_waits_log_their_progress_at_info_into_the_prefect_run(cloud_env, prefect_api):
    cloud_env.faults(delay_scale=0.3)  # servers take a few seconds to come up: their waits have something to say
    state = provision(local("lab-w"), return_state=True)
    try:
        assert state.is_completed(), state.message
        logs = run_logs(state.state_details.flow_run_id)
        waits = [r for r in logs if r.name.startswith("swarmlab") and r.message.startswith("waiting for")]
        assert waits and all(r.level == logging.INFO for r in waits), [r.message for r in logs][:40]
        assert any(r.message.endswith(" s") and ": " in r.message for r in waits), [r.message for r in waits]
        servers = [r.message for r in waits if r.message.startswith("waiting for 7 servers: ")]
        assert servers and servers[-1].startswith("waiting for 7 servers: 7 up, 0 creating or booting, "), servers
        assert any("creating or booting" in m and not m.startswith("waiting for 7 servers: 7 up") for m in servers)
        with get_client(sync_client=True) as client:
            assert client.read_flow_run(state.state_details.flow_run_id).name == "provision-lab-w"
    finally:
        cloud_env.faults(delay_scale=0.05)
        teardown_lab("lab-w", "is1a")
    assert listing(cloud_env, "lab-w") == Counter()


def test_a_failing_before_teardown_hook_is_logged_and_the_lab_is_torn_down(cloud_env, prefect_api, monkeypatch,
                                                                           tmp_path):
    seen = tmp_path / "seen"

    def build_then_fail(spec, credentials, ssh_key):  # the real provision, then a build step that fails
        provision(spec, credentials, ssh_key)
        raise RuntimeError("swarm step failed")

    monkeypatch.setattr(bd, "build", build_then_fail)
    spec = local("lab-h", hooks={"before_teardown": [f'echo "$LAB_NAME" > {seen}', "false"]})
    state = build_and_destroy(spec, drills=False, lab_prefix=None, return_state=True)
    assert state.is_failed()
    with pytest.raises(RuntimeError, match="swarm step failed"):
        state.result()
    assert seen.read_text().strip() == "lab-h"
    assert listing(cloud_env, "lab-h") == Counter(), "the failing before_teardown hook stopped the teardown"
    warnings = [r.message for r in run_logs(state.state_details.flow_run_id) if r.level == logging.WARNING]
    assert any("hooks.before_teardown failed" in m and "tearing down anyway" in m for m in warnings), warnings


@flow
def smoke(env: dict[str, str]) -> list[str]:
    return run_hooks(env["LAB_NAME"], "after_build", list(SMOKE_CHECK.after_build), env)


def test_the_demo_smoke_check_passes_on_an_answering_lab_and_fails_on_a_silent_one(prefect_api, tmp_path):
    (tmp_path / "docs").write_text("docs")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        ok = smoke({"LAB_NAME": "sm", "LAB_WEB_URL": base + "/", "LAB_DOCS_URL": base + "/docs"}, return_state=True)
        assert ok.is_completed(), ok.message
        assert ok.result()[-1] == f"smoke check: lab sm answers at {base}/ and {base}/docs"
        missing = smoke({"LAB_NAME": "sm", "LAB_WEB_URL": base + "/", "LAB_DOCS_URL": base + "/nothing"},
                        return_state=True)
        assert missing.is_failed()
        with pytest.raises(HookFailed, match="hooks.after_build failed"):
            missing.result()
    finally:
        server.shutdown()
