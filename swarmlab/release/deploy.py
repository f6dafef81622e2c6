"""deploy_stack: the db password secret, the rendered stack uploaded and deployed, then wait until it serves.

Idempotent: every service of the stack carries the label `swarmlab.stack-hash` (sha256 of the
rendered stack without that label). When all of the stack's services carry the hash of what we
would deploy now, nothing is uploaded or deployed; the run only waits until the stack serves.

"Serves" means: every service has its replicas running on the wanted image (docker service ls/ps/
inspect JSON), and every worker that should answer does over HTTP (`/healthz` on :80 and :8000,
asked from a manager over the private network; the app's /healthz fails without PostgreSQL). With
host publishing, the workers that should answer are those running a task; with ingress, all.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import time
from collections.abc import Callable, Mapping

import yaml
from pydantic import BaseModel, SecretStr

from swarmlab.hosts import CommandFailed, Session
from swarmlab.render.stack import (
    APP_PORT,
    DB_PASSWORD_SECRET,
    WEB_PORT,
    StackImages,
    _Dumper,
    render_stack,
    stack_dict,
)
from swarmlab.spec import LabSpec
from swarmlab.swarm.errors import SwarmError
from swarmlab.release.service_facts import (
    ServiceInspect,
    ServiceRow,
    TaskRow,
    converged,
    last_task_error,
    parse_service_inspect,
    parse_service_ls,
    parse_service_ps,
    running_nodes,
)
from swarmlab.sakura.wait import Poll

STACK_HASH_LABEL = "swarmlab.stack-hash"
_AGO_RE = re.compile(r"\s(?:less than )?(?:an?|\d+) \w+ ago")
STACK_DIR = "/var/lib/swarmlab/stacks"
SERVICES = ("db", "app", "web")
DEPLOY_TIMEOUT_S = 300.0
#: seconds between observations while a task still waits for its node or its image (each observation is three
#: `docker` CLI calls on the manager; a pull takes seconds, and a task then starts for one health-check interval)
PULLING_POLL_S = 2.0
_BEFORE_START = {"new", "pending", "assigned", "accepted", "preparing"}


class StackNotReady(SwarmError):
    """The stack did not converge or answer in time; names the stuck service and its last task error."""

    def __init__(self, host: str, stack: str, timeout_s: float, stuck: dict[str, str]):
        lines = "; ".join(f"{svc}: {why}" for svc, why in stuck.items())
        super().__init__(host, f"stack {stack} not ready after {timeout_s:g} s: {lines}. Look at "
                               f"`docker service ps --no-trunc <service>` on {host}; fix the cause (image, "
                               "placement, NFS directory, secret) and run deploy_stack again.")
        self.stack, self.stuck = stack, dict(stuck)


class StackStatus(BaseModel):
    """One look at the stack: per service its row, spec and tasks; per URL whether it answered."""

    services: dict[str, ServiceRow | None]
    inspects: dict[str, ServiceInspect | None]
    tasks: dict[str, list[TaskRow]]
    http: dict[str, bool] = {}

    def rows(self) -> list[dict]:
        return [{"service": name, "replicas": f"{r.running}/{r.desired}" if r else "-",
                 "image": r.image if r else "-", "nodes": ", ".join(running_nodes(self.tasks.get(name, [])))}
                for name, r in self.services.items()]


class DeployResult(BaseModel):
    stack: str
    stack_hash: str
    deployed: bool
    secret_created: bool
    status: StackStatus
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return self.deployed or self.secret_created


def stack_file(spec: LabSpec, images: StackImages) -> tuple[str, str]:
    """(YAML text to deploy, its hash): render_stack's output, with the hash as a label on every service."""
    digest = hashlib.sha256(render_stack(spec, images).encode()).hexdigest()
    d = stack_dict(spec, images)
    for svc in d["services"].values():
        svc["deploy"].setdefault("labels", {})[STACK_HASH_LABEL] = digest
    header = render_stack(spec, images).split("\nversion:", 1)[0] + "\n"
    body = yaml.dump(d, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True)
    return header + body, digest


def services_of(spec: LabSpec) -> tuple[str, ...]:
    """The stack's services: no `db` when the lab's database is the appliance."""
    return SERVICES if spec.database == "swarm" else tuple(s for s in SERVICES if s != "db")


