"""Pure parsers of what Docker says about services and their tasks (pyinfra style: command + process).

- `docker service ls --format '{{json .}}'`              → `list[ServiceRow]`   (`SERVICE_LS_COMMAND`)
- `docker service ps --no-trunc --format '{{json .}}'`   → `list[TaskRow]`      (`service_ps_command`)
- `docker service inspect <names>`                      → `list[ServiceInspect]`
- verdicts over them: `converged`, `last_task_error`, `image_matches`

Fixtures captured from Docker 20.10 in the lab are in tests/unit/fixtures/services/.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from swarmlab.swarm.facts import json_docs, json_lines

__all__ = [
    "SERVICE_LS_COMMAND",
    "ServiceInspect",
    "ServiceRow",
    "TaskRow",
    "converged",
    "image_matches",
    "last_task_error",
    "parse_service_inspect",
    "parse_service_ls",
    "parse_service_ps",
    "running_nodes",
    "service_ps_command",
    "strip_digest",
]

SERVICE_LS_COMMAND = "docker service ls --format '{{json .}}'"
_REPLICAS_RE = re.compile(r"^\s*(\d+)/(\d+)")


def service_ps_command(*services: str) -> str:
    return "docker service ps --no-trunc --format '{{json .}}' " + " ".join(shlex.quote(s) for s in services)


def stack_ls_command(stack: str) -> str:
    return f"docker service ls --filter label=com.docker.stack.namespace={shlex.quote(stack)} --format '{{{{json .}}}}'"


def strip_digest(image: str) -> str:
    """`repo:tag@sha256:…` → `repo:tag` (how the swarm pins what it resolved)."""
    return image.split("@", 1)[0]


def image_matches(actual: str, wanted: str) -> bool:
    """Same reference, ignoring the digest the swarm appends (unless `wanted` itself pins one)."""
    return actual == wanted if "@" in wanted else strip_digest(actual) == strip_digest(wanted)


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ServiceRow(Model):
    """One line of `docker service ls --format '{{json .}}'`."""

    id: str
    name: str
    mode: str = ""
    image: str = ""
    running: int = 0
    desired: int = 0
    ports: str = ""

    @property
    def converged(self) -> bool:
        return self.running == self.desired


def parse_replicas(text: str) -> tuple[int, int]:
    """`2/3`, `3/3 (max 1 per node)` → (running, desired); global services say e.g. `3/3` too."""
    m = _REPLICAS_RE.match(text or "")
    if not m:
        return 0, 0
    return int(m.group(1)), int(m.group(2))


def parse_service_ls(output: str, host: str = "?") -> list[ServiceRow]:
    rows = []
    for d in json_lines(output, "docker service ls", host):
        running, desired = parse_replicas(str(d.get("Replicas", "")))
        rows.append(ServiceRow(id=d.get("ID", ""), name=d.get("Name", ""), mode=d.get("Mode", ""),
                               image=d.get("Image", ""), running=running, desired=desired,
                               ports=d.get("Ports", "")))
    return rows


class TaskRow(Model):
    """One line of `docker service ps --no-trunc --format '{{json .}}'`."""

    id: str
    name: str                      # <service>.<slot>
    image: str = ""
    node: str = ""
    desired_state: str = ""
    current_state: str = ""        # e.g. "Running 6 seconds ago", "Rejected 1 second ago"
    error: str = ""
    ports: str = ""

    @property
    def service(self) -> str:
        return self.name.rsplit(".", 1)[0]

    @property
    def state(self) -> str:
        """The first word of CurrentState, lower case: running, preparing, rejected, failed, shutdown…"""
        return self.current_state.split(" ", 1)[0].lower() if self.current_state else ""

    @property
    def running(self) -> bool:
        return self.state == "running" and self.desired_state.lower() == "running"


def parse_service_ps(output: str, host: str = "?") -> list[TaskRow]:
    rows = []
    for d in json_lines(output, "docker service ps", host):
        err = str(d.get("Error", "") or "").strip()
        if len(err) >= 2 and err[0] == err[-1] == '"':
            err = err[1:-1]
        rows.append(TaskRow(id=d.get("ID", ""), name=d.get("Name", ""), image=d.get("Image", ""),
                            node=d.get("Node", ""), desired_state=d.get("DesiredState", ""),
                            current_state=d.get("CurrentState", ""), error=err, ports=d.get("Ports", "")))
    return rows


def running_nodes(tasks: list[TaskRow], service: str | None = None) -> list[str]:
    """Nodes with a running task (of `service`), sorted, each once."""
    return sorted({t.node for t in tasks if t.running and (service is None or t.service == service)})


def last_task_error(tasks: list[TaskRow], service: str | None = None) -> str:
    """The newest task error of `service` (docker lists the newest task of each slot first), '' if none."""
    for t in tasks:
        if (service is None or t.service == service) and t.error:
            return f"{t.name} on {t.node or '(no node)'}: {t.current_state}: {t.error}"
    for t in tasks:  # no error text, but not running either (e.g. Pending "no suitable node")
        if (service is None or t.service == service) and t.desired_state.lower() == "running" and not t.running:
            return f"{t.name} on {t.node or '(no node)'}: {t.current_state}"
    return ""


class PublishedPort(Model):
    target: int
    published: int
    protocol: str = "tcp"
    mode: str = "ingress"


class ServiceInspect(Model):
    """The useful part of `docker service inspect`."""

    id: str
    name: str
    image: str
    replicas: int | None = Field(None, description="None for global services")
    labels: dict[str, str] = Field(default_factory=dict)
    ports: list[PublishedPort] = Field(default_factory=list)
    previous_image: str = Field("", description="PreviousSpec's image: what a rollback returns to")
    update_state: str = Field("", description="UpdateStatus.State: updating, completed, paused, "
                                              "rollback_started, rollback_completed, …; '' if never updated")
    update_message: str = ""

    @property
    def stack(self) -> str:
        return self.labels.get("com.docker.stack.namespace", "")

    @property
    def update_done(self) -> bool:
        return self.update_state in ("", "completed", "rollback_completed")


def parse_service_inspect(output: str | list[dict[str, Any]], host: str = "?") -> list[ServiceInspect]:
    data = json_docs(output, "docker service inspect", host)
    out = []
    for s in data or []:
        spec = s.get("Spec") or {}
        prev = s.get("PreviousSpec") or {}
        mode = spec.get("Mode") or {}
        status = s.get("UpdateStatus") or {}
        ports = ((spec.get("EndpointSpec") or {}).get("Ports")) or []
        out.append(ServiceInspect(
            id=s.get("ID", ""), name=spec.get("Name", ""),
            image=((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", ""),
            replicas=(mode.get("Replicated") or {}).get("Replicas") if "Replicated" in mode else None,
            labels=spec.get("Labels") or {},
            ports=[PublishedPort(target=p.get("TargetPort", 0), published=p.get("PublishedPort", 0),
                                 protocol=p.get("Protocol", "tcp"), mode=p.get("PublishMode", "ingress"))
                   for p in ports],
            previous_image=((prev.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", ""),
            update_state=status.get("State", ""), update_message=status.get("Message", ""),
        ))
    return out


def converged(row: ServiceRow | None, inspect: ServiceInspect | None, tasks: list[TaskRow], *,
              replicas: int, image: str) -> tuple[bool, str]:
    """Is the service at `replicas` running tasks, all on `image`, with no update in flight?
    Returns (ok, why-not)."""
    if row is None or inspect is None:
        return False, "service not found"
    if not image_matches(inspect.image, image):
        return False, f"spec image is {strip_digest(inspect.image)}, want {image}"
    if inspect.replicas is not None and inspect.replicas != replicas:
        return False, f"spec asks {inspect.replicas} replicas, want {replicas}"
    if not inspect.update_done:
        return False, f"update state {inspect.update_state}: {inspect.update_message}"
    running = [t for t in tasks if t.running]
    if len(running) != replicas:
        return False, f"{len(running)}/{replicas} tasks running" + \
            (f" (last error: {last_task_error(tasks)})" if last_task_error(tasks) else "")
    stale = [t for t in running if not image_matches(t.image, image)]
    if stale:
        return False, f"{len(stale)} running task(s) still on {strip_digest(stale[0].image)}"
    if row.running != replicas or row.desired != replicas:
        return False, f"service ls says {row.running}/{row.desired}"
    return True, ""
