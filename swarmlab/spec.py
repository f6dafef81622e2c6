"""LabSpec: the one source of truth for a lab's topology, plans, OS, stack and budget."""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timedelta, timezone
from enum import Enum
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

LAB_TAG = "swarmlab"
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")

#: patterns for spec fields that reach a shell on the hosts (they are also shlex-quoted there)
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]{0,99}(=[A-Za-z0-9.+:~-]{1,100})?$")
PATH_RE = re.compile(r"^/[A-Za-z0-9._/-]{0,200}$")
USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
STACK_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
REGISTRY_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def shell_safe(field: str, value: str, pattern: re.Pattern, what: str) -> str:
    """`value` if it matches `pattern`, else a ValueError naming `field` and what it must be."""
    if not pattern.fullmatch(value):
        raise ValueError(f"{field}: {value!r} is not {what}")
    return value


def absolute_path(field: str, value: str) -> str:
    shell_safe(field, value, PATH_RE, "an absolute path of letters, digits, '.', '_', '-' and '/'")
    if ".." in value.split("/"):
        raise ValueError(f"{field}: {value!r} must not contain '..'")
    return value


def ShellSafe(field: str, pattern: re.Pattern, what: str) -> Any:  # noqa: N802 - a type factory
    """A str field that reaches a shell: it must match `pattern`; the error names `field` and `what` it must be."""
    return Annotated[str, AfterValidator(lambda v: shell_safe(field, v, pattern, what))]


def AbsolutePath(field: str) -> Any:  # noqa: N802 - a type factory
    """A str field that is an absolute path without '..' (it reaches a shell); the error names `field`."""
    return Annotated[str, AfterValidator(lambda v: absolute_path(field, v))]


OS_ARCHIVE_TAGS: dict[str, list[str]] = {
    "ubuntu2404": ["ubuntu-24.04-latest"],
    "ubuntu2204": ["ubuntu-22.04-latest"],
    "ubuntu2004": ["ubuntu-20.04-latest"],
}


class Role(str, Enum):
    manager = "manager"
    worker = "worker"
    haproxy = "haproxy"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSpec(Model):
    role: Role
    index: int = Field(ge=1, le=99, description="1-based position within its role")
    private_ip: IPv4Address

    def name(self, lab: str) -> str:
        """The SAKURA resource name and hostname: `<lab>-<role><nn>`."""
        return f"{lab}-{self.role.value}{self.index:02d}"


class ServerPlan(Model):
    cpu: int = Field(1, ge=1, le=128)
    memory_gb: int = Field(1, ge=1, le=1024)
    disk_gb: int = Field(20, ge=20)
    disk_plan: Literal["ssd", "hdd"] = "ssd"


class NFSSpec(Model):
    ip: IPv4Address
    plan: Literal["HDD", "SSD"] = "HDD"
    size_gb: int = 100
    export: AbsolutePath("nfs.export") = "/export"
    data_dir: str = Field("pgdata", pattern=r"^[A-Za-z0-9_.-]+$",
                          description="directory on the share that holds PostgreSQL's data")
    mount_point: AbsolutePath("nfs.mount_point") = "/mnt/nfs"


class DatabaseSpec(Model):
    """SAKURA's managed database appliance of a `database: appliance` lab (PostgreSQL; user `app`, its password
    derived like the registry's)."""

    ip: IPv4Address | None = Field(None, description="its address on the lab switch; empty: .210 of the subnet")
    plan: Literal["10g", "30g", "90g", "240g", "500g", "1t"] = "10g"
    port: int = Field(5432, ge=1024, le=65535)


class RegistrySpec(Model):
    name: str = Field(description="registry subdomain label: <name>.sakuracr.jp")
    user: ShellSafe("registry.user", REGISTRY_USER_RE, "a registry user name: 1-64 letters, digits, '_', '.' or '-', "
                                                       "starting with a letter or digit") = "swarmlab"

    @field_validator("name")
    @classmethod
    def _label(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}[a-z0-9]?", v):
            raise ValueError("registry name must be 1-64 lowercase letters, digits or '-' (a DNS label)")
        return v


class StackSpec(Model):
    name: ShellSafe("stack.name", STACK_RE, "a stack name: 1-63 lowercase letters, digits, '_' or '-', starting "
                                           "with a letter or digit") = "stack01"
    publish_mode: Literal["ingress", "host"] = "ingress"
    endpoint_mode: Literal["vip", "dnsrr"] = "vip"
    web_replicas: int = Field(10, ge=1)
    app_replicas: int = Field(3, ge=1)
    postgres_trust_auth: bool = False


