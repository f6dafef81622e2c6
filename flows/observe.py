"""Read-only looks at labs for the CLI (no flow run, nothing written to the cloud or the hosts):
`plan` (what `up` would do), `status` (every lab in some zones), `ssh_argv` (an ssh command line to a host
with the lab key and its pinned host key)."""

from __future__ import annotations

import hashlib
import logging
import shlex
from datetime import datetime, timezone
from pathlib import Path

import requests

from blocks.sakura import SakuraCloudCredentials
from blocks.ssh import SSHKeyPair
from flows.session import api_client, open_lab
from swarmlab.cloud import plan as p
from swarmlab.cloud.fleet import known_hosts_path
from swarmlab.cloud.inventory import Inventory
from swarmlab.cloud.provision import discover, missing
from swarmlab.cloud.resources import find_lab, owned
from swarmlab.cloud.secrets import host_key
from swarmlab.cost import estimate, ledger, load_prices
from swarmlab.cost import guard as g
from swarmlab.cost.status import LabStatus, status_of
from swarmlab.errors import SwarmlabError
from swarmlab.hosts import Host, KnownHosts, Session, SSHKey, run_parallel
from swarmlab.hosts.prepare import gather, plan_host
from swarmlab.release import edge
from swarmlab.release.deploy import STACK_HASH_LABEL, stack_file
from swarmlab.release.deploy import observe as observe_stack
from swarmlab.release.publish import image_builds
from swarmlab.render.haproxy import render_haproxy
from swarmlab.render.stack import StackImages
from swarmlab.spec import LabSpec
from swarmlab.swarm.apply import node_table
from swarmlab.swarm.apply import observe as observe_swarm
from swarmlab.swarm.plan import plan_swarm

log = logging.getLogger("swarmlab.cli")
CONNECT_TIMEOUT_S = 5.0
CALL_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 3.0


class NoLabKey(SwarmlabError):
    def __init__(self, lab: str, path: Path):
        super().__init__(f"lab {lab}: no SSH key at {path}; pass --ssh-key BLOCK (an SSHKeyPair block) or set "
                         f"SWARMLAB_SSH_KEY to the key the lab was provisioned with")


class HostNotInLab(SwarmlabError):
    def __init__(self, lab: str, name: str, zone: str, have: list[str]):
        super().__init__(f"lab {lab} in {zone} has no server {name} (servers: {', '.join(have) or 'none'}); "
                         f"check --lab and --zone, or run `swarmlab status`")


def lab_key(ssh_key: str | None, lab: str) -> SSHKey | None:
    """The lab's SSH key (the named block, or the lab's key file), or None when there is no file: a read
    never makes a key."""
    if ssh_key:
        return SSHKey.from_pem(SSHKeyPair.load(ssh_key).private_key)
    path = SSHKeyPair.key_file(lab)
    return SSHKey.from_pem(SSHKeyPair.from_file(lab).private_key) if path.exists() else None


def _session(host: Host, key: SSHKey, lab: str) -> Session:
    pins = KnownHosts(known_hosts_path(lab), tofu=False)  # never pins: an unknown key is refused
    return Session(host, key, pins, connect_timeout_s=CONNECT_TIMEOUT_S).connect(timeout_s=CONNECT_TIMEOUT_S)