def service_names(spec: LabSpec) -> dict[str, str]:
    """short name → swarm service name (`<stack>_<short>`)."""
    return {s: f"{spec.stack.name}_{s}" for s in services_of(spec)}


def wanted(spec: LabSpec, images: StackImages) -> dict[str, tuple[int, str]]:
    """short name → (replicas, image)."""
    out = {"db": (1, images.postgres), "app": (spec.stack.app_replicas, images.app),
           "web": (spec.stack.web_replicas, images.web)}
    return {k: v for k, v in out.items() if k in services_of(spec)}


# -- side effects --------------------------------------------------------------------------------

def ensure_db_secret(session: Session, password: SecretStr, name: str = DB_PASSWORD_SECRET) -> bool:
    """Create the Docker secret `name` from stdin unless it exists; True if created."""
    q = shlex.quote(name)
    if session.run(f"docker secret inspect {q} >/dev/null 2>&1", sudo=True, check=False, timeout_s=60).ok:
        return False
    session.run(f"docker secret create {q} -", sudo=True, input=password.get_secret_value(), secrets=[password],
                timeout_s=60)
    return True


def observe(session: Session, spec: LabSpec) -> StackStatus:
    """ls + ps + inspect of the stack's services in one SSH round trip."""
    names = service_names(spec)
    full = " ".join(shlex.quote(n) for n in names.values())
    out = session.run(f"""docker service ls --filter label=com.docker.stack.namespace={shlex.quote(spec.stack.name)} \
--format '{{{{json .}}}}'
echo '#--ps'
docker service ps --no-trunc --format '{{{{json .}}}}' {full} 2>/dev/null
echo '#--inspect'
docker service inspect {full} 2>/dev/null || true
exit 0""", sudo=True, timeout_s=60).stdout
    ls_part, _, rest = out.partition("#--ps\n")
    ps_part, _, inspect_part = rest.partition("#--inspect\n")
    rows = {r.name: r for r in parse_service_ls(ls_part, session.name)}
    tasks = parse_service_ps(ps_part, session.name)
    inspects = {i.name: i for i in parse_service_inspect(inspect_part.strip() or "[]", session.name)}
    return StackStatus(
        services={short: rows.get(n) for short, n in names.items()},
        inspects={short: inspects.get(n) for short, n in names.items()},
        tasks={short: [t for t in tasks if t.service == n] for short, n in names.items()},
    )


def up_to_date(status: StackStatus, digest: str) -> bool:
    """Every service of the stack exists and carries `digest`."""
    return all(i is not None and i.labels.get(STACK_HASH_LABEL) == digest for i in status.inspects.values())


def deploy(session: Session, spec: LabSpec, text: str) -> None:
    """Upload the stack file and `docker stack deploy --with-registry-auth --prune` as root."""
    path = f"{STACK_DIR}/{spec.stack.name}.yml"
    session.run(f"mkdir -p {STACK_DIR} && chmod 700 {STACK_DIR}", sudo=True, timeout_s=30)
    session.put(text, path, mode=0o600, sudo=True)
    session.run(f"docker stack deploy --with-registry-auth --prune -c {shlex.quote(path)} {shlex.quote(spec.stack.name)}",
                sudo=True, timeout_s=300)


def http_targets(spec: LabSpec, addresses: Mapping[str, str], status: StackStatus) -> list[str]:
    """URLs that must answer 200: /healthz of web (:80) and app (:8000) on each worker that serves them,
    at its address in `addresses` (server name → private IP)."""
    ip = {n: addresses[n] for n in (spec.server_name(w) for w in spec.workers)}
    urls = []
    for short, port in (("web", WEB_PORT), ("app", APP_PORT)):
        if spec.stack.publish_mode == "host":
            nodes = running_nodes(status.tasks.get(short, []))
        else:
            nodes = sorted(ip)
        urls += [f"http://{ip[n]}:{port}/healthz" for n in nodes if n in ip]
    return urls


