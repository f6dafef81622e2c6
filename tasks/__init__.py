"""Thin Prefect tasks: one side effect each, idempotent, retried on transient errors only."""
