"""configure_edge: HAProxy on the lab's HAProxy server, configured from render_haproxy, verified through it.

Steps, each skipped when already true: apt install haproxy → upload the rendered haproxy.cfg to a temp
path → `haproxy -c -f` it → move it over /etc/haproxy/haproxy.cfg → reload (start and enable on first
install). An identical installed file with haproxy active changes nothing. An invalid file never
reaches /etc/haproxy: `EdgeConfigInvalid` carries haproxy's own words.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping

import requests
from pydantic import BaseModel

from swarmlab.errors import SwarmlabError
from swarmlab.hosts import CommandFailed, HostError, Session
from swarmlab.hosts.prepare import APT
from swarmlab.render.haproxy import render_haproxy
from swarmlab.render.stack import APP_PORT, WEB_PORT
from swarmlab.spec import LabSpec
from swarmlab.sakura.wait import Poll

CFG = "/etc/haproxy/haproxy.cfg"
VERIFY_TIMEOUT_S = 60.0


class EdgeConfigInvalid(HostError):
    def __init__(self, host: str, output: str):
        super().__init__(host, f"{host}: haproxy -c rejected the rendered haproxy.cfg (left untouched: {CFG}): "
                               f"{output}. Fix swarmlab.render.haproxy or the spec and run again.")
        self.output = output


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


def facts(session: Session) -> dict[str, str]:
    out = session.run(f"""echo installed=$(dpkg-query -W -f='${{Status}}' haproxy 2>/dev/null | grep -c 'install ok installed')
echo sha=$(sha256sum {CFG} 2>/dev/null | cut -d' ' -f1)
echo active=$(systemctl is-active haproxy 2>/dev/null)
exit 0""", timeout_s=60).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def configure(session: Session, spec: LabSpec, addresses: Mapping[str, str]) -> list[str]:
    """Install, check, place and (re)load HAProxy's config; the list of what changed (empty: nothing).
    `addresses`: server name → private IP (the inventory's `private_ips`)."""
    cfg = render_haproxy(spec, addresses, session.name)
    sha = hashlib.sha256(cfg.encode()).hexdigest()
    f = facts(session)
    changes: list[str] = []
    name = session.name
    if f.get("installed") != "1":
        session.run(f"{APT} update && {APT} install haproxy", sudo=True, timeout_s=600)
        changes.append(f"{name}: installed haproxy")
    if f.get("sha") == sha and f.get("active") == "active" and not changes:
        return []
    if f.get("sha") != sha:
        tmp = f"{CFG}.swarmlab-new"
        session.put(cfg, tmp, mode=0o644, sudo=True)
        check = session.run(f"haproxy -c -f {shlex.quote(tmp)}", sudo=True, check=False, timeout_s=60)
        if not check.ok:
            session.run(f"rm -f {shlex.quote(tmp)}", sudo=True, check=False, timeout_s=30)
            raise EdgeConfigInvalid(name, (check.stderr or check.stdout).strip()[-1500:])
        session.run(f"mv {shlex.quote(tmp)} {CFG}", sudo=True, timeout_s=30)
        changes.append(f"{name}: installed {CFG} ({sha[:12]})")
    try:
        session.run("systemctl enable --quiet haproxy && if systemctl is-active --quiet haproxy; "
                    "then systemctl reload haproxy; else systemctl start haproxy; fi", sudo=True, timeout_s=120)
    except CommandFailed as e:
        status = session.run("systemctl status --no-pager -n 20 haproxy", sudo=True, check=False).stdout
        raise CommandFailed(name, e.command, e.exit_status, status or e.stderr_tail) from None
    changes.append(f"{name}: haproxy reloaded")
    return changes


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
