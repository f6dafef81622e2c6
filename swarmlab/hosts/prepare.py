"""prepare_hosts: wait for the startup script, apt update/upgrade/install, reboot if required.

facts (one SSH call) → plan (pure) → apply. Like Ansible's `apt: cache_valid_time`, a host whose
package lists were refreshed by us within the last hour is not updated or upgraded again.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Literal

from pydantic import BaseModel, ConfigDict

from swarmlab.hosts import CommandFailed, CommandTimeout, HostUnreachable, Session
from swarmlab.sakura.wait import Poll

STAMP = "/var/lib/swarmlab/apt-updated"
NOTES = "/root/.sacloud-api/notes"
APT = "DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold"
CACHE_VALID_S = 3600
#: a manager without quorum answers `/info` only after ~20 s: its swarm state is then read by the swarm plan
ENGINE_INFO_TIMEOUT_S = 3


class HostFacts(BaseModel):
    model_config = ConfigDict(frozen=True)
    now: int
    apt_updated: int                 # epoch of our last update+upgrade, 0 if never
    missing: list[str]
    reboot_required: bool
    notes_pending: list[str]         # startup scripts with a .log but no .done yet
    boot: str                        # changes when the host reboots
    docker: bool = False             # the engine answered on its socket (/_ping)
    swarm: dict | None = None        # its `/info` .Swarm, when that answered within ENGINE_INFO_TIMEOUT_S


class Prepared(BaseModel):
    """What prepare did on a host, and the engine's swarm state read with its facts when it did nothing after
    (the swarm plan need not ask again)."""
    model_config = ConfigDict(frozen=True)
    changes: list[str]
    swarm: dict | None = None


def facts_command(packages: list[str]) -> str:
    pkgs = " ".join(shlex.quote(p) for p in packages)
    return f"""set -u
