"""keepalived on an `edge: pair` lab's HAProxy servers: the VIP of the router's block, moved by unicast VRRP.

Steps, each skipped when already true: apt install keepalived (Debian's) → find the NIC that holds the
server's address of the block → upload the rendered keepalived.conf to a temp path → `keepalived
--config-test` it → move it over /etc/keepalived/keepalived.conf → reload (start and enable on first
install). An identical installed file with keepalived active changes nothing.
"""

from __future__ import annotations

import hashlib
import shlex
from ipaddress import IPv4Network

from swarmlab.hosts import CommandFailed, HostError, Session
from swarmlab.hosts.prepare import APT
from swarmlab.render.keepalived import edge_addresses, render_keepalived
from swarmlab.spec import LabSpec, ServerSpec

CONF = "/etc/keepalived/keepalived.conf"


class KeepalivedConfigInvalid(HostError):
    def __init__(self, host: str, output: str):
        super().__init__(host, f"{host}: keepalived --config-test rejected the rendered keepalived.conf (left "
                               f"untouched: {CONF}): {output}. Fix swarmlab.render.keepalived and run again.")
        self.output = output


class NoRouterNic(HostError):
    def __init__(self, host: str, address: str):
        super().__init__(host, f"{host}: no NIC holds {address}, its address on the router's switch; check the "
                               f"server's NIC0 (`ip -4 addr` on it) and re-run provision")


def facts(session: Session, address: str) -> dict[str, str]:
    """installed (1/0), sha of the installed conf, active, iface (the NIC holding `address`)."""
    out = session.run(f"""echo installed=$(dpkg-query -W -f='${{Status}}' keepalived 2>/dev/null | grep -c 'install ok installed')
echo sha=$(sha256sum {CONF} 2>/dev/null | cut -d' ' -f1)
echo active=$(systemctl is-active keepalived 2>/dev/null)
echo iface=$(ip -o -4 addr show | awk -v a={shlex.quote(address + "/")} 'index($4, a) == 1 {{sub(/@.*/, "", $2); print $2; exit}}')
exit 0""", timeout_s=60).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def configure(session: Session, spec: LabSpec, me: ServerSpec, block: IPv4Network) -> list[str]:
    """Install, check, place and (re)load keepalived.conf on HAProxy server `me`; what changed (empty: nothing)."""
    name = session.name
    address = str(edge_addresses(block)[1][me.index - 1])
    f = facts(session, address)
    if not f.get("iface"):
        raise NoRouterNic(name, address)
    conf = render_keepalived(spec, me, block, f["iface"])
    sha = hashlib.sha256(conf.encode()).hexdigest()
    changes: list[str] = []
    if f.get("installed") != "1":
        session.run(f"{APT} update && {APT} install keepalived", sudo=True, timeout_s=600)
        changes.append(f"{name}: installed keepalived")
    if f.get("sha") == sha and f.get("active") == "active" and not changes:
        return []
    if f.get("sha") != sha:
        tmp = f"{CONF}.swarmlab-new"
        session.put(conf, tmp, mode=0o644, sudo=True)
        check = session.run(f"keepalived --config-test --log-console -f {shlex.quote(tmp)}", sudo=True, check=False,
                            timeout_s=60)
        if not check.ok:
            session.run(f"rm -f {shlex.quote(tmp)}", sudo=True, check=False, timeout_s=30)
            raise KeepalivedConfigInvalid(name, (check.stderr or check.stdout).strip()[-1500:])
        session.run(f"mv {shlex.quote(tmp)} {CONF}", sudo=True, timeout_s=30)
        changes.append(f"{name}: installed {CONF} ({sha[:12]})")
    try:
        session.run("systemctl enable --quiet keepalived && if systemctl is-active --quiet keepalived; "
                    "then systemctl reload keepalived; else systemctl start keepalived; fi", sudo=True, timeout_s=120)
    except CommandFailed as e:
        status = session.run("systemctl status --no-pager -n 20 keepalived", sudo=True, check=False).stdout
        raise CommandFailed(name, e.command, e.exit_status, status or e.stderr_tail) from None
    changes.append(f"{name}: keepalived reloaded")
    return changes


def holds(session: Session, vip: str) -> bool:
    """Whether the server behind `session` holds `vip` now."""
    out = session.run(f"ip -o -4 addr show to {shlex.quote(vip)}/32", timeout_s=10, check=False).stdout
    return vip in out


def vrrp_state(session: Session) -> str:
    """The state keepalived's edge instance last entered since the service started (MASTER, BACKUP, FAULT), or
    '' (not active yet). The journal is read from the service's start: an older boot's lines do not count."""
    out = session.run("since=$(systemctl show -p ActiveEnterTimestamp --value keepalived); "
                      "systemctl is-active --quiet keepalived && [ -n \"$since\" ] && "
                      "journalctl -u keepalived -o cat --no-pager --since \"${since#* }\" "
                      "| grep -o 'Entering [A-Z]* STATE' | tail -1", sudo=True, timeout_s=20, check=False).stdout
    return out.split()[1] if out.strip() else ""
