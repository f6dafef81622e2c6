"""Service operations without a stack file (walkthrough steps 8-11): create, publish, scale, update, rollback.

Each operation is one docker CLI call on a manager (as root, so `--with-registry-auth` hands the
registry login to the workers), started detached (`-d`); `wait_service` then proves the outcome from
`docker service ls/ps/inspect` JSON: the running tasks are as many as asked, all on the image asked,
and no update or rollback is still in flight. Published ports use mode `host` by default (the local
lab has no IPVS; ingress would need it).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable

from pydantic import BaseModel

from swarmlab.hosts import CommandFailed, Session
from swarmlab.swarm.errors import SwarmError
from swarmlab.release.service_facts import (
    SERVICE_LS_COMMAND,
    ServiceInspect,
    ServiceRow,
    TaskRow,
    converged,
    parse_service_inspect,
    parse_service_ls,
    parse_service_ps,
    running_nodes,
    service_ps_command,
    strip_digest,
)
from swarmlab.sakura.wait import Poll

STEP_TIMEOUT_S = 180.0


class ServiceNotConverged(SwarmError):
    def __init__(self, host: str, service: str, step: str, why: str, timeout_s: float):
        super().__init__(host, f"service {service}: `{step}` did not converge within {timeout_s:g} s: {why}. "
                               f"See `docker service ps --no-trunc {service}` on {host}.")
        self.service, self.step, self.why = service, step, why


class ServiceState(BaseModel):
    name: str
    row: ServiceRow | None
    inspect: ServiceInspect | None
    tasks: list[TaskRow]

    @property
    def exists(self) -> bool:
        return self.inspect is not None

    @property
    def nodes(self) -> list[str]:
        return running_nodes(self.tasks)


class StepResult(BaseModel):
    step: str
    command: str
    replicas: int
    image: str
    nodes: list[str]
    seconds: float


class Port(BaseModel):
    published: int
    target: int
    mode: str = "host"

    def arg(self) -> str:
        return f"published={self.published},target={self.target},mode={self.mode}"


def observe_service(session: Session, name: str) -> ServiceState:
    q = shlex.quote(name)
    out = session.run(f"""{SERVICE_LS_COMMAND} --filter name={q}