HOOK_MAX = 4096


class HooksSpec(Model):
    """Shell commands run on the CONTROLLER (the machine running the flow, never a lab host), like Terraform's
    local-exec, with LAB_NAME, LAB_WEB_URL, LAB_DOCS_URL, LAB_HAPROXY and LAB_INVENTORY (JSON) set. Each entry is
    one command line; a failing command stops its list (`set -euo pipefail`)."""

    after_build: list[str] = Field([], description="run when the lab answers through HAProxy; a failure fails "
                                                   "the build")
    before_teardown: list[str] = Field([], description="run before build_and_destroy tears the lab down; a failure "
                                                       "is logged and the teardown goes on")

    @field_validator("after_build", "before_teardown")
    @classmethod
    def _commands(cls, v: list[str], info) -> list[str]:
        for i, command in enumerate(v):
            field = f"hooks.{info.field_name}[{i}]"
            if not command.strip():
                raise ValueError(f"{field}: empty command")
            if "\x00" in command or "\n" in command or "\r" in command:
                raise ValueError(f"{field}: one command line per entry (no newline or NUL); use several entries")
            if len(command) > HOOK_MAX:
                raise ValueError(f"{field}: {len(command)} chars; at most {HOOK_MAX} (put longer work in a script)")
        return v


class RouterSpec(Model):
    """The router+switch of an `edge: pair` lab: its block of public addresses (/28 is SAKURA's smallest) and
    bandwidth. The HAProxy pair's public NICs and the VIP take addresses of the block."""

    mask_len: Literal[28, 27, 26] = 28
    band_width_mbps: int = Field(100, ge=100)


#: how many HAProxy servers each edge has
EDGE_HAPROXIES = {"single": 1, "pair": 2}


