"""Prefect flows: orchestration only (the DAG, fan-out, retry policy, artifacts)."""
