"""The stack file (compose v3.8) deployed with `docker stack deploy`: db, app and web on one overlay network
(`database: appliance`: app and web only, the app connecting to the database appliance on the lab switch).

Fixes the walkthrough's known flaws: postgres is not published and authenticates with scram-sha-256
(password from the external Docker secret `db_password`; trust only if the spec asks for it), its
volume is the directory the flow creates on the NFS share, and every image has an immutable tag.

Publishing follows the spec: `ingress` publishes through the routing mesh (needs IPVS); `host` binds
the port on the worker running the task, so at most one task per node (`max_replicas_per_node: 1`)
and updates stop a task before starting its replacement (a start-first replacement could not bind
the port, nor be placed elsewhere when every worker already runs one).

Stopping a web or app task never fails a user's request: the images drain on SIGTERM (their health
endpoints answer 503 for DRAIN_SECONDS while requests are still served, so HAProxy's check takes the
task out of rotation first), then stop gracefully, within `stop_grace_period`. The app's health check
(Docker's and HAProxy's) is /livez, which does not ask the database: a database moving to another
worker neither restarts the app tasks nor takes them all out of rotation.
"""

from __future__ import annotations

import re

import yaml
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from swarmlab.spec import LabSpec, check_stack

DB_PASSWORD_SECRET = "db_password"
DB_NAME = "app"
DB_USER = "app"
NETWORK = "net"
VOLUME = "pgdata"
APP_PORT = 8000
WEB_PORT = 80
PGDATA_MOUNT = "/var/lib/postgresql/data"  # the postgres image keeps PGDATA in a subdirectory of it

# Health checks, as exec-form commands (the images have no curl; web has no python): bash's /dev/tcp, the
# cheapest check that reads an HTTP status (a python3 one cost the app's worker 50 ms more CPU per check)
def _http_check(port: int, path: str) -> list[str]:
    return ["CMD", "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 "
            "&& head -n1 <&3 | grep -q ' 200 '"]