echo '#--ps'
{service_ps_command(name)} 2>/dev/null
echo '#--inspect'
docker service inspect {q} 2>/dev/null || true
exit 0""", sudo=True, timeout_s=60).stdout
    ls_part, _, rest = out.partition("#--ps\n")
    ps_part, _, inspect_part = rest.partition("#--inspect\n")
    row = next((r for r in parse_service_ls(ls_part, session.name) if r.name == name), None)
    inspect = next((i for i in parse_service_inspect(inspect_part.strip() or "[]", session.name) if i.name == name),
                   None)
    tasks = [t for t in parse_service_ps(ps_part, session.name) if t.service == name]
    return ServiceState(name=name, row=row, inspect=inspect, tasks=tasks)


def wait_service(session: Session, name: str, *, replicas: int, image: str, step: str,
                 timeout_s: float = STEP_TIMEOUT_S, interval_s: float = 1.0) -> ServiceState:
    why = ""
    for attempt in Poll(f"service {name} ({step}) to converge", timeout_s, interval_s=interval_s):
        state = observe_service(session, name)
        ok, why = converged(state.row, state.inspect, state.tasks, replicas=replicas, image=image)
        if ok:
            return state
        attempt.note(why)
    raise ServiceNotConverged(session.name, name, step, why, timeout_s)


def wait_gone(session: Session, name: str, *, timeout_s: float = STEP_TIMEOUT_S, interval_s: float = 1.0) -> None:
    """Until the service is gone and none of its containers runs any more (so its host ports are free)."""
    for attempt in Poll(f"service {name} to be gone", timeout_s, interval_s=interval_s):
        state = observe_service(session, name)
        if not state.exists and not state.tasks:
            return
        attempt.note("still listed")
    raise ServiceNotConverged(session.name, name, "service rm", "still listed", timeout_s)


def _docker(session: Session, cmd: str) -> str:
    try:
        session.run(cmd, sudo=True, timeout_s=120)
    except CommandFailed as e:
        raise SwarmError(session.name, f"{e}") from None
    return cmd


def create(session: Session, name: str, image: str, replicas: int, *, port: Port | None = None,
           constraints: tuple[str, ...] = ("node.role == worker",)) -> str:
    args = [f"--name {shlex.quote(name)}", f"--replicas {replicas}"]
    args += [f"--constraint {shlex.quote(c)}" for c in constraints]
    if port:
        args.append(f"--publish {port.arg()}")
    return _docker(session, f"docker service create -d --quiet --with-registry-auth {' '.join(args)} "
                            f"{shlex.quote(image)}")


def publish_port(session: Session, name: str, port: Port) -> str:
    return _docker(session, f"docker service update -d --quiet --publish-add {port.arg()} {shlex.quote(name)}")


def scale(session: Session, name: str, replicas: int) -> str:
    return _docker(session, f"docker service scale -d {shlex.quote(name)}={replicas}")


def update_image(session: Session, name: str, image: str) -> str:
    return _docker(session, f"docker service update -d --quiet --with-registry-auth --image {shlex.quote(image)} "
                            f"{shlex.quote(name)}")


def rollback(session: Session, name: str) -> str:
    return _docker(session, f"docker service rollback -d --quiet {shlex.quote(name)}")


def remove(session: Session, name: str) -> str | None:
    """`docker service rm` when the service exists; the command run, or None."""
    if not observe_service(session, name).exists:
        return None
    return _docker(session, f"docker service rm {shlex.quote(name)}")


def node_versions(session: Session, urls: list[str]) -> dict[str, str]:
    """`/version` of the web image at each URL (fetched on `session`'s host): url → version ('' if none)."""
    import json

    script = "\n".join(f"echo \"{u} $(curl -sf -m 3 {shlex.quote(u)} | tr -d '\\n')\"" for u in urls)
    out = session.run(script + "\nexit 0", timeout_s=30 + 3 * len(urls)).stdout
    found = {}
    for line in out.splitlines():
        url, _, body = line.partition(" ")
        try:
            found[url] = json.loads(body).get("version", "") if body else ""
        except json.JSONDecodeError:
            found[url] = ""
    return {u: found.get(u, "") for u in urls}


def exercise(session: Session, name: str, image: str, image2: str, *, port: Port, node_ips: dict[str, str],
             scale_to: tuple[int, ...] = (3, 1), timeout_s: float = STEP_TIMEOUT_S,
             log: Callable[[str], None] = lambda _m: None) -> list[StepResult]:
    """create (2 replicas) → publish `port` → scale to each of `scale_to` → update to `image2` → rollback → rm.

    Every step is verified (replicas, image; after publish, update and rollback also the version served
    on the published port of every node running a task). Leftovers of an interrupted run are removed first.
    """
    results: list[StepResult] = []

    def step(label: str, cmd: str, replicas: int, want: str) -> None:
        t0 = time.monotonic()
        state = wait_service(session, name, replicas=replicas, image=want, step=label, timeout_s=timeout_s)
        if state.inspect and state.inspect.ports:
            expect = strip_digest(want).rsplit(":", 1)[-1]
            for attempt in Poll(f"service {name} ({label}) to serve {expect}", timeout_s, interval_s=0.5):
                if attempt.attempts > 1:
                    state = observe_service(session, name)
                urls = [f"http://{node_ips[n]}:{port.published}/version" for n in state.nodes if n in node_ips]
                seen = node_versions(session, urls)
                if urls and all(v == expect for v in seen.values()):
                    break
                attempt.note(f"versions served: {seen}")
            else:
                raise ServiceNotConverged(session.name, name, label, f"versions served: {seen}, want {expect}",
                                          timeout_s)
        results.append(StepResult(step=label, command=cmd, replicas=replicas, image=want, nodes=state.nodes,
                                  seconds=round(time.monotonic() - t0, 2)))
        log(f"{label}: {replicas} × {want} on {', '.join(state.nodes) or '-'}")

    if remove(session, name):
        wait_gone(session, name, timeout_s=timeout_s)
    step("create", create(session, name, image, 2), 2, image)
    step("publish", publish_port(session, name, port), 2, image)
    replicas = 2
    for n in scale_to:
        step(f"scale {n}", scale(session, name, n), n, image)
        replicas = n
    step("update", update_image(session, name, image2), replicas, image2)
    step("rollback", rollback(session, name), replicas, image)
    t0 = time.monotonic()
    cmd = remove(session, name) or "docker service rm"
    wait_gone(session, name, timeout_s=timeout_s)
    results.append(StepResult(step="remove", command=cmd, replicas=0, image="", nodes=[],
                              seconds=round(time.monotonic() - t0, 2)))
    log("remove: gone")
    return results
