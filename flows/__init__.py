"""Prefect flows: orchestration only (the DAG, fan-out, retry policy, artifacts)."""

from flows.logs import route_library_logs

route_library_logs()
