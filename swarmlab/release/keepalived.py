"""keepalived on an `edge: pair` lab's HAProxy servers: the VIP of the router's block, moved by unicast VRRP.

Find the NIC that holds the server's address of the block, then keepalived.conf as a `ServiceFile` (apt install
Debian's keepalived, `keepalived --config-test`, place, reload; an identical file with keepalived active
changes nothing).
"""

from __future__ import annotations

import shlex
from ipaddress import IPv4Network

from swarmlab.hosts import HostError, Session
from swarmlab.release.service_file import ServiceFile
from swarmlab.render.keepalived import edge_addresses, render_keepalived
from swarmlab.spec import LabSpec, ServerSpec

CONF = "/etc/keepalived/keepalived.conf"


class NoRouterNic(HostError):
    def __init__(self, host: str, address: str):
        super().__init__(host, f"{host}: no NIC holds {address}, its address on the router's switch; check the "
                               f"server's NIC0 (`ip -4 addr` on it) and re-run provision")


KEEPALIVED = ServiceFile("keepalived", "keepalived", CONF, "keepalived --config-test --log-console -f {path}",
                         "swarmlab.render.keepalived")


def facts(session: Session, address: str) -> dict[str, str]:
    """installed (1/0), sha of the installed conf, active, iface (the NIC holding `address`)."""
    prefix = shlex.quote(address + "/")
    return KEEPALIVED.facts(session, f"echo iface=$(ip -o -4 addr show | awk -v a={prefix} "
                                     "'index($4, a) == 1 {sub(/@.*/, \"\", $2); print $2; exit}')")


def configure(session: Session, spec: LabSpec, me: ServerSpec, block: IPv4Network) -> list[str]:
    """Install, check, place and (re)load keepalived.conf on HAProxy server `me`; what changed (empty: nothing)."""
    address = str(edge_addresses(block)[1][me.index - 1])
    f = facts(session, address)
    if not f.get("iface"):
        raise NoRouterNic(session.name, address)
    return KEEPALIVED.converge(session, render_keepalived(spec, me, block, f["iface"]), f)


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
