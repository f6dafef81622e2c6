"""haproxy.cfg for the lab's HAProxy server: :80 → web, :8000 → app, over every worker.

Every worker is a backend server. With ingress publishing any worker answers (routing mesh); with host
publishing only workers running a task do, and the health check (expect 200, every second, down after
2 failures, up after 2 successes) takes the others out: web `GET /healthz`, app `GET /livez` (not
/healthz, which asks PostgreSQL: a database moving to another worker would take every app server out
of rotation at once). Both answer 503 while a task drains before it stops.
No request is lost to a dying worker: every request opens its own server connection (no idle
connection to a dead worker is ever reused), a connect that fails or times out (1 s) is retried at once
on another worker, and a GET/HEAD that got no answer (empty response, server timeout) is retried too;
other methods are retried only when nothing was sent. One failed connection marks the worker down
(observe layer4); its sessions are left to their own retries (no `on-marked-down shutdown-sessions`).
docs/architecture.md (HAProxy) says why and what each setting costs.
The stats page listens on the HAProxy server's private address only.
"""

from __future__ import annotations

from collections.abc import Mapping

from swarmlab.render.stack import APP_PORT, WEB_PORT
from swarmlab.spec import LabSpec

STATS_PORT = 8404
CHECK_INTER_S, CHECK_FALL, CHECK_RISE = 1, 2, 2
CHECK = (f"check inter {CHECK_INTER_S}s fall {CHECK_FALL} rise {CHECK_RISE} "
         "observe layer4 error-limit 1 on-error mark-down")
#: what a request caught on a dying worker gets: retried on another one (GET/HEAD only once sent)
RETRY_ON = "conn-failure empty-response response-timeout"
CHECK_PATHS = {"be_web": "/healthz", "be_app": "/livez"}


def _backend(spec: LabSpec, addresses: Mapping[str, str], name: str, port: int) -> list[str]:
    lines = [
        f"backend {name}",
        "    balance roundrobin",
        f"    option httpchk GET {CHECK_PATHS[name]}",
        "    http-check expect status 200",
        "    http-request disable-l7-retry unless METH_GET",
    ]
    workers = [spec.server_name(w) for w in spec.workers]
    lines += [f"    server {w} {addresses[w]}:{port} {CHECK}" for w in workers]
    return lines


def render_haproxy(spec: LabSpec, addresses: Mapping[str, str], host: str | None = None) -> str:
    """The whole haproxy.cfg (it replaces Debian's default); deterministic. `addresses`: server name →
    private IP (the inventory's `private_ips`); `host`: the HAProxy server it is for (default the first), whose
    private address the stats page binds (an `edge: pair`'s keepalived checks it there).

    An `edge: pair` closes each client connection after its response (`option httpclose`): a kept-alive
    connection to the VIP's old holder is unknown to the new one (it answers RST), so a client would lose
    its next request on it; a new connection per request reaches whoever holds the VIP."""
    pair_close = ["    option httpclose"] if spec.edge == "pair" else []
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
        "    option http-server-close",
        "    option redispatch 1",
        "    retries 3",
        f"    retry-on {RETRY_ON}",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 10s",
        "    timeout http-request 10s",
        "",
        "frontend fe_web",
        f"    bind *:{WEB_PORT}",
        *pair_close,
        "    default_backend be_web",
        "",
        "frontend fe_app",
        f"    bind *:{APP_PORT}",
        *pair_close,
        "    default_backend be_app",
        "",
        *_backend(spec, addresses, "be_web", WEB_PORT),
        "",
        *_backend(spec, addresses, "be_app", APP_PORT),
        "",
        "listen stats",
        f"    bind {addresses[host or spec.server_name(spec.haproxy)]}:{STATS_PORT}",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 5s",
        "    stats show-node",
    ]
    return "\n".join(lines) + "\n"
