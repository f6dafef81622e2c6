"""The drills' side effects: break the lab on purpose (swarm commands over SSH, power through the SAKURA
API), wait — always bounded — until the swarm noticed and recovered, and read what the probe saw.

Every drill returns a `DrillResult` (verdict.py decides). Times are seconds on the probe's clock,
measured from the moment the fault was injected (or the command was given). The probe's window of a
drill is read `probe.timeout_s` after the drill ends, so requests still in flight are counted.
"""

from __future__ import annotations

import shlex
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import requests

from swarmlab.release import deploy, keepalived, services
from swarmlab.cloud.fleet import Fleet
from swarmlab.hosts import AuthFailed, CommandTimeout, HostError, HostKeyMismatch, Session
from swarmlab.cloud.inventory import Inventory
from swarmlab.errors import SwarmlabError
from swarmlab.render.haproxy import CHECK_FALL, CHECK_INTER_S
from swarmlab.render.stack import APP_PORT
from swarmlab.sakura.client import SakuraClient
from swarmlab.spec import LabSpec, Role
from swarmlab.swarm import SwarmError, SwarmNoLeader, node_table
from swarmlab.release.service_facts import strip_digest
from swarmlab.sakura.wait import Poll

from .probe import Probe
from .timeline import Event
from .verdict import (
    DrillResult,
    edge_missing,
    judge,
    no_leader_kind,
    node_status,
    nodes_not_ready,
    stack_unconverged,
)

T = TypeVar("T")

MANAGER_CALL_S = 30.0        # every manager call is bounded; a survivor without quorum hangs ~20 s first
CONVERGE_TIMEOUT_S = 600.0
DETECT_TIMEOUT_S = 180.0
POWER_TIMEOUT_S = 300.0
HOLD_S = 10.0                # how long a fault is held while the probe runs, once detected
VIP_MOVE_S = 3.0             # haproxy down: the VIP must reach the other HAProxy within this
REJOIN_WATCH_S = 2.0         # haproxy down: how long the returned HAProxy is watched not taking the VIP
EDGE_ROUND = 12              # requests per frontend per round when proving every replica answers


class DrillTimeout(SwarmlabError):
    def __init__(self, what: str, timeout_s: float, last: str = ""):
        super().__init__(f"timed out after {timeout_s:g} s waiting for {what}" + (f" (last: {last})" if last else "")
                         + ". The lab is healed after the drills; look at `docker node ls` and "
                           "`docker service ps` on a manager to see what is stuck.")
        self.what, self.timeout_s, self.last = what, timeout_s, last


def wait_for(what: str, fn: Callable[[], T | None], *, timeout_s: float, interval_s: float = 1.0,
             why: Callable[[], str] | None = None) -> T:
    """Poll `fn` until it returns something truthy; `DrillTimeout` after `timeout_s`."""
    attempts = Poll(what, timeout_s, interval_s=interval_s)
    for attempt in attempts:
        try:
            value = fn()
            if value:
                return value
            attempt.note(why() if why else "")
        except (AuthFailed, HostKeyMismatch):
            raise  # waiting does not fix a wrong key or another host behind the address
        except (HostError, SwarmError, requests.RequestException, ValueError) as e:
            attempt.note(f"{type(e).__name__}: {e}"[:300])
    raise DrillTimeout(what, timeout_s, attempts.last)