def _why(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def _observe_hosts(spec: LabSpec, inv: Inventory, key: SSHKey) -> tuple[list[p.Change], list[p.Change],
                                                                          list[p.Change]]:
    """(hosts, swarm, stack) changes, from facts read over SSH; `unknown` where a host does not answer."""
    names = [spec.server_name(s) for s in spec.managers + spec.workers + spec.haproxies]
    hosts = {s.name: Host(name=s.name, address=s.address or "", private_ip=s.private_ip, user=spec.ssh_user,
                          server_id=s.id) for s in inv.servers}
    first = names[0]
    try:
        sessions = {first: _session(hosts[first], key, spec.name)}
    except (SwarmlabError, OSError) as e:
        why = f"not reachable over SSH ({_why(e)})"
        return [p.unknown("hosts", why)], [p.unknown("swarm", why)], [p.unknown(f"stack {spec.stack.name}", why)]
    failed: dict[str, str] = {}

    def connect(name: str) -> Session | None:
        try:
            return _session(hosts[name], key, spec.name)
        except (SwarmlabError, OSError) as e:
            failed[name] = _why(e)
            return None

    sessions |= {n: s for n, s in run_parallel({n: n for n in names[1:]}, connect).items() if s is not None}
    try:
        return (_host_changes(spec, inv.private_ips, sessions, failed), _swarm_changes(spec, inv.private_ips, sessions),
                _stack_changes(spec, inv, sessions[first]))
    finally:
        for s in sessions.values():
            s.close()


def _host_changes(spec: LabSpec, addresses: dict[str, str], sessions: dict[str, Session],
                  failed: dict[str, str]) -> list[p.Change]:
    """prepare's apt plan on the swarm nodes, configure_edge's HAProxy part on each HAProxy host (a pair's
    keepalived is not planned)."""
    lbs = [spec.server_name(h) for h in spec.haproxies]
    nodes = {n: s for n, s in sessions.items() if n not in lbs}
    try:
        facts = run_parallel(nodes, lambda s: gather(s, spec.packages))
        out = p.plan_hosts({n: plan_host(f) for n, f in facts.items()})
        for lb in (lb for lb in lbs if lb in sessions):
            want = hashlib.sha256(render_haproxy(spec, addresses, lb).encode()).hexdigest()
            out += p.plan_edge(lb, edge.facts(sessions[lb]), want)
    except SwarmlabError as e:
        return [p.unknown("hosts", _why(e))]
    return out + [p.unknown(f"host {n}", why) for n, why in sorted(failed.items())]


def _swarm_changes(spec: LabSpec, addresses: dict[str, str], sessions: dict[str, Session]) -> list[p.Change]:
    sessions = {n: s for n, s in sessions.items() if n not in {spec.server_name(h) for h in spec.haproxies}}
    try:
        swarm_facts, rows = observe_swarm(spec, sessions, timeout_s=CALL_TIMEOUT_S)
        sp = plan_swarm(spec, addresses, swarm_facts, rows)
    except SwarmlabError as e:
        return [p.unknown("swarm", _why(e))]
    return ([p.Change(action="change", target="swarm", detail=a.describe()) for a in sp.actions]
            + ([p.unknown("swarm", f"unreachable: {', '.join(sp.unreachable)}")] if sp.unreachable else []))


def _stack_changes(spec: LabSpec, inv: Inventory, session: Session) -> list[p.Change]:
    """The stack hash `deploy_stack` would deploy (images tagged by content, as publish tags them) against
    the label on each running service."""
    builds = image_builds(inv.registry_fqdn)
    images = StackImages(web=builds["web"].ref, app=builds["app"].ref, postgres=builds["postgres"].ref)
    try:
        status = observe_stack(session, spec)
    except SwarmlabError as e:
        return [p.unknown(f"stack {spec.stack.name}", _why(e))]
    deployed = {svc: (i.labels.get(STACK_HASH_LABEL, "") if i else None) for svc, i in status.inspects.items()}
    return p.plan_stack(spec, deployed, stack_file(spec, images)[1])


def plan(spec: LabSpec, credentials: str | None, ssh_key: str | None) -> p.LabPlan:
    """What `up` would do for `spec`: reads the cloud, and the hosts when the lab is complete and answers."""
    creds, spec = open_lab(spec, credentials, log)
    client = api_client(creds, spec.zone)
    try:
        found = find_lab(client, spec.name)
        est = estimate(spec, spec.ttl_hours, load_prices(client))
        hosts: list[p.Change] = []
        swarm: list[p.Change] = []
        stack: list[p.Change] = []
        if not found.empty and not missing(found, spec):
            key = lab_key(ssh_key, spec.name)
            if key is None:
                why = f"no SSH key ({SSHKeyPair.key_file(spec.name)}; --ssh-key BLOCK)"
                hosts, swarm, stack = [p.unknown("hosts", why)], [p.unknown("swarm", why)], []
            else:
                hosts, swarm, stack = _observe_hosts(spec, discover(client, spec), key)
        elif not found.empty:
            hosts = [p.unknown("hosts", "the lab is incomplete: up provisions the rest first")]
        else:
            hosts, swarm, stack = p.plan_new(spec)
        return p.make_plan(spec, spec.zone, found, estimate_yen=est.total, price_source=est.price_source,
                           hosts=hosts, swarm=swarm, stack=stack)
    finally:
        client.close()


def _nodes_ready(view: g.LabView, lab: str) -> tuple[str | None, str]:
    """("ready/total", "") from `docker node ls` on the first manager, or (None, why not)."""
    managers = sorted((s for s in view.resources.servers if s.name.startswith(f"{lab}-manager")), key=lambda s: s.name)
    if not managers or not managers[0].shared_ip:
        return None, ""
    key = lab_key(None, lab)
    if key is None:
        return None, f"nodes not checked: no SSH key at {SSHKeyPair.key_file(lab)}"
    m = managers[0]
    try:
        session = _session(Host(name=m.name, address=m.shared_ip, server_id=str(m.id)), key, lab)
    except (SwarmlabError, OSError) as e:
        return None, f"nodes not checked: {m.name} {_why(e)}"
    try:
        rows = node_table(session, timeout_s=CALL_TIMEOUT_S)
        return f"{sum(r.ready for r in rows)}/{len(rows)}", ""
    except SwarmlabError as e:
        return None, f"nodes not checked: {_why(e)}"
    finally:
        session.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=HTTP_TIMEOUT_S).status_code == 200
    except requests.RequestException:
        return False