echo now=$(date +%s)
echo apt_updated=$(cat {STAMP} 2>/dev/null || echo 0)
for p in {pkgs}; do dpkg-query -W -f='${{Status}}\\n' "$p" 2>/dev/null | grep -q 'install ok installed' || echo missing=$p; done
[ -f /var/run/reboot-required ] && echo reboot_required=1
for log in {NOTES}/*.log; do [ -e "$log" ] && [ ! -e "${{log%.log}}.done" ] && echo notes_pending=$(basename "$log" .log); done
echo boot=$(ps -o lstart= -p 1 | tr -s ' ' _)
if curl -sf -m 10 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1; then
  echo docker=1
  info=$(curl -sf -m {ENGINE_INFO_TIMEOUT_S} --unix-socket /var/run/docker.sock http://docker/info 2>/dev/null) &&
    printf 'engine_info=%s\\n' "$info"
fi
exit 0"""


def parse_facts(output: str) -> HostFacts:
    """Parse the key=value lines `facts_command` prints."""
    values: dict = {"missing": [], "notes_pending": [], "reboot_required": False}
    for line in output.splitlines():
        key, _, value = line.strip().partition("=")
        if key in ("missing", "notes_pending"):
            values[key].append(value)
        elif key in ("reboot_required", "docker"):
            values[key] = True
        elif key in ("now", "apt_updated"):
            values[key] = int(value or 0)
        elif key == "boot":
            values[key] = value
        elif key == "engine_info":
            values["swarm"] = _swarm_section(value)
    return HostFacts(**values)


def _swarm_section(info: str) -> dict | None:
    try:
        swarm = json.loads(info).get("Swarm")
    except (ValueError, AttributeError):
        return None
    return swarm if isinstance(swarm, dict) else None


class AptStep(BaseModel):
    """One planned step on a host: `update`, `upgrade`, `install` (of `packages`), `autoremove` or `reboot`."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["update", "upgrade", "install", "autoremove", "reboot"]
    packages: tuple[str, ...] = ()

    def __str__(self) -> str:
        return " ".join((self.kind, *self.packages))


UPDATE, UPGRADE, AUTOREMOVE, REBOOT = (AptStep(kind=k) for k in ("update", "upgrade", "autoremove", "reboot"))


def plan_host(facts: HostFacts, cache_valid_s: int = CACHE_VALID_S) -> list[AptStep]:
    """Steps for one host, in order: update, upgrade, install <pkgs>, autoremove, reboot."""
    steps: list[AptStep] = []
    if facts.now - facts.apt_updated > cache_valid_s:
        steps += [UPDATE, UPGRADE]
    if facts.missing:
        if UPDATE not in steps:
            steps.append(UPDATE)
        steps.append(AptStep(kind="install", packages=tuple(facts.missing)))
    if UPGRADE in steps:
        steps.append(AUTOREMOVE)
    if facts.reboot_required:
        steps.append(REBOOT)
    return steps


def gather(session: Session, packages: list[str]) -> HostFacts:
    return parse_facts(session.run(facts_command(packages), sudo=True, timeout_s=60).stdout)


def wait_startup_scripts(session: Session, packages: list[str], timeout_s: float = 900) -> HostFacts:
    """Wait until every startup script the cloud ran has finished (its .done file exists)."""
    for attempt in Poll(f"{session.name}'s startup scripts to finish", timeout_s, interval_s=2):
        facts = gather(session, packages)
        if not facts.notes_pending:
            return facts
        attempt.note(f"pending: {', '.join(facts.notes_pending)}")
    log = session.run(f"tail -n 20 {NOTES}/{facts.notes_pending[0]}.log", sudo=True, check=False).stdout
    raise CommandFailed(session.name, "startup script", -1,
                        f"still not done after {timeout_s:.0f} s; its log ends with:\n{log}")


_SUMMARY_RE = re.compile(r"^(\d+) upgraded, (\d+) newly installed, (\d+) to remove", re.M)


def changed_packages(apt_output: str) -> bool:
    """Whether apt-get's summary line reports any package upgraded, installed or removed (no line: assume so)."""
    m = _SUMMARY_RE.search(apt_output)
    return m is None or any(int(n) for n in m.groups())


def apply_host(session: Session, steps: list[AptStep], reboot_timeout_s: float = 600) -> list[str]:
    """Run the planned steps; returns what was done (empty when nothing was planned). An autoremove after an
    upgrade that changed no package is skipped: it would find nothing new to remove."""
    done = []
    upgraded = True
    for step in steps:
        match step.kind:
            case "update":
                session.run(f"{APT} update", sudo=True, timeout_s=900)
            case "upgrade":
                upgraded = changed_packages(session.run(
                    f"{APT} upgrade && mkdir -p {STAMP.rsplit('/', 1)[0]} && date +%s > {STAMP}",
                    sudo=True, timeout_s=1800).stdout)
            case "install":
                session.run(f"{APT} install {' '.join(shlex.quote(p) for p in step.packages)}", sudo=True,
                            timeout_s=1800)
            case "autoremove":
                if not upgraded:
                    continue
                session.run(f"{APT} autoremove", sudo=True, timeout_s=900)
            case "reboot":
                reboot(session, reboot_timeout_s)
        done.append(f"{session.name}: {step}")
    return done


def reboot(session: Session, timeout_s: float) -> None:
    """Reboot and wait until the host is back (a new PID 1) with Docker answering."""
    before = gather(session, []).boot
    session.run("systemctl reboot", sudo=True, check=False, timeout_s=30)
    wait_rebooted(session, before, timeout_s)
    wait_docker(session, timeout_s)


# what a host that is going down or still booting answers; AuthFailed / HostKeyMismatch are not among them
NOT_BACK_YET = (HostUnreachable, CommandFailed, CommandTimeout)


def wait_rebooted(session: Session, before: str, timeout_s: float, interval_s: float = 2.0) -> HostFacts:
    """Poll until PID 1 started after `before`. Only "not back yet" is waited out: a host that answers
    with another host key or refuses our key fails at once (HostKeyMismatch / AuthFailed name the host)."""
    attempts = Poll(f"{session.name} to come back from its reboot", timeout_s, interval_s=interval_s,
                    sleep_first=True)
    for attempt in attempts:
        try:
            facts = gather(session, [])
        except NOT_BACK_YET as e:  # the session reconnects on the next call
            attempt.note(f"{type(e).__name__}: {e}"[:300])
            continue
        if facts.boot != before:
            return facts
        attempt.note("still the old boot")
    raise CommandFailed(session.name, "systemctl reboot", -1,
                        f"not back within {timeout_s:.0f} s; last: {attempts.last or 'no answer yet'}")


def wait_docker(session: Session, timeout_s: float = 300) -> str:
    """Docker's server version, once `docker info` answers."""
    for attempt in Poll(f"Docker on {session.name} to answer", timeout_s):
        r = session.run("docker info --format '{{.ServerVersion}}'", sudo=True, check=False, timeout_s=60)
        if r.ok and r.stdout.strip():
            return r.stdout.strip()
        attempt.note(f"docker info exited {r.exit_status}")
    raise CommandFailed(session.name, "docker info", r.exit_status, r.stderr)