class DrillLab:
    """What the drills work on: the lab (spec, inventory), its sessions, the API client, the running probe."""

    def __init__(self, spec: LabSpec, inventory: Inventory, fleet: Fleet, client: SakuraClient, probe: Probe,
                 log: Callable[[str], None] = lambda _m: None):
        self.spec, self.inventory, self.fleet, self.client, self.probe, self.log = \
            spec, inventory, fleet, client, probe, log
        self.address = inventory.edge_address      # a pair's VIP
        self.down: set[str] = set()          # servers this exercise powered off and not yet on again
        self.events: list[Event] = []        # every power-off and power-on, on the probe's clock
        self.services = deploy.service_names(spec)

    # -- hosts ------------------------------------------------------------------------------------
    @property
    def managers(self) -> list[str]:
        return self.fleet.names(Role.manager)

    @property
    def workers(self) -> list[str]:
        return self.fleet.names(Role.worker)

    def manager(self, avoid: set[str] = frozenset()) -> tuple[str, Session]:
        """A session to a manager that is not down (nor in `avoid`)."""
        for name in self.managers:
            if name not in self.down and name not in avoid:
                return name, self.fleet.session(name)
        raise SwarmNoLeader(",".join(self.managers), "every manager is powered off")

    def power_off(self, name: str, force: bool = True) -> float:
        """Forced power-off (pull the plug) through the API; returns the probe time it was asked."""
        self.fleet.drop(name)   # its SSH session dies with it; never wait on a dead transport
        server = self.inventory.server(name)
        t = self.probe.now()
        self.client.servers.power_off(server.id, force=force)
        self.down.add(name)
        self.events.append(Event(t=t, host=name, kind="down"))
        self.log(f"{name}: powered off{' (forced)' if force else ''} at {t:.1f} s")
        return t

    def power_on(self, names: list[str]) -> None:
        ids = {n: self.inventory.server(n).id for n in names}
        for n, i in ids.items():
            self.client.servers.power_on(i)
        for n, i in ids.items():
            self.client.servers.wait_up(i, POWER_TIMEOUT_S)
            self.fleet.drop(n)
            self.down.discard(n)
            self.events.append(Event(t=self.probe.now(), host=n, kind="up"))
            self.log(f"{n}: up")

    # -- the swarm and the edge, read ---------------------------------------------------------------
    def nodes(self, avoid: set[str] = frozenset()):
        _, s = self.manager(avoid)
        return node_table(s, timeout_s=MANAGER_CALL_S)

    def stack(self) -> deploy.StackStatus:
        _, s = self.manager()
        return deploy.observe(s, self.spec)

    def edge_round(self) -> dict[str, dict[str, str]]:
        """EDGE_ROUND requests per frontend through HAProxy: frontend → {replica hostname: version}."""
        seen: dict[str, dict[str, str]] = {"web": {}, "app": {}}
        with requests.Session() as http:
            for frontend, url in (("web", f"http://{self.address}/version"),
                                  ("app", f"http://{self.address}:{APP_PORT}/version")):
                for _ in range(EDGE_ROUND):
                    r = http.get(url, timeout=3)
                    if r.ok:
                        body = r.json()
                        seen[frontend][body.get("hostname", "?")] = body.get("version", "")
        return seen

    def replicas(self) -> dict[str, int]:
        st = self.stack()
        return {short: (st.inspects[short].replicas or 0) if st.inspects.get(short) else 0
                for short in ("web", "app")}

    def wait_converged(self, what: str, *, version: dict[str, str] | None = None,
                       timeout_s: float = CONVERGE_TIMEOUT_S) -> None:
        """Until every node is Ready, every service is at its replica count on its image, and every
        web/app replica answers through HAProxy (on `version`, if given)."""
        expected = {self.spec.server_name(s) for s in self.spec.managers + self.spec.workers}
        last: dict[str, str] = {}

        def check():
            nr = nodes_not_ready(self.nodes(), expected)
            if nr:
                last["why"] = "nodes: " + ", ".join(nr)
                return False
            st = self.stack()
            un = stack_unconverged(st)
            if un:
                last["why"] = "; ".join(f"{k}: {v}" for k, v in un.items())
                return False
            want = {short: (st.inspects[short].replicas or 0) for short in ("web", "app")}
            miss = edge_missing(self.edge_round(), want, version)
            last["why"] = "; ".join(miss)
            return not miss

        wait_for(what, check, timeout_s=timeout_s, why=lambda: last.get("why", ""))

    def settle(self) -> float:
        """Now on the probe clock, after waiting for requests in flight to be recorded."""
        end = self.probe.now()
        time.sleep(self.probe.timeout_s + 0.3)
        return end


def _version(image: str) -> str:
    return strip_digest(image).rsplit(":", 1)[-1]


# -- drills ---------------------------------------------------------------------------------------

