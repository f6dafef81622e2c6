"""deployments/run-local.sh --postgres: a Prefect server on Debian's PostgreSQL, two process workers, and two labs
built and destroyed at once through `prefect deployment run` (build-and-destroy/on-demand ×2, one swarm worker
each, no drills). Kept (--keep) to be read through its own API and database, then `stop` leaves nothing."""

from __future__ import annotations

import glob
import os
import re
import subprocess
from pathlib import Path

import pytest

from emulator.process import RATE_PER_S
from tests.lab.run_local import leftovers, run_local

pytestmark = pytest.mark.lab

INSTANCE = "swarmlab-pg-test"  # own instance and subnets: other labs may run on this machine
LAB, SUBNET, SHARED = "pgtest", "192.168.86.0/24", "198.18.86.0/24"


def script(tmp_path: Path, *args: str, timeout: int):
    return run_local(tmp_path, *args, timeout=timeout, LAB=LAB, SUBNET=SUBNET, SHARED_SUBNET=SHARED,
                     INSTANCE=INSTANCE, SWARM_WORKERS="1")


def processes(*needles: str) -> list[str]:
    """Command lines of running processes that contain any of `needles`."""
    out = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if any(n in line for n in needles)]


def psql(cluster: str, port: str, sql: str) -> str:
    bin_dir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]).parent
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*as_pg, str(bin_dir / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", cluster, "-p",
                           port, "-d", "prefect", "-c", sql], capture_output=True, text=True, check=True,
                          cwd="/").stdout.strip()


def read_server(api: str, emulator_port: str) -> dict:
    """The kept server's view: the deployment's flow runs, which worker submitted each, the emulator's rate
    limit and any warning of a run that fell back to its own pacing."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId, LogFilter, LogFilterLevel
    from prefect.events.filters import EventFilter, EventNameFilter
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("build-and-destroy/on-demand")
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id])))
        events = client.read_events(EventFilter(event=EventNameFilter(name=["prefect.worker.submitted-flow-run"])),
                                    limit=50).events
        worker_of = {r.id.removeprefix("prefect.flow-run."): e.resource.name
                     for e in events for r in e.related if r.role == "flow-run"}
        limit = client.read_global_concurrency_limit_by_name(f"sakura-api-127.0.0.1-{emulator_port}")
        warnings = [log.message for log in client.read_logs(LogFilter(level=LogFilterLevel(ge_=30)), limit=200)]
    return {"runs": runs, "worker_of": worker_of, "limit": limit,
            "pace_warnings": [m for m in warnings if "rate limit" in m]}


def recorded(state: Path) -> tuple[list[int], list[str]]:
    """The pids and cluster dirs the script recorded as started (its `stop` reads the same file)."""
    pids, dirs = [], []
    path = state / "run-local.pids"
    for line in path.read_text().splitlines() if path.exists() else []:
        kind, what, *_ = line.split()
        if kind in ("worker", "server", "emulator"):
            pids.append(int(what))
        elif kind == "postgres":
            dirs.append(what)
    return pids, dirs


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_labs_at_once_on_a_postgres_backed_server_with_two_workers(tmp_path):
    assert glob.glob("/usr/lib/postgresql/*/bin/postgres"), \
        "Debian's PostgreSQL server is missing: apt-get install postgresql (scripts/bootstrap.sh installs it as root)"
    state = tmp_path / "run-local"
    pids: list[int] = []
    clusters: list[str] = []
    try:
        out = script(tmp_path, "--postgres", "--no-drills", "--keep", timeout=1500)
        pids, clusters = recorded(state)
        log = out.stdout[-5000:] + out.stderr[-3000:]
        assert out.returncode == 0, log
        assert len(pids) == 4 and len(clusters) == 1, "emulator, server, two workers and a cluster are kept"
        api = re.search(r"Prefect server (http://127\.0\.0\.1:\d+/api) .* on PostgreSQL", out.stdout)
        cluster = re.search(r"PostgreSQL 127\.0\.0\.1:(\d+)/prefect \(cluster (\S+)\)", out.stdout)
        emulator_port = re.search(r"emulator 127\.0\.0\.1:(\d+)", out.stdout)
        assert api and cluster and emulator_port, log
        seen = read_server(api[1], emulator_port[1])

        runs = seen["runs"]
        assert sorted(re.sub(r"-\d{8}-\d{4}$", "", r.name) for r in runs) == \
            [f"build-and-destroy-{LAB}-01", f"build-and-destroy-{LAB}-02"], [r.name for r in runs]
        assert all(r.state and r.state.type.value == "COMPLETED" for r in runs), [(r.name, r.state) for r in runs]
        workers = {seen["worker_of"].get(str(r.id)) for r in runs}
        assert len(workers) == 2 and all(w and w.startswith("run-local-") for w in workers), seen["worker_of"]
        first, second = sorted(runs, key=lambda r: r.start_time)
        assert second.start_time < first.end_time, "the two labs were built at once, not one after the other"
        for lab in (f"{LAB}-01", f"{LAB}-02"):
            assert re.search(rf"# Cost of `{lab}-\d{{8}}-\d{{4}}` \(is1a\): completed", out.stdout), log

        assert (seen["limit"].limit, seen["limit"].slot_decay_per_second) == (RATE_PER_S, RATE_PER_S)
        assert seen["pace_warnings"] == [], "every run paced its API calls through the shared limit"
        assert "shared by every run; no run paced on its own" in out.stdout, log
        for run in runs:
            assert f"run-local: {run.name}: Completed on worker {seen['worker_of'][str(run.id)]}" in out.stdout, log
        port, directory = cluster[1], cluster[2]
        assert int(psql(directory, port, "SELECT count(*) FROM flow_run")) >= 2, "the server's state is in PostgreSQL"
        assert int(psql(directory, port, "SELECT n_tup_upd FROM pg_stat_user_tables "
                                         "WHERE relname = 'concurrency_limit_v2'")) > 0, \
            "the runs took slots of the rate limit, a row in PostgreSQL"
        secret = state / "prefect-db.password"
        password = secret.read_text().strip()
        assert secret.stat().st_mode & 0o777 == 0o600
        logs = "".join(p.read_text(errors="replace") for p in state.glob("*.log"))
        assert password not in out.stdout + out.stderr + logs, "the database password is in no output or log"
        assert processes(password) == [], "the database password is on no command line"
    finally:
        stopped = script(tmp_path, "stop", timeout=300)
    assert stopped.returncode == 0, stopped.stdout[-2000:] + stopped.stderr[-2000:]
    assert leftovers(INSTANCE) == [], "the script stops and purges everything it started"
    assert [p for p in pids if alive(p)] == [], "no emulator, Prefect server or worker is left"
    assert processes(*clusters) == [] and not any(Path(d).exists() for d in clusters), "the cluster is stopped, removed"
    assert not (state / "prefect-db.password").exists()
