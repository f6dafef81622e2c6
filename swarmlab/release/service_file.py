"""A Debian service configured by one file (HAProxy's haproxy.cfg, keepalived's keepalived.conf).

Steps, each skipped when already true: apt install the package → upload the rendered file to a temp path →
the service's own check of it → move it into place → reload (start and enable on first install). An
identical installed file with the service active changes nothing; a file the check rejects never reaches
its place: `ConfigInvalid` carries the check's own words.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

from swarmlab.hosts import CommandFailed, HostError, Session
from swarmlab.hosts.prepare import APT


class ConfigInvalid(HostError):
    """The service's own check rejected the rendered file on `host`; the installed file is untouched."""

    def __init__(self, host: str, path: str, renderer: str, output: str):
        super().__init__(host, f"{host}: the service's check rejected the rendered {path} (left untouched): "
                               f"{output}. Fix {renderer} or the spec and run again.")
        self.path, self.output = path, output


@dataclass(frozen=True)
class ServiceFile:
    """`package` installs `service`, configured by `path`, rendered by `renderer`; `check` is the command that
    validates a file (`{path}` is the file to check)."""
    package: str
    service: str
    path: str
    check: str
    renderer: str

    def facts(self, session: Session, extra: str = "") -> dict[str, str]:
        """installed (1/0), sha of the installed file, active; plus what `extra` (shell lines printing
        key=value) prints."""
        out = session.run(f"""echo installed=$(dpkg-query -W -f='${{Status}}' {self.package} 2>/dev/null | grep -c 'install ok installed')
echo sha=$(sha256sum {self.path} 2>/dev/null | cut -d' ' -f1)
echo active=$(systemctl is-active {self.service} 2>/dev/null)
{extra}
exit 0""", timeout_s=60).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def converge(self, session: Session, content: str, facts: dict[str, str]) -> list[str]:
        """Make `content` the service's file and the service active, from `facts` (`self.facts`); what changed
        (empty: nothing). A file the check rejects raises `ConfigInvalid` with the check's own words."""
        name = session.name
        sha = hashlib.sha256(content.encode()).hexdigest()
        changes: list[str] = []
        if facts.get("installed") != "1":
            session.run(f"{APT} update && {APT} install {self.package}", sudo=True, timeout_s=600)
            changes.append(f"{name}: installed {self.package}")
        if facts.get("sha") == sha and facts.get("active") == "active" and not changes:
            return []
        if facts.get("sha") != sha:
            tmp = shlex.quote(f"{self.path}.swarmlab-new")
            session.put(content, f"{self.path}.swarmlab-new", mode=0o644, sudo=True)
            check = session.run(self.check.replace("{path}", tmp), sudo=True, check=False, timeout_s=60)
            if not check.ok:
                session.run(f"rm -f {tmp}", sudo=True, check=False, timeout_s=30)
                raise ConfigInvalid(name, self.path, self.renderer, (check.stderr or check.stdout).strip()[-1500:])
            session.run(f"mv {tmp} {self.path}", sudo=True, timeout_s=30)
            changes.append(f"{name}: installed {self.path} ({sha[:12]})")
        svc = self.service
        try:
            session.run(f"systemctl enable --quiet {svc} && if systemctl is-active --quiet {svc}; "
                        f"then systemctl reload {svc}; else systemctl start {svc}; fi", sudo=True, timeout_s=120)
        except CommandFailed as e:
            status = session.run(f"systemctl status --no-pager -n 20 {svc}", sudo=True, check=False).stdout
            raise CommandFailed(name, e.command, e.exit_status, status or e.stderr_tail) from None
        changes.append(f"{name}: {svc} reloaded")
        return changes
