"""Flow run names after their lab (`build-<lab>`, `teardown-<lab>`, ...), and the flows' timeouts."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from prefect.context import FlowRunContext

#: generous bounds on a whole run (a stuck wait must not bill for days); each wait has its own, shorter one
TIMEOUT_S = {"build": 3600, "provision": 2400, "bootstrap": 2400, "exercise": 3600, "teardown": 1800,
             "build_and_destroy": 3 * 3600 + 1800, "guard": 1800, "services": 1800, "tokens": 900}


def param(ctx: FlowRunContext, name: str) -> Any:
    """A flow parameter as the run got it, else the flow's default."""
    if name in (ctx.parameters or {}):
        return ctx.parameters[name]
    default = inspect.signature(ctx.flow.fn).parameters.get(name) if ctx.flow else None
    return None if default is None or default.default is inspect.Parameter.empty else default.default


def lab_of(value: Any) -> str | None:
    """The lab name in a flow parameter: a LabSpec, its JSON (a deployment's parameters), or a name."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("name") or value.get("lab")
    return getattr(value, "name", None) or getattr(value, "lab", None)


def run_name(prefix: str, field: str = "spec", fallback: Callable[[FlowRunContext], str | None] | None = None
             ) -> Callable[[], str]:
    """A `flow_run_name` callable: `<prefix>-<lab>` from the flow parameter `field` (LabSpec, Inventory, name),
    or from `fallback(ctx)` when it gives a name."""

    def name() -> str:
        ctx = FlowRunContext.get()
        lab = None
        if ctx is not None:
            lab = fallback(ctx) if fallback else None
            lab = lab or lab_of(param(ctx, field))
        return f"{prefix}-{lab}" if lab else prefix

    name.__name__ = f"run_name_{prefix.replace('-', '_')}"
    return name