class LabSpec(Model):
    """A whole lab: what `provision` creates and every later flow works on."""

    name: str = Field(description="lab name; prefixes every resource name")
    zone: str | None = Field(None, description="SAKURA zone (is1a, tk1b, ...); empty: the credentials' zone "
                                               "(block, else SAKURACLOUD_ZONE, else is1a)")
    subnet: IPv4Network = IPv4Network("192.168.1.0/24")
    gateway: IPv4Address | None = None
    servers: list[ServerSpec]
    nfs: NFSSpec
    registry: RegistrySpec
    plan: ServerPlan = ServerPlan()
    os: Literal["ubuntu2404", "ubuntu2204", "ubuntu2004"] = "ubuntu2204"
    packages: list[str] = ["vim", "nfs-common"]
    startup_script: str | None = Field(None, description="extra shell run at first boot, after swarmlab's own")
    ssh_public_key: str | None = Field(None, description="filled from the SSH key block when empty")
    ssh_user: ShellSafe("ssh_user", USER_RE, "a Linux user name: up to 32 lowercase letters, digits, '_' or '-', "
                                             "starting with a letter or '_'") = "ubuntu"
    budget_yen: int = Field(1000, ge=0)
    ttl_hours: float = Field(4.0, gt=0)
    profile: Literal["seed", "local"] = "seed"
    stack: StackSpec = StackSpec()
    admin_cidrs: list[IPv4Network] | None = Field(
        None, description="sources allowed to SSH (22) to every server through its packet filter; required on the "
                          "seed profile; the local profile defaults to this machine's address on the shared segment")
    public_cidrs: list[IPv4Network] = Field([IPv4Network("0.0.0.0/0")],
                                            description="sources allowed to HAProxy's 80 and 8000")
    hooks: HooksSpec = Field(HooksSpec(), description="controller-side shell commands after build / before teardown")
    edge: Literal["single", "pair"] = Field(
        "single", description="single: one HAProxy on the shared segment (the walkthrough's); pair: haproxy01 and "
                              "haproxy02 on the lab's router+switch, a VIP from its block moved by keepalived")
    router: RouterSpec = Field(RouterSpec(), description="the router+switch of an `edge: pair` lab")
    database: Literal["swarm", "appliance"] = Field(
        "swarm", description="swarm: PostgreSQL as a stack service, its data on the NFS share (the walkthrough's); "
                             "appliance: SAKURA's managed database appliance on the lab switch")
    db_appliance: DatabaseSpec = Field(DatabaseSpec(), description="the appliance of a `database: appliance` lab")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.fullmatch(v):
            raise ValueError("lab name must be 2-32 chars: lowercase letters, digits, '-', starting with a letter")
        return v

    @field_validator("packages")
    @classmethod
    def _packages(cls, v: list[str]) -> list[str]:
        for p in v:
            shell_safe("packages", p, PACKAGE_RE, "a Debian package name (lowercase letters, digits, '+', '.', '-'; "
                                                  "optionally =version)")
        return v

    @model_validator(mode="after")
    def _topology(self) -> LabSpec:
        ips = [s.private_ip for s in self.servers] + [self.nfs.ip]
        if self.database == "appliance":
            ips.append(self.db_appliance_ip)
        seen: set[IPv4Address] = set()
        for ip in ips:
            if ip in seen:
                raise ValueError(f"servers/nfs/db_appliance: duplicate private IP {ip}")
            seen.add(ip)
            if ip not in self.subnet or ip in (self.subnet.network_address, self.subnet.broadcast_address):
                raise ValueError(f"servers/nfs/db_appliance: IP {ip} is not a host address in subnet {self.subnet}")
        if self.gateway_ip in seen:
            raise ValueError(f"gateway: {self.gateway_ip} is also used by a server or an appliance")
        keys = [(s.role, s.index) for s in self.servers]
        if len(set(keys)) != len(keys):
            raise ValueError("servers: two servers share a role and index (names would collide)")
        managers = len(self.by_role(Role.manager))
        if managers == 0 or not self.by_role(Role.worker):
            raise ValueError("servers: a swarm needs at least one manager and one worker")
        if self.profile == "seed" and managers < 3:
            raise ValueError(f"servers: the seed profile needs at least 3 managers, got {managers}")
        if managers % 2 == 0:
            warnings.warn(f"servers: {managers} managers tolerate no more failures than {managers - 1}",
                          stacklevel=2)
        haproxies, want = len(self.by_role(Role.haproxy)), EDGE_HAPROXIES[self.edge]
        if haproxies != want:
            raise ValueError(f"servers: edge {self.edge!r} needs exactly {want} haproxy server"
                             f"{'s' if want > 1 else ''}, got {haproxies}")
        longest = max(len(s.name(self.name)) for s in self.servers)
        if longest > 63:
            raise ValueError(f"name: server names would be {longest} chars; SAKURA hostnames allow 63")
        check_stack(self)
        return self

    @property
    def gateway_ip(self) -> IPv4Address:
        return self.gateway or next(self.subnet.hosts())

    @property
    def db_appliance_ip(self) -> IPv4Address:
        """The database appliance's address: `db_appliance.ip`, else .210 of the subnet."""
        return self.db_appliance.ip or self.subnet.network_address + 210

    @property
    def ttl(self) -> timedelta:
        return timedelta(hours=self.ttl_hours)

    @property
    def archive_tags(self) -> list[str]:
        return OS_ARCHIVE_TAGS[self.os]

    def by_role(self, role: Role) -> list[ServerSpec]:
        return sorted((s for s in self.servers if s.role == role), key=lambda s: s.index)

    @property
    def managers(self) -> list[ServerSpec]:
        return self.by_role(Role.manager)

    @property
    def workers(self) -> list[ServerSpec]:
        return self.by_role(Role.worker)

    @property
    def haproxy(self) -> ServerSpec:
        """The (first) HAProxy server: the only one of a single edge, the VIP's first holder of a pair."""
        return self.by_role(Role.haproxy)[0]

    @property
    def haproxies(self) -> list[ServerSpec]:
        return self.by_role(Role.haproxy)

    def server_name(self, server: ServerSpec) -> str:
        return server.name(self.name)

    def resource_name(self, role: str) -> str:
        """Name of a singleton resource: `<lab>-switch`, `<lab>-nfs`, ..."""
        return f"{self.name}-{role}"

    def renamed(self, name: str) -> LabSpec:
        """The same lab under another name; a registry named after the lab follows it."""
        registry = self.registry.model_copy(update={"name": name}) if self.registry.name == self.name else self.registry
        return LabSpec(**{**self.model_dump(), "name": name, "registry": registry.model_dump()})

    @property
    def tags(self) -> list[str]:
        """Tags every resource of this lab carries (the expiry tag is added at provision time)."""
        return lab_tags(self.name)


def lab_tags(lab: str) -> list[str]:
    """The tags that mark a resource as lab `lab`'s: `swarmlab` and `swarmlab-lab=<lab>`."""
    return [LAB_TAG, f"{LAB_TAG}-lab={lab}"]


def run_lab_name(prefix: str, started: datetime) -> str:
    """A lab of one run's own: `<prefix>-<yyyymmdd>-<hhmm>` of the run's start (UTC)."""
    name = f"{prefix}-{started.astimezone(timezone.utc):%Y%m%d-%H%M}"
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"lab_prefix {prefix!r}: the run's lab name {name!r} must be 2-32 chars of lowercase "
                         f"letters, digits and '-', starting with a letter; use a prefix of at most 18 such chars")
    return name