def scale(lab: DrillLab) -> DrillResult:
    """web N → N-1 → N. Host publishing with max_replicas_per_node 1 fits one web task per worker, so
    the drill scales within what fits: beyond the worker count the extra tasks would stay Pending."""
    name = lab.services["web"]
    _, s = lab.manager()
    state = services.observe_service(s, name)
    image, base = strip_digest(state.inspect.image), state.inspect.replicas or 0
    low = max(1, base - 1)
    t0 = lab.probe.now()
    services.scale(s, name, low)
    services.wait_service(s, name, replicas=low, image=image, step=f"scale {low}")
    lab.wait_converged(f"web at {low} replicas through HAProxy")
    t_low = lab.probe.now() - t0
    services.scale(s, name, base)
    state = services.wait_service(s, name, replicas=base, image=image, step=f"scale {base}")
    lab.wait_converged(f"web at {base} replicas through HAProxy")
    end = lab.settle()
    result = DrillResult(
        name="scale", recover_s=round(end - t0, 1),
        notes=[f"web scaled {base} → {low} → {base}: publish mode {lab.spec.stack.publish_mode} with "
               f"max_replicas_per_node 1 fits one web task per worker ({len(lab.workers)} workers); scaling "
               "beyond that leaves the extra tasks Pending (\"no suitable node\"), so the drill stays within it"
               if lab.spec.stack.publish_mode == "host" else f"web scaled {base} → {low} → {base}"],
        details={"scaled_down_s": round(t_low, 1), "nodes": ", ".join(state.nodes)})
    return judge(result, lab.probe.summary(t0, end),
                 conditions={f"{base} web replicas running": len(state.nodes) == base})


def _roll(lab: DrillLab, drill: str, command: Callable[[Session], str], want_image: str) -> DrillResult:
    name = lab.services["app"]
    _, s = lab.manager()
    replicas = services.observe_service(s, name).inspect.replicas or 0
    t0 = lab.probe.now()
    cmd = command(s)
    state = services.wait_service(s, name, replicas=replicas, image=want_image, step=drill,
                                  timeout_s=CONVERGE_TIMEOUT_S)
    t_swarm = lab.probe.now() - t0
    lab.wait_converged(f"every app replica answering {_version(want_image)} through HAProxy",
                       version={"app": _version(want_image)})
    end = lab.settle()
    result = DrillResult(name=drill, recover_s=round(end - t0, 1), details={
        "command": cmd, "image": strip_digest(want_image), "swarm_converged_s": round(t_swarm, 1),
        "nodes": ", ".join(state.nodes)}, notes=[
        "update/rollback one task at a time, stop-first (host ports); each stopping task drains first: its "
        f"health endpoint answers 503 while it keeps serving, so HAProxy (fall {CHECK_FALL} × inter "
        f"{CHECK_INTER_S}s) takes it out of rotation before its socket closes"])
    return judge(result, lab.probe.summary(t0, end),
                 conditions={f"{replicas} app replicas on {_version(want_image)}": len(state.nodes) == replicas})


def rolling_update(lab: DrillLab, image: str) -> DrillResult:
    """The app service to `image` (another immutable tag), one task at a time; users must see no failure."""
    return _roll(lab, "rolling update", lambda s: services.update_image(s, lab.services["app"], image), image)


def rollback(lab: DrillLab, previous: str) -> DrillResult:
    """`docker service rollback` of the app back to `previous`; users must see no failure."""
    return _roll(lab, "rollback", lambda s: services.rollback(s, lab.services["app"]), previous)


def _note(lab: DrillLab, text: str) -> dict:
    r = requests.post(f"http://{lab.address}:{APP_PORT}/notes", json={"text": text}, timeout=10)
    if r.status_code != 201:
        raise ValueError(f"POST /notes answered {r.status_code}: {r.text[:200]}")
    return r.json()


def _has_note(lab: DrillLab, note_id: int, text: str) -> bool:
    r = requests.get(f"http://{lab.address}:{APP_PORT}/notes", params={"limit": 1000}, timeout=5)
    return r.status_code == 200 and any(n["id"] == note_id and n["text"] == text for n in r.json())


