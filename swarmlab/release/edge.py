"""configure_edge: HAProxy on the lab's HAProxy servers, configured from render_haproxy (a `ServiceFile`: apt
install, `haproxy -c`, place, reload; an invalid file never reaches /etc/haproxy, `ConfigInvalid` carries
haproxy's own words), verified through it.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests
from pydantic import BaseModel

from swarmlab.errors import SwarmlabError
from swarmlab.hosts import Session
from swarmlab.render.haproxy import render_haproxy
from swarmlab.render.stack import APP_PORT, WEB_PORT
from swarmlab.release.service_file import ServiceFile
from swarmlab.spec import LabSpec
from swarmlab.sakura.wait import Poll

CFG = "/etc/haproxy/haproxy.cfg"
VERIFY_TIMEOUT_S = 60.0


class EdgeNotAnswering(SwarmlabError):
    def __init__(self, url: str, detail: str, timeout_s: float):
        super().__init__(f"{url} did not answer as expected within {timeout_s:g} s: {detail}. Check the HAProxy "
                         "stats page and `docker service ps` of the stack: HAProxy needs at least one healthy "
                         "worker per backend.")
        self.url, self.detail = url, detail


class EdgeResult(BaseModel):
    changes: list[str]
    web_url: str
    docs_url: str


HAPROXY = ServiceFile("haproxy", "haproxy", CFG, "haproxy -c -f {path}", "swarmlab.render.haproxy")


def facts(session: Session) -> dict[str, str]:
    """installed (1/0), sha of the installed haproxy.cfg, active."""
    return HAPROXY.facts(session)


def configure(session: Session, spec: LabSpec, addresses: Mapping[str, str]) -> list[str]:
    """Install, check, place and (re)load HAProxy's config; the list of what changed (empty: nothing).
    `addresses`: server name → private IP (the inventory's `private_ips`)."""
    return HAPROXY.converge(session, render_haproxy(spec, addresses, session.name), facts(session))


def urls(address: str) -> tuple[str, str, str]:
    """(web root, app /healthz, app /docs) through HAProxy at `address`."""
    return (f"http://{address}:{WEB_PORT}/" if WEB_PORT != 80 else f"http://{address}/",
            f"http://{address}:{APP_PORT}/healthz", f"http://{address}:{APP_PORT}/docs")


def verify(address: str, *, timeout_s: float = VERIFY_TIMEOUT_S, interval_s: float = 0.5) -> None:
    """From the controller: HAProxy's :80 answers 200 from nginx and :8000/healthz answers 200."""
    web, health, _ = urls(address)
    pending = {web: "nginx", health: None}
    last: dict[str, str] = {}
    for attempt in Poll(f"HAProxy at {address} to serve", timeout_s, interval_s=interval_s):
        for url, server in list(pending.items()):
            try:
                r = requests.get(url, timeout=3)
                if r.status_code == 200 and (server is None or r.headers.get("Server", "").startswith(server)):
                    del pending[url]
                    continue
                last[url] = f"HTTP {r.status_code}, Server {r.headers.get('Server', '-')!r}"
            except requests.RequestException as e:
                last[url] = f"{type(e).__name__}: {e}"
        if not pending:
            return
        attempt.note("; ".join(f"{u}: {last.get(u, 'no answer')}" for u in pending))
    url = next(iter(pending))
    raise EdgeNotAnswering(url, last.get(url, "no answer"), timeout_s)
