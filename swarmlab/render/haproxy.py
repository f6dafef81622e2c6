"""haproxy.cfg for the lab's HAProxy server: :80 → web, :8000 → app, over every worker.

Every worker is a backend server. With ingress publishing any worker answers (routing mesh); with host
publishing only workers running a task do, and the health check (`GET /healthz`, expect 200, every
second, down after 2 failures, up after 2 successes) takes the others out. The app's /healthz fails
while PostgreSQL is unreachable, so the app backend reports the database's state too.
The stats page listens on the HAProxy server's private address only.
"""

from __future__ import annotations

from swarmlab.render.stack import APP_PORT, WEB_PORT
from swarmlab.spec import LabSpec

STATS_PORT = 8404
CHECK = "check inter 1s fall 2 rise 2"


def _backend(spec: LabSpec, name: str, port: int) -> list[str]:
    lines = [
        f"backend {name}",
        "    balance roundrobin",
        "    option httpchk GET /healthz",
        "    http-check expect status 200",
    ]
    lines += [f"    server {spec.server_name(w)} {w.private_ip}:{port} {CHECK}" for w in spec.workers]
    return lines


def render_haproxy(spec: LabSpec) -> str:
    """The whole haproxy.cfg (it replaces Debian's default); deterministic."""
    lines = [
        f"# haproxy.cfg for lab {spec.name}: rendered by swarmlab.render.haproxy; do not edit.",
        "global",
        "    log /dev/log local0",
        "    log /dev/log local1 notice",
        "    chroot /var/lib/haproxy",
        "    stats socket /run/haproxy/admin.sock mode 660 level admin",
        "    stats timeout 30s",
        "    user haproxy",
        "    group haproxy",
        "    daemon",
        "    maxconn 4096",
        "",
        "defaults",
        "    log global",
        "    mode http",
        "    option httplog",
        "    option dontlognull",
        "    option forwardfor",
        "    option redispatch",
        "    retries 3",
        "    timeout connect 3s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout http-request 10s",
        "",
        "frontend fe_web",
        f"    bind *:{WEB_PORT}",
        "    default_backend be_web",
        "",
        "frontend fe_app",
        f"    bind *:{APP_PORT}",
        "    default_backend be_app",
        "",
        *_backend(spec, "be_web", WEB_PORT),
        "",
        *_backend(spec, "be_app", APP_PORT),
        "",
        "listen stats",
        f"    bind {spec.haproxy.private_ip}:{STATS_PORT}",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 5s",
        "    stats show-node",
    ]
    return "\n".join(lines) + "\n"