PRIVATE_RANGES = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def class_labs(prefix: str, count: int, first_subnet: str) -> list[tuple[str, IPv4Network]]:
    """A class of `count` labs: names `<prefix>-01`…, and lab subnets one after another from `first_subnet`."""
    if not 1 <= count <= 50:
        raise ValueError(f"count {count}: a class has 1 to 50 labs")
    names = [f"{prefix}-{i:02d}" for i in range(1, count + 1)]
    if not all(NAME_RE.fullmatch(n) for n in names):
        raise ValueError(f"prefix {prefix!r}: lab names like {names[0]!r} must be 2-32 chars of lowercase letters, "
                         f"digits and '-', starting with a letter; use a prefix of at most 29 such chars")
    first = IPv4Network(first_subnet)
    nets = [IPv4Network((int(first.network_address) + i * first.num_addresses, first.prefixlen)) for i in range(count)]
    if not all(any(n.subnet_of(r) for r in PRIVATE_RANGES) for n in nets):
        raise ValueError(f"subnet {first_subnet}: {count} subnets from it leave the private ranges "
                         f"(last {nets[-1]}); start lower")
    return list(zip(names, nets))


def check_stack(spec: LabSpec) -> None:
    """Refuse a stack Docker would refuse at deploy time: ingress publishing on dnsrr endpoints, or more
    host-published replicas than workers (one task per node binds the port)."""
    st = spec.stack
    if st.publish_mode == "ingress" and st.endpoint_mode == "dnsrr":
        raise ValueError("stack: publish_mode 'ingress' cannot be used with endpoint_mode 'dnsrr' "
                         "(Docker rejects ingress-published ports on dnsrr services); use publish_mode 'host' "
                         "or endpoint_mode 'vip'")
    if st.publish_mode == "host":
        workers = len(spec.by_role(Role.worker))
        for field, replicas in (("web_replicas", st.web_replicas), ("app_replicas", st.app_replicas)):
            if replicas > workers:
                raise ValueError(f"stack.{field}: {replicas} replicas with publish_mode 'host' need {replicas} "
                                 f"workers (one task per node binds the port), but the lab has {workers}")


def _servers(subnet: IPv4Network, managers: int = 3, workers: int = 3, haproxies: int = 1) -> list[ServerSpec]:
    base = subnet.network_address
    out = [ServerSpec(role=Role.manager, index=i + 1, private_ip=base + 20 + i) for i in range(managers)]
    out += [ServerSpec(role=Role.worker, index=i + 1, private_ip=base + 30 + i) for i in range(workers)]
    out += [ServerSpec(role=Role.haproxy, index=i + 1, private_ip=base + 40 + i) for i in range(haproxies)]
    return out


def seed(name: str = "swarmlab", subnet: str = "192.168.1.0/24", workers: int = 3, **overrides) -> LabSpec:
    """The walkthrough's lab: 3 managers, 3 workers (up to 9: .30-.38), HAProxy, NFS at .200, ingress publishing."""
    if not 1 <= workers <= 9:
        raise ValueError(f"workers {workers}: a lab has 1 to 9 workers (.30-.38 of its subnet)")
    net = IPv4Network(subnet)
    fields = dict(
        name=name, subnet=net,
        servers=_servers(net, workers=workers, haproxies=EDGE_HAPROXIES[overrides.get("edge", "single")]),
        nfs=NFSSpec(ip=net.network_address + 200), registry=RegistrySpec(name=name),
        profile="seed", stack=StackSpec(publish_mode="ingress", endpoint_mode="vip", web_replicas=10),
    )
    fields.update(overrides)
    return LabSpec(**fields)


def local(name: str = "swarmlab", subnet: str = "192.168.1.0/24", workers: int = 3, **overrides) -> LabSpec:
    """The seed on the local emulator: no IPVS here, so host publishing and dnsrr endpoints (a replica of web
    and app per worker, at most 3)."""
    if "servers" in overrides:
        workers = sum(1 for s in overrides["servers"] if s.role == Role.worker)
    replicas = max(1, min(3, workers))
    fields = dict(profile="local", budget_yen=500, ttl_hours=2.0,
                  stack=StackSpec(publish_mode="host", endpoint_mode="dnsrr", web_replicas=replicas,
                                  app_replicas=replicas))
    fields.update(overrides)
    return seed(name, subnet, workers, **fields)


PROFILES = {"seed": seed, "local": local}