def worker_down(lab: DrillLab) -> DrillResult:
    """Power off (forced) the worker that runs postgres (`database: appliance`: the first worker). Its tasks
    move; postgres comes back on another worker with its data (a note written before is read after). No request
    may fail: HAProxy retries the probe's GETs caught on the dead worker on another one (render/haproxy.py).
    Then it is powered on again and the stack converges on all workers."""
    if "db" not in lab.services:
        return _worker_down_beside_appliance(lab)
    db = lab.services["db"]
    _, s = lab.manager()
    node = wait_for("the db task running", lambda: services.observe_service(s, db).nodes, timeout_s=120)[0]
    text = f"drill-{uuid.uuid4().hex[:12]}"
    note = wait_for("a note written through HAProxy", lambda: _note(lab, text), timeout_s=60)
    t0 = lab.power_off(node)
    _, s = lab.manager()

    def seen_down():
        status = node_status(lab.nodes(), node)
        return status.lower() not in ("ready", "") and status

    status = wait_for(f"the swarm to mark {node} down", seen_down, timeout_s=DETECT_TIMEOUT_S)
    detect = lab.probe.now() - t0
    moved = wait_for("postgres running on another worker",
                     lambda: [n for n in services.observe_service(s, db).nodes if n != node], timeout_s=300)
    t_moved = lab.probe.now() - t0
    intact = wait_for("the note read back through HAProxy", lambda: _has_note(lab, note["id"], text), timeout_s=300)
    recover = lab.probe.now() - t0
    t_fault_end = lab.probe.now()
    lab.power_on([node])
    lab.wait_converged(f"{node} Ready and the stack converged on it")
    rejoined = lab.probe.now() - t0
    end = lab.settle()
    summary = lab.probe.summary(t0, end)
    failures = [smp.t - t0 for smp in lab.probe.samples if t0 <= smp.t < end and not smp.ok]
    result = DrillResult(
        name="worker down", detect_s=round(detect, 1), recover_s=round(recover, 1), failure_bound=0,
        notes=[f"{node} (running postgres) powered off through the API (forced); the swarm marked it {status}",
               f"postgres moved to {moved[0]} at {t_moved:.1f} s with its data: note {note['id']} read back",
               "allowed failures = 0: HAProxy retries a GET that could not connect to the dead worker or got "
               "no answer from it on another worker, and one failed connection marks the worker down",
               f"powered on again: every node Ready and the stack converged at {rejoined:.1f} s"],
        details={"db_from": node, "db_to": moved[0], "db_moved_s": round(t_moved, 1),
                 "last_failure_s": round(max(failures), 1) if failures else None,
                 "rejoined_s": round(rejoined, 1), "fault_window_s": round(t_fault_end - t0, 1),
                 "data_intact": bool(intact)})
    return judge(result, summary, bound=0,
                 conditions={"postgres data intact after the move": bool(intact),
                             "postgres on another worker": bool(moved)})


