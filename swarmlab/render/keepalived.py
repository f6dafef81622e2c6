"""keepalived.conf for an `edge: pair` lab's HAProxy servers (installed by swarmlab.release.keepalived).

Unicast VRRP (SAKURA drops multicast) between the pair's own addresses on the router's switch; the VIP
is the block's first assignable address, the pair take the next two (`edge_addresses`). Both start as
BACKUP with `nopreempt`: a HAProxy that comes back does not take the VIP from the one serving it (a
second move for nothing). haproxy01 has the higher priority, so it wins the first election. VRRP v3 with
a 0.2 s advert: a holder powered off is replaced after 3 adverts + skew, about 0.7 s, so a client's SYN lost
to the dead holder is answered by the new one on its first retransmission (1 s), inside the probe's 3 s. A check script asks
HAProxy's stats page on the private address every second; 2 failures put the instance in FAULT (the
peer takes the VIP), 2 successes bring it back as BACKUP.
"""

from __future__ import annotations

import zlib
from ipaddress import IPv4Address, IPv4Network

from swarmlab.render.haproxy import STATS_PORT
from swarmlab.spec import LabSpec, ServerSpec

ADVERT_S = 0.2
RESERVED_LOW = 4            # SAKURA: network, gateway and the router's two addresses
PRIORITY = {1: 150, 2: 100}


def edge_addresses(block: IPv4Network) -> tuple[IPv4Address, list[IPv4Address]]:
    """(VIP, [haproxy01, haproxy02]) in a router's block: its first three assignable addresses."""
    first = block.network_address + RESERVED_LOW
    if first + 2 >= block.broadcast_address:
        raise ValueError(f"router block {block}: too small for a VIP and two HAProxy servers")
    return first, [first + 1, first + 2]


def vrid(lab: str) -> int:
    """A VRRP router id (1-255) of the lab's own, the same on both servers."""
    return zlib.crc32(lab.encode()) % 255 + 1


def render_keepalived(spec: LabSpec, me: ServerSpec, block: IPv4Network, interface: str) -> str:
    """keepalived.conf for HAProxy server `me` of the pair; `interface` is its NIC on the router's switch."""
    if spec.edge != "pair" or me not in spec.haproxies:
        raise ValueError(f"keepalived: {spec.server_name(me)} is not a HAProxy server of an edge: pair lab")
    vip, addrs = edge_addresses(block)
    mine = addrs[me.index - 1]
    peer = addrs[2 - me.index]
    check = f"/usr/bin/curl -fs -o /dev/null -m 1 http://{me.private_ip}:{STATS_PORT}/stats"
    lines = [
        f"# keepalived.conf for {spec.server_name(me)}: rendered by swarmlab.render.keepalived; do not edit.",
        "global_defs {",
        f"    router_id {spec.server_name(me)}",
        "    enable_script_security",
        "    script_user root",
        "    vrrp_version 3",
        "}",
        "",
        "vrrp_script chk_haproxy {",
        f'    script "{check}"',
        "    interval 1",
        "    timeout 1",
        "    fall 2",
        "    rise 2",
        "}",
        "",
        "vrrp_instance edge {",
        "    state BACKUP",
        "    nopreempt",
        f"    interface {interface}",
        f"    virtual_router_id {vrid(spec.name)}",
        f"    priority {PRIORITY[me.index]}",
        f"    advert_int {ADVERT_S}",
        f"    unicast_src_ip {mine}",
        "    unicast_peer {",
        f"        {peer}",
        "    }",
        "    virtual_ipaddress {",
        f"        {vip}/{block.prefixlen} dev {interface}",
        "    }",
        "    track_script {",
        "        chk_haproxy",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"