def status(zones: list[str] | None, credentials: str | None, lab: str | None = None,
           check: bool = True) -> tuple[list[LabStatus], list[str]]:
    """Every lab (or `lab`) in `zones` (default: the zone rule's): tags, yen so far, and — when `check` —
    HAProxy answering and nodes Ready."""
    creds = SakuraCloudCredentials.resolve(credentials)
    zones = zones or [creds.pick_zone(None)[0]]
    out: list[LabStatus] = []
    for zone in zones:
        client = api_client(creds, zone)
        try:
            labs = g.scan(client)
            prices = load_prices(client) if labs else None
            now = datetime.now(timezone.utc)
            for name, resources in labs.items():
                view = g.view(name, zone, resources)
                if (lab and name != lab) or not view.zonal:
                    continue  # a lab with only the global note/registry here lives in another zone
                s = status_of(view, ledger(name, resources, prices, now), now)
                if s.address:
                    web, _, docs = edge.urls(s.address)
                    s.web_url, s.docs_url = web, docs
                    if check:
                        s.haproxy = _answers(web)
                        s.nodes_ready, s.note = _nodes_ready(view, name)
                out.append(s)
        finally:
            client.close()
    return out, zones


def ssh_argv(spec: LabSpec, host: str, credentials: str | None, ssh_key: str | None,
             command: list[str]) -> list[str]:
    """`ssh` to `host` (`manager01` or `<lab>-manager01`) at its public address, with the lab key and a
    known_hosts file holding only its pinned host key (`StrictHostKeyChecking=yes`)."""
    creds, spec = open_lab(spec, credentials, log)
    name = host if host.startswith(f"{spec.name}-") else f"{spec.name}-{host}"
    client = api_client(creds, spec.zone)
    try:
        servers = [s for s in client.servers.find(tags=spec.tags) if owned(s, spec.name)]
    finally:
        client.close()
    srv = next((s for s in servers if s.name == name), None)
    if srv is None or not srv.shared_ip:
        raise HostNotInLab(spec.name, name, spec.zone, sorted(s.name for s in servers))
    pin = KnownHosts(known_hosts_path(spec.name), tofu=False).get(str(srv.id))
    key_line = (f"{pin.type} {pin.key}" if pin else
                " ".join(host_key(creds.access_token_secret, spec.name, name).public_key.split()[:2]))
    ssh_dir = SSHKeyPair.key_file(spec.name).parent
    ssh_dir.mkdir(parents=True, exist_ok=True)
    known = ssh_dir / f"{spec.name}_known_hosts"
    known.write_text(f"{srv.shared_ip} {key_line}\n")
    if ssh_key:
        key_path = ssh_dir / f"{spec.name}_{ssh_key}_ed25519"
        key_path.touch(mode=0o600)
        key_path.write_text(SSHKeyPair.load(ssh_key).private_key.get_secret_value())
    else:
        key_path = SSHKeyPair.key_file(spec.name)
        if not key_path.exists():
            raise NoLabKey(spec.name, key_path)
    return ["ssh", "-i", str(key_path), "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={known}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
            *(["-o", "BatchMode=yes"] if command else []), f"{spec.ssh_user}@{srv.shared_ip}",
            *([shlex.join(command)] if command else [])]