def haproxy_down(lab: DrillLab) -> DrillResult:
    """`edge: pair` only: power off (forced) the HAProxy holding the VIP under the probe. keepalived on the
    other (unicast VRRP) takes the VIP; detect = until the other holds it. Then power it back on: its
    keepalived must come back as BACKUP and leave the VIP where it is (nopreempt). Fewer than 1 % of the
    window's requests may fail: a client whose SYN went to the dead holder is answered on its retransmission."""
    vip = lab.inventory.vip
    if vip is None:
        raise ValueError(f"lab {lab.spec.name}: haproxy down needs an `edge: pair` lab (this one is single)")
    pair = lab.fleet.names(Role.haproxy)
    holder = wait_for("a HAProxy holding the VIP", lambda: next(
        (n for n in pair if keepalived.holds(lab.fleet.session(n), vip)), None), timeout_s=60)
    peer = next(n for n in pair if n != holder)
    peer_s = lab.fleet.session(peer)
    t0 = lab.power_off(holder)
    wait_for(f"{peer} to hold the VIP {vip}", lambda: keepalived.holds(peer_s, vip), timeout_s=60, interval_s=0.05)
    detect = lab.probe.now() - t0
    lab.log(f"VIP {vip} on {peer} at {detect:.2f} s")
    _held(lab)
    t_fault_end = lab.probe.now()
    lab.power_on([holder])
    state = wait_for(f"{holder}'s keepalived back (BACKUP)", lambda: (
        st := keepalived.vrrp_state(lab.fleet.session(holder))) in ("BACKUP", "MASTER") and st,
        timeout_s=DETECT_TIMEOUT_S, interval_s=0.5)
    rejoined = lab.probe.now() - t0
    time.sleep(REJOIN_WATCH_S)
    stayed = keepalived.holds(peer_s, vip) and not keepalived.holds(lab.fleet.session(holder), vip)
    state = keepalived.vrrp_state(lab.fleet.session(holder)) or state
    end = lab.settle()
    summary = lab.probe.summary(t0, end)
    bound = max(0, (summary.sent - 1) // 100)          # failed ≤ bound ⇔ fewer than 1 % of the window's requests
    result = DrillResult(
        name="haproxy down", detect_s=round(detect, 2), recover_s=round(rejoined, 1),
        notes=[f"{holder} held the VIP {vip}; powered off through the API (forced); {peer} took the VIP "
               f"at {detect:.2f} s (keepalived, unicast VRRP, advert 0.2 s)",
               f"{holder} powered on again after {t_fault_end - t0:.1f} s: keepalived {state or 'not answering'}, "
               f"the VIP {'stayed on ' + peer if stayed else 'moved'} (nopreempt)",
               "allowed failures: under 1 % of the window's requests; a kept-alive client connection would die "
               "with the old holder, so a pair's HAProxy closes each client connection after its response"],
        details={"vip": vip, "from": holder, "to": peer, "vip_moved_s": round(detect, 2),
                 "rejoined_s": round(rejoined, 1), "rejoined_state": state, "vip_stayed": stayed,
                 "fault_window_s": round(t_fault_end - t0, 1)})
    return judge(result, summary, bound=bound,
                 conditions={f"the VIP moved within {VIP_MOVE_S:g} s": detect <= VIP_MOVE_S,
                             f"{holder} rejoined as BACKUP": state == "BACKUP",
                             f"the VIP stayed on {peer}": stayed})


def _worker_down_beside_appliance(lab: DrillLab) -> DrillResult:
    """worker down on a lab whose database is the appliance: the first worker powered off (forced) and on again;
    the rows live in the appliance, so a note written before is read back while the worker is down."""
    node = lab.workers[0]
    text = f"drill-{uuid.uuid4().hex[:12]}"
    note = wait_for("a note written through HAProxy", lambda: _note(lab, text), timeout_s=60)
    t0 = lab.power_off(node)

    def seen_down():
        status = node_status(lab.nodes(), node)
        return status.lower() not in ("ready", "") and status

    status = wait_for(f"the swarm to mark {node} down", seen_down, timeout_s=DETECT_TIMEOUT_S)
    detect = lab.probe.now() - t0
    intact = wait_for("the note read back through HAProxy", lambda: _has_note(lab, note["id"], text), timeout_s=300)
    recover = lab.probe.now() - t0
    lab.power_on([node])
    lab.wait_converged(f"{node} Ready and the stack converged on it")
    rejoined = lab.probe.now() - t0
    end = lab.settle()
    result = DrillResult(
        name="worker down", detect_s=round(detect, 1), recover_s=round(recover, 1), failure_bound=0,
        notes=[f"{node} powered off through the API (forced); the swarm marked it {status}",
               f"the database is the appliance: note {note['id']} read back while {node} was down",
               f"powered on again: every node Ready and the stack converged at {rejoined:.1f} s"],
        details={"worker": node, "rejoined_s": round(rejoined, 1), "data_intact": bool(intact)})
    return judge(result, lab.probe.summary(t0, end), bound=0, conditions={"rows intact": bool(intact)})


def _healthz(lab: DrillLab) -> int:
    return requests.get(f"http://{lab.address}:{APP_PORT}/healthz", timeout=5).status_code


def database_restart(lab: DrillLab) -> DrillResult:
    """Power-cycle the database under the probe: the appliance through the API (`database: appliance`), or the
    postgres task (`swarm`: its container killed on its worker; the swarm starts it again, its data on the NFS
    share). While it is gone the app's /healthz answers 503 and no probed page fails (none needs the database);
    the app recovers by itself and every row written before is read back."""
    texts = [f"drill-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    notes = [wait_for("a note written through HAProxy", lambda t=t: _note(lab, t), timeout_s=60) for t in texts]
    appliance = lab.inventory.db_id if "db" not in lab.services else None
    t0 = lab.probe.now()
    if appliance:
        what = lab.spec.resource_name("db")
        lab.client.databases.power_off(appliance)
    else:
        _, s = lab.manager()
        node = wait_for("the db task running", lambda: services.observe_service(s, lab.services["db"]).nodes,
                        timeout_s=120)[0]
        what = f"postgres on {node}"
        name = shlex.quote(f"com.docker.swarm.service.name={lab.services['db']}")
        lab.fleet.session(node).run(f"docker ps -q --filter label={name} | xargs -r docker kill", sudo=True,
                                    timeout_s=MANAGER_CALL_S)
    lab.events.append(Event(t=t0, host=what, kind="down"))
    lab.log(f"{what}: stopped at {t0:.1f} s")
    gone = wait_for("/healthz to answer 503", lambda: _healthz(lab) == 503, timeout_s=120, interval_s=0.2)
    detect = lab.probe.now() - t0
    if appliance:
        lab.client.databases.wait_down(appliance, POWER_TIMEOUT_S)
        lab.client.databases.power_on(appliance)
        lab.client.databases.wait_ready(appliance, POWER_TIMEOUT_S)
    back = wait_for("/healthz to answer 200 again", lambda: _healthz(lab) == 200, timeout_s=300, interval_s=0.5)
    recover = lab.probe.now() - t0
    lab.events.append(Event(t=lab.probe.now(), host=what, kind="up"))
    try:
        intact = all(wait_for("the notes read back", lambda n=n, t=t: _has_note(lab, n["id"], t), timeout_s=60)
                     for n, t in zip(notes, texts))
    except DrillTimeout:
        intact = False
    end = lab.settle()
    result = DrillResult(
        name="database restart", detect_s=round(detect, 1), recover_s=round(recover, 1), failure_bound=0,
        notes=[f"{what} stopped ({'the appliance powered off through the API' if appliance else 'container killed'})"
               f"; /healthz answered 503 after {detect:.1f} s", f"/healthz answered 200 again at {recover:.1f} s",
               f"{len(notes)} notes written before read back: {intact}",
               "allowed failures = 0: the probed pages (/ and /version) do not need the database"],
        details={"database": "appliance" if appliance else "swarm", "data_intact": intact})
    return judge(result, lab.probe.summary(t0, end), bound=0,
                 conditions={"/healthz 503 while the database was gone": bool(gone),
                             "recovered by itself": bool(back), "every row written before read back": intact})


def _held(lab: DrillLab, seconds: float = HOLD_S) -> None:
    time.sleep(seconds)


def one_manager_down(lab: DrillLab) -> DrillResult:
    """Power off the first manager: the other two keep quorum; nothing changes for users."""
    m1 = lab.managers[0]
    t0 = lab.power_off(m1)
    rows = wait_for(f"the other managers to see {m1} gone, with a leader",
                    lambda: (r := lab.nodes()) and node_status(r, m1).lower() != "ready"
                    and any(x.is_leader for x in r) and r, timeout_s=DETECT_TIMEOUT_S)
    detect = lab.probe.now() - t0
    _held(lab)
    leader = next(x.hostname for x in lab.nodes() if x.is_leader)
    end = lab.settle()
    result = DrillResult(name="one manager down", detect_s=round(detect, 1), details={
        "down": m1, "status": node_status(rows, m1), "leader": leader}, notes=[
        f"{m1} powered off (forced); {leader} leads, `docker node ls` answers: 2 of 3 managers keep quorum"])
    return judge(result, lab.probe.summary(t0, end), conditions={"a leader": bool(leader)})


def two_managers_down(lab: DrillLab) -> DrillResult:
    """Power off a second manager: the survivor says the swarm has no leader (after maybe ~20 s of
    'context deadline exceeded'); users see nothing, the workers keep serving."""
    m2, survivor = lab.managers[1], lab.managers[2]
    t0 = lab.power_off(m2)
    seen: list[str] = []   # kinds of answers, in order (each once)
    message: dict[str, str] = {}

    def definitive():
        try:
            node_table(lab.fleet.session(survivor), timeout_s=MANAGER_CALL_S)
            kind = "leader"
        except SwarmNoLeader as e:
            kind = no_leader_kind(e.detail) or "deadline"
            message[kind] = e.detail.strip().splitlines()[-1] if e.detail.strip() else str(e)
        except CommandTimeout as e:
            kind = "deadline"
            message[kind] = str(e)
        if not seen or seen[-1] != kind:
            seen.append(kind)
            lab.log(f"{survivor}: {kind} at {lab.probe.now() - t0:.1f} s")
        return kind == "definitive"

    wait_for(f"{survivor} to say the swarm has no leader", definitive, timeout_s=DETECT_TIMEOUT_S)
    detect = lab.probe.now() - t0
    _held(lab)
    end = lab.settle()
    result = DrillResult(name="two managers down", detect_s=round(detect, 1), details={
        "down": f"{lab.managers[0]}, {m2}", "survivor": survivor, "answers": " → ".join(seen),
        "message": message.get("definitive", "")}, notes=[
        f"{survivor} (the last manager) answers `docker node ls` with SwarmNoLeader; the workers keep serving"])
    return judge(result, lab.probe.summary(t0, end),
                 conditions={"SwarmNoLeader seen": "definitive" in seen})


def all_managers_down(lab: DrillLab) -> DrillResult:
    """Power off the last manager: no control plane at all, the workers still serve through HAProxy."""
    m3 = lab.managers[2]
    t0 = lab.power_off(m3)
    lab.client.servers.wait_down(lab.inventory.server(m3).id, POWER_TIMEOUT_S)
    detect = lab.probe.now() - t0
    _held(lab)
    end = lab.settle()
    result = DrillResult(name="all managers down", detect_s=round(detect, 1), details={
        "down": ", ".join(lab.managers), "held_s": HOLD_S}, notes=[
        "every manager powered off: nothing can be scheduled, but the tasks on the workers keep running "
        "and HAProxy keeps serving them"])
    return judge(result, lab.probe.summary(t0, end), conditions={})


def recovery(lab: DrillLab) -> DrillResult:
    """Power every manager on. Quorum returns by itself; then every node must read Ready (they show
    Unknown for a while), every service be at its replica count and every replica answer through HAProxy."""
    names = [m for m in lab.managers if m in lab.down] or lab.managers
    t0 = lab.probe.now()
    lab.power_on([m for m in names if m in lab.down])
    booted = lab.probe.now() - t0
    wait_for("quorum (a manager answering `docker node ls`)", lambda: lab.nodes(), timeout_s=DETECT_TIMEOUT_S)
    quorum = lab.probe.now() - t0
    expected = {lab.spec.server_name(s) for s in lab.spec.managers + lab.spec.workers}
    wait_for("every node Ready", lambda: not nodes_not_ready(lab.nodes(), expected), timeout_s=DETECT_TIMEOUT_S,
             why=lambda: ", ".join(nodes_not_ready(lab.nodes(), expected)))
    ready = lab.probe.now() - t0
    lab.wait_converged("the stack converged and answering through HAProxy")
    rows = lab.nodes()
    end = lab.settle()
    result = DrillResult(name="recovery", detect_s=round(quorum, 1), recover_s=round(end - t0, 1), details={
        "powered_on": ", ".join(names), "booted_s": round(booted, 1), "quorum_s": round(quorum, 1),
        "all_ready_s": round(ready, 1), "leader": next((r.hostname for r in rows if r.is_leader), "")}, notes=[
        "time to detect = until quorum returned (a manager answers `docker node ls`); time to recover = "
        "every node Ready, every service at its replica count, every replica answering through HAProxy"])
    return judge(result, lab.probe.summary(t0, end),
                 conditions={"every node Ready": not nodes_not_ready(rows, expected)})


def heal(lab: DrillLab, timeout_s: float = CONVERGE_TIMEOUT_S) -> list[str]:
    """Power on every server of the lab that is not up (whoever stopped it) and its database appliance, then wait
    until every node is Ready and the stack converged. Returns what it powered on."""
    down = [s.name for s in lab.inventory.servers
            if lab.client.servers.get(s.id).status != "up"]
    if down:
        lab.log(f"heal: powering on {', '.join(down)}")
        lab.power_on(down)
    db_id = lab.inventory.db_id
    if db_id and lab.client.databases.get(db_id).status != "up":
        lab.log(f"heal: powering on {lab.spec.resource_name('db')}")
        lab.client.databases.power_on(db_id)
        lab.client.databases.wait_ready(db_id, POWER_TIMEOUT_S)
        down.append(lab.spec.resource_name("db"))
    lab.wait_converged("the lab healed (every node Ready, the stack converged)", timeout_s=timeout_s)
    return down