def probe(session: Session, urls: list[str], timeout_s: float = 3) -> dict[str, bool]:
    """Which of `urls` answer 2xx when fetched with curl on `session`'s host (one SSH round trip)."""
    if not urls:
        return {}
    script = "\n".join(f"curl -sf -o /dev/null -m {timeout_s:g} {shlex.quote(u)} && echo ok={shlex.quote(u)} "
                       f"|| echo fail={shlex.quote(u)}" for u in urls)
    out = session.run(script + "\nexit 0", timeout_s=timeout_s * len(urls) + 30).stdout
    ok = {line[3:] for line in out.splitlines() if line.startswith("ok=")}
    return {u: u in ok for u in urls}


def stuck_services(spec: LabSpec, images: StackImages, status: StackStatus) -> dict[str, str]:
    """short name → why it is not ready (empty when every service converged)."""
    out = {}
    for short, (replicas, image) in wanted(spec, images).items():
        ok, why = converged(status.services.get(short), status.inspects.get(short), status.tasks.get(short, []),
                            replicas=replicas, image=image)
        if not ok:
            err = last_task_error(status.tasks.get(short, []))
            out[short] = why + (f"; last task error: {err}" if err and err not in why else "")
    return out


def wait_ready(session: Session, spec: LabSpec, addresses: Mapping[str, str], images: StackImages, *,
               timeout_s: float = DEPLOY_TIMEOUT_S, interval_s: float = 1.0, observed: StackStatus | None = None,
               log: Callable[[str], None] = lambda _m: None) -> StackStatus:
    """Poll until every service converged and every target URL answers; `StackNotReady` after `timeout_s`.
    `observed`: a status just observed, used for the first check instead of observing again."""
    last_why: dict[str, str] = {}  # log a change of reason, not every tick
    stuck: dict[str, str] = {}
    pulling = False

    def pause(seconds: float) -> None:  # `seconds` is shorter than interval_s only at the deadline
        time.sleep(PULLING_POLL_S if pulling and seconds >= interval_s else seconds)

    for attempt in Poll(f"stack {spec.stack.name} to serve", timeout_s, interval_s=interval_s, sleep=pause):
        status, observed = observed or observe(session, spec), None
        pulling = any(t.state in _BEFORE_START and t.desired_state.lower() == "running"
                      for tasks in status.tasks.values() for t in tasks)
        stuck = stuck_services(spec, images, status)
        if not stuck:
            urls = http_targets(spec, addresses, status)
            answers = probe(session, urls)
            status = status.model_copy(update={"http": answers})
            failing = [u for u, ok in answers.items() if not ok]
            if not failing and urls:
                return status
            stuck = {"http": f"not answering: {', '.join(failing) or 'no target'}"}
        key = {k: _AGO_RE.sub("", v) for k, v in stuck.items()}
        if key != last_why:
            log("waiting: " + "; ".join(f"{k}: {v}" for k, v in stuck.items()))
            last_why = key
        attempt.note("; ".join(f"{k}: {v}" for k, v in key.items()))
    raise StackNotReady(session.name, spec.stack.name, timeout_s, stuck)


def deploy_stack(session: Session, spec: LabSpec, addresses: Mapping[str, str], images: StackImages,
                 db_password: SecretStr, *, timeout_s: float = DEPLOY_TIMEOUT_S,
                 log: Callable[[str], None] = lambda _m: None) -> DeployResult:
    """Secret, upload, deploy (unless the deployed stack carries the same hash), wait until it serves.
    `addresses`: server name → private IP (the inventory's `private_ips`), where the checks go."""
    t0 = time.monotonic()
    created = ensure_db_secret(session, db_password)
    text, digest = stack_file(spec, images)
    before = observe(session, spec)
    deployed = False
    if not up_to_date(before, digest):
        log(f"deploying stack {spec.stack.name} ({digest[:12]}) from {session.name}")
        try:
            deploy(session, spec, text)
        except CommandFailed as e:
            raise SwarmError(session.name, f"{e}. Is {session.name} a manager with quorum, logged in to the "
                                           "registry (bootstrap_swarm does both)?") from None
        deployed = True
    else:
        log(f"stack {spec.stack.name} already at {digest[:12]}")
    status = wait_ready(session, spec, addresses, images, timeout_s=timeout_s, log=log,
                        observed=None if deployed else before)
    return DeployResult(stack=spec.stack.name, stack_hash=digest, deployed=deployed, secret_created=created,
                        status=status, seconds=round(time.monotonic() - t0, 2))
