"""Prefect flows: orchestration only (the DAG, fan-out, retry policy, artifacts)."""

from flows import heartbeat
from flows.logs import route_library_logs

route_library_logs()
heartbeat.install()