APP_HEALTHCHECK = _http_check(APP_PORT, "/livez")
WEB_HEALTHCHECK = _http_check(WEB_PORT, "/healthz")
DB_HEALTHCHECK = ["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]

#: seconds a stopping web/app task keeps serving with failing health checks: longer than HAProxy needs
#: to take it out of rotation (fall 2 × inter 1s, plus up to one interval until the next check)
DRAIN_SECONDS = 5
STOP_GRACE_PERIOD = "20s"  # > DRAIN_SECONDS + a graceful shutdown

# A docker image reference: [registry[:port]/]path[:tag][@digest]
_NAME_RE = re.compile(r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
                      r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class StackImages(BaseModel):
    """The three images the stack runs. Each must be pinned: an explicit tag other than `latest`,
    or a digest, so a rollback has something to roll back to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    web: str
    app: str
    postgres: str

    @field_validator("web", "app", "postgres")
    @classmethod
    def _immutable(cls, ref: str, info: ValidationInfo) -> str:
        field = info.field_name
        name, _, digest = ref.partition("@")
        tag = None
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name, tag = name.rsplit(":", 1)
        if not _NAME_RE.fullmatch(name):
            raise ValueError(f"{field}: {ref!r} is not a valid image reference")
        if digest:
            if not _DIGEST_RE.fullmatch(digest):
                raise ValueError(f"{field}: {ref!r} has a malformed digest (want sha256:<64 hex>)")
        elif tag is None:
            raise ValueError(f"{field}: {ref!r} has no tag (it would mean 'latest'); pin an immutable tag")
        if tag is not None:
            if not _TAG_RE.fullmatch(tag):
                raise ValueError(f"{field}: {ref!r} has an invalid tag {tag!r}")
            if tag.lower() == "latest":
                raise ValueError(f"{field}: {ref!r} uses the mutable tag 'latest'; pin an immutable tag")
        return ref


class _Flow(list):
    """A list dumped on one line (`[CMD, pg_isready, ...]`)."""


class _Dumper(yaml.SafeDumper):
    """Block style, sequences indented under their key, no anchors/aliases for shared sub-dicts."""

    def ignore_aliases(self, data) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def _port(port: int, mode: str) -> dict:
    return {"target": port, "published": port, "protocol": "tcp", "mode": mode}


def _update_configs(order: str) -> dict:
    return {
        "update_config": {"parallelism": 1, "delay": "5s", "order": order, "failure_action": "rollback",
                          "monitor": "10s"},
        "rollback_config": {"parallelism": 1, "order": order},
    }


def _deploy(replicas: int, endpoint_mode: str, placement: dict, updates: dict) -> dict:
    """A service's `deploy`: replicated, placed, updated and rolled back by `updates`, always restarted."""
    return {"mode": "replicated", "replicas": replicas, "endpoint_mode": endpoint_mode, "placement": placement,
            **updates, "restart_policy": {"condition": "any", "delay": "2s"}}


def stack_dict(spec: LabSpec, images: StackImages) -> dict:
    """The stack file as a plain dict (what render_stack dumps)."""
    check_stack(spec)       # a spec changed by model_copy was not validated again
    st = spec.stack
    host_mode = st.publish_mode == "host"
    order = "stop-first" if host_mode else "start-first"
    on_workers = {"constraints": ["node.role == worker"]}
    edge_placement = {**on_workers, "max_replicas_per_node": 1} if host_mode else on_workers
    secret = {"source": DB_PASSWORD_SECRET, "target": DB_PASSWORD_SECRET}
    secret_path = f"/run/secrets/{DB_PASSWORD_SECRET}"

    db_env = {"POSTGRES_USER": DB_USER, "POSTGRES_DB": DB_NAME, "POSTGRES_PASSWORD_FILE": secret_path}
    if st.postgres_trust_auth:
        db_env["POSTGRES_TRUST"] = "1"

    def edge(short: str, image: str, port: int, replicas: int, env: dict, healthcheck: dict, **extra) -> dict:
        """web's or app's service: named by node and slot, draining on SIGTERM, on the workers, rolled `order`."""
        return {"image": image, "hostname": f"{{{{.Node.Hostname}}}}-{short}{{{{.Task.Slot}}}}",
                "environment": {**env, "DRAIN_SECONDS": str(DRAIN_SECONDS)}, **extra,
                "ports": [_port(port, st.publish_mode)], "networks": [NETWORK], "healthcheck": healthcheck,
                "stop_grace_period": STOP_GRACE_PERIOD,
                "deploy": _deploy(replicas, st.endpoint_mode, edge_placement, _update_configs(order))}

    db_host, db_port = ("db", "5432") if spec.database == "swarm" else (str(spec.db_appliance_ip),
                                                                        str(spec.db_appliance.port))
    services = {
        "db": {
            "image": images.postgres,
            "environment": db_env,
            "secrets": [secret],
            "volumes": [{"type": "volume", "source": VOLUME, "target": PGDATA_MOUNT}],
            "networks": [NETWORK],
            # a task serves once its first check passed, one interval after it started (Docker 20.10 has no
            # start_interval): every service is checked every 2 s, so a new task serves 2 s after it started
            "healthcheck": {"test": _Flow(DB_HEALTHCHECK), "interval": "2s", "timeout": "3s", "retries": 5,
                            "start_period": "30s"},
            "stop_grace_period": "30s",
            "deploy": _deploy(1, st.endpoint_mode, {"constraints": ["node.role == worker"]}, {
                # never two postmasters on the same data directory
                "update_config": {"parallelism": 1, "order": "stop-first", "failure_action": "pause"},
                "rollback_config": {"parallelism": 1, "order": "stop-first"},
            }),
        },
        "app": edge("app", images.app, APP_PORT, st.app_replicas, {
            "DB_HOST": db_host, "DB_PORT": db_port, "DB_NAME": DB_NAME, "DB_USER": DB_USER,
            "DB_PASSWORD_FILE": secret_path}, {"test": _Flow(APP_HEALTHCHECK), "interval": "2s", "timeout": "5s",
                                               "retries": 4, "start_period": "20s"}, secrets=[secret]),
        "web": edge("web", images.web, WEB_PORT, st.web_replicas, {}, {
            "test": _Flow(WEB_HEALTHCHECK), "interval": "2s", "timeout": "3s", "retries": 4, "start_period": "5s"}),
    }
    out = {
        "version": "3.8",
        "services": services,
        "networks": {NETWORK: {"driver": "overlay", "attachable": True}},
        "volumes": {VOLUME: {"driver": "local", "driver_opts": {
            "type": "none", "o": "bind", "device": f"{spec.nfs.mount_point.rstrip('/')}/{spec.nfs.data_dir}"}}},
        "secrets": {DB_PASSWORD_SECRET: {"external": True}},
    }
    if spec.database == "appliance":   # the app connects to the database appliance on the lab switch
        del services["db"], out["volumes"]
    return out


def render_stack(spec: LabSpec, images: StackImages) -> str:
    """The stack file's YAML text; deterministic (same inputs, same bytes)."""
    header = (f"# swarmlab stack {spec.stack.name} for lab {spec.name} (profile {spec.profile}): "
              f"publish_mode={spec.stack.publish_mode}, endpoint_mode={spec.stack.endpoint_mode}.\n"
              f"# Rendered by swarmlab.render.stack; do not edit. Needs the external secret "
              f"'{DB_PASSWORD_SECRET}' and " + (
                  f"the directory\n# {spec.nfs.mount_point.rstrip('/')}/{spec.nfs.data_dir} (the NFS share) on every "
                  f"worker.\n" if spec.database == "swarm" else
                  f"the database appliance\n# at {spec.db_appliance_ip}:{spec.db_appliance.port} (user {DB_USER}).\n"))
    body = yaml.dump(stack_dict(spec, images), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     width=1000, allow_unicode=True)
    return header + body
