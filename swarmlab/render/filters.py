"""The lab's packet filters (pure): SSH from `admin_cidrs` only on every server, HAProxy's 80 and 8000
from `public_cidrs`; stateless, so return traffic of the server's own outbound connections is allowed by
destination port range, then fragments and ICMP, and the list ends with an explicit deny."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from pydantic import BaseModel, ConfigDict

from swarmlab.errors import SwarmlabError
from swarmlab.sakura.models import PacketFilterRule
from swarmlab.sakura.packet_filters import MAX_RULES
from swarmlab.spec import LabSpec, Role

# Linux's default ip_local_port_range (32768-60999): the source ports of the servers' own connections
# (apt, the registry, NTP, DNS) and so the destination ports of their replies. 1024-65535 would also open
# 2377, 7946, 5432 and 8000 to the internet.
RETURN_PORTS = "32768-61000"
EDGE_PORTS = ("80", "8000")
MARKER = "swarmlab-lab="


class AdminCidrsRequired(SwarmlabError, ValueError):
    """The seed profile has no default for who may SSH to the lab."""

    def __init__(self, lab: str):
        super().__init__(
            f"lab {lab}: admin_cidrs is not set. The packet filters allow SSH (22) only from LabSpec.admin_cidrs; "
            f"set it to the controller's public address, e.g. admin_cidrs=['<address>/32'] where <address> is what "
            f"`curl -s https://ifconfig.me` prints on this machine")


class TooManyRules(SwarmlabError, ValueError):
    def __init__(self, name: str, count: int):
        super().__init__(f"packet filter {name}: {count} rules, SAKURA allows at most {MAX_RULES}; "
                         f"use fewer or wider admin_cidrs / public_cidrs")


class FilterSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    description: str
    rules: list[PacketFilterRule]


def filter_name(spec: LabSpec, role: Role) -> str:
    """`<lab>-filter` for managers and workers, `<lab>-filter-edge` for HAProxy."""
    return spec.resource_name("filter-edge" if role == Role.haproxy else "filter")


def description(spec: LabSpec) -> str:
    """Filters have no tags: the marker that says which lab owns one."""
    return f"{MARKER}{spec.name} (swarmlab packet filter)"


def owned(spec_name: str, name: str, desc: str) -> bool:
    return name.startswith(f"{spec_name}-filter") and f"{MARKER}{spec_name} " in f"{desc} "


def admin_cidrs(spec: LabSpec, shared_gateway: str | IPv4Address | None) -> list[IPv4Network]:
    """`spec.admin_cidrs`; on the local profile, else the gateway of the segment the server's public NIC is on
    (the shared segment's, or the router's for an `edge: pair` HAProxy: this machine there)."""
    if spec.admin_cidrs is not None:
        return list(spec.admin_cidrs)
    if spec.profile == "local" and shared_gateway:
        return [IPv4Network(f"{shared_gateway}/32")]
    if spec.profile == "local":
        raise ValueError(f"lab {spec.name}: admin_cidrs defaults to the shared segment's gateway, which the "
                         f"API did not tell (the server's shared NIC has no UserSubnet.DefaultRoute); set admin_cidrs")
    raise AdminCidrsRequired(spec.name)


def _src(net: IPv4Network) -> str:
    return "" if net.prefixlen == 0 else (str(net.network_address) if net.prefixlen == 32 else str(net))


def _rule(protocol: str, port: str = "", src: str = "", action: str = "allow", why: str = "") -> PacketFilterRule:
    return PacketFilterRule(protocol=protocol, source_network=src, destination_port=port, action=action,
                            description=why)


def render_filter(spec: LabSpec, role: Role, admins: list[IPv4Network],
                  pair: list[IPv4Address] = ()) -> FilterSpec:
    """The filter every server of `role` gets; TooManyRules past SAKURA's 30. `pair`: an `edge: pair` lab's
    HAProxy addresses on the router's switch, from which the edge filter takes any IP protocol (VRRP is IP
    protocol 112: the final deny would drop it)."""
    rules = [_rule("tcp", "22", _src(n), why="ssh from admin") for n in admins]
    if role == Role.haproxy:
        rules += [_rule("tcp", port, _src(n), why="edge") for n in spec.public_cidrs for port in EDGE_PORTS]
        rules += [_rule("ip", src=str(a), why="vrrp from the pair") for a in pair]
    rules += [_rule("tcp", RETURN_PORTS, why="return traffic"), _rule("udp", RETURN_PORTS, why="return traffic"),
              _rule("fragment"), _rule("icmp"), _rule("ip", action="deny", why="everything else")]
    name = filter_name(spec, role)
    if len(rules) > MAX_RULES:
        raise TooManyRules(name, len(rules))
    return FilterSpec(name=name, description=description(spec), rules=rules)


def render_filters(spec: LabSpec, admins: list[IPv4Network]) -> list[FilterSpec]:
    """The lab's two filters: servers, then HAProxy."""
    return [render_filter(spec, Role.manager, admins), render_filter(spec, Role.haproxy, admins)]
