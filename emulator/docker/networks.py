"""Bridge networks: the shared segment (`<instance>-shared`) and one internal bridge per switch
(`<instance>-sw-<switch id>`), made when the first NIC with an address joins it. A router's switch is
made with the router, from a free block of ROUTER_POOL, and is not internal: this machine holds its
gateway address, so it reaches the servers' addresses there as it reaches the shared segment's."""

from __future__ import annotations

import ipaddress
import json
import threading

from docker.errors import APIError, NotFound
from docker.types import IPAMConfig, IPAMPool

from ..backend import ROUTER_POOL, free_block
from .common import L_INSTANCE, L_KIND, L_RESOURCE, DockerBackendError, Scope, write_file

SHARED_RESOURCE = "shared"
#: where an instance started without --shared-subnet takes its shared segment: the first free /24
SHARED_POOL = ipaddress.ip_network("198.18.0.0/15")


class SubnetTaken(DockerBackendError):
    """The shared segment's subnet overlaps a docker network (another emulator instance's, or anything else)."""


def subnets_in_use(client) -> dict[ipaddress.IPv4Network, str]:
    """Every IPv4 subnet of every docker network on the daemon → who holds it (network, emulator instance)."""
    used = {}
    for n in client.networks.list():
        attrs = n.attrs
        holder = n.name + (f" (emulator instance {inst})" if (inst := (attrs.get("Labels") or {}).get(L_INSTANCE))
                           else "")
        for cfg in (attrs.get("IPAM") or {}).get("Config") or []:
            try:
                net = ipaddress.ip_network(cfg.get("Subnet", ""), strict=False)
            except ValueError:
                continue
            if net.version == 4:
                used[net] = holder
    return used


def holders(client, subnet: ipaddress.IPv4Network) -> list[str]:
    return sorted(h for net, h in subnets_in_use(client).items() if net.overlaps(subnet))


def first_free_24(used: list[ipaddress.IPv4Network], taken: set[str] = frozenset(),
                  pool: ipaddress.IPv4Network = SHARED_POOL) -> str | None:
    """The first /24 of `pool` that overlaps none of `used` and is not in `taken` (None: the pool is full)."""
    for candidate in pool.subnets(new_prefix=24):
        if str(candidate) not in taken and not any(candidate.overlaps(net) for net in used):
            return str(candidate)
    return None


def free_shared_subnet(client, instance: str, taken: set[str] = frozenset()) -> str:
    """The instance's shared subnet: that of its existing shared network (a restart keeps its addresses),
    else the first /24 of SHARED_POOL that overlaps no docker network (and is not in `taken`)."""
    name = f"{instance}-shared"
    for n in client.networks.list(names=[name]):
        if n.name == name and (n.attrs.get("Labels") or {}).get(L_INSTANCE) == instance:
            for cfg in (n.attrs.get("IPAM") or {}).get("Config") or []:
                return str(ipaddress.ip_network(cfg["Subnet"], strict=False))
    free = first_free_24(list(subnets_in_use(client)), taken)
    if free:
        return free
    raise SubnetTaken(f"no free /24 left in {SHARED_POOL} for emulator instance {instance}'s shared segment; "
                      "remove stopped emulators' objects with `python -m emulator.purge INSTANCE` "
                      "(`docker network ls --filter label=sakura-emulator.instance` lists them)")


class Networks:
    def __init__(self, scope: Scope, shared_subnet: str) -> None:
        self.scope = scope
        self.shared_subnet = ipaddress.ip_network(shared_subnet, strict=False)
        if self.shared_subnet.version != 4 or self.shared_subnet.prefixlen > 28:
            raise ValueError(f"shared_subnet {shared_subnet} must be IPv4 and at least a /28")
        self.shared_gateway = str(self.shared_subnet.network_address + 1)
        # registries (the only containers without a fixed address) take their shared IP from here
        self.dynamic_range = (ipaddress.ip_network(f"{self.shared_subnet.broadcast_address - 15}/28", strict=False)
                              if self.shared_subnet.prefixlen <= 26 else None)
        self._lock = threading.Lock()

    @property
    def shared_name(self) -> str:
        return f"{self.scope.instance}-shared"

    def switch_name(self, switch_id: str) -> str:
        return f"{self.scope.instance}-sw-{switch_id}"

    def _meta_path(self, switch_id: str):
        return self.scope.state_dir / "switches" / f"{switch_id}.json"

    def _get(self, name: str):
        try:
            n = self.scope.client.networks.get(name)
        except NotFound:
            return None
        if n.name != name:        # `get` also matches id prefixes
            return None
        if not self.scope.ours(n.attrs.get("Labels")):
            raise DockerBackendError(f"docker network {name} exists but was not made by emulator instance "
                                     f"{self.scope.instance}; remove it or pick another instance name")
        return n

    def _create(self, name: str, subnet: ipaddress.IPv4Network, gateway: str, labels: dict,
                internal: bool, iprange: str | None = None):
        pool = IPAMPool(subnet=str(subnet), gateway=gateway, iprange=iprange)
        try:
            return self.scope.client.networks.create(name, driver="bridge", ipam=IPAMConfig(pool_configs=[pool]),
                                                     labels=labels, internal=internal, check_duplicate=True)
        except APIError as e:
            if e.status_code == 409:    # created concurrently (another process)
                n = self._get(name)
                if n is not None:
                    return n
            if "overlap" in str(e.explanation).lower():
                who = [h for h in holders(self.scope.client, subnet) if not h.startswith(name + " ")]
                instances = sorted({h.split("emulator instance ")[1].rstrip(")") for h in who
                                    if "emulator instance " in h})
                fix = ("; stop that emulator and remove its docker objects with " + ", ".join(
                    f"`python -m emulator.purge {i}`" for i in instances)) if instances else ""
                raise SubnetTaken(f"cannot create docker network {name}: {subnet} overlaps "
                                  f"{', '.join(who) or 'another docker network'}{fix}; or start this emulator "
                                  "with another --shared-subnet, or without one (a free subnet is picked)") from None
            raise DockerBackendError(f"cannot create docker network {name} ({subnet}): {e.explanation}") from None

    def ensure_shared(self):
        with self._lock:
            n = self._get(self.shared_name)
            if n is not None:
                return n
            return self._create(self.shared_name, self.shared_subnet, self.shared_gateway,
                                self.scope.labels(SHARED_RESOURCE, "shared"), internal=False,
                                iprange=str(self.dynamic_range) if self.dynamic_range else None)

    def ensure_switch(self, switch_id: str, ip: str, mask_len: int):
        name = self.switch_name(switch_id)
        with self._lock:
            n = self._get(name)
            if n is not None:
                return n
            subnet = ipaddress.ip_network(f"{ip}/{mask_len}", strict=False)
            if subnet.prefixlen > 30:
                raise DockerBackendError(f"switch {switch_id}: /{mask_len} is too small for a docker network")
            gw = subnet.network_address + 1
            if str(gw) == ip:
                gw = subnet.broadcast_address - 1
            meta = self._meta(switch_id)
            # internal: a private switch has no route out (like SAKURA's); VMs reach the internet via NIC0
            return self._create(name, subnet, str(gw), self.scope.labels(switch_id, "switch", meta.get("tags")),
                                internal=True)

    def router_subnet(self, mask_len: int, taken: set[str]) -> str:
        """A free /`mask_len` of ROUTER_POOL: overlapping no docker network and none of `taken`."""
        with self._lock:
            block = free_block(ROUTER_POOL, mask_len, [*subnets_in_use(self.scope.client), *taken])
        if block is None:
            raise SubnetTaken(f"no free /{mask_len} left in {ROUTER_POOL} for a router; delete unused routers "
                              "or purge stopped emulators (`python -m emulator.purge INSTANCE`)")
        return block

    def ensure_router(self, switch_id: str, subnet: str, gateway: str, tags: list[str]):
        """The router's switch network (not internal), with `gateway` on this machine's bridge."""
        write_file(self._meta_path(switch_id), json.dumps({"name": "", "tags": list(tags), "subnet": subnet}))
        name = self.switch_name(switch_id)
        with self._lock:
            n = self._get(name)
            if n is not None:
                return n
            return self._create(name, ipaddress.ip_network(subnet), gateway,
                                self.scope.labels(switch_id, "switch", tags), internal=False)

    def _meta(self, switch_id: str) -> dict:
        try:
            return json.loads(self._meta_path(switch_id).read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def remove(self, n) -> None:
        try:
            n.reload()
            for cid in (n.attrs.get("Containers") or {}):
                try:
                    n.disconnect(cid, force=True)
                except (NotFound, APIError):
                    pass
            n.remove()
        except NotFound:
            pass

    def switch_created(self, switch_id: str, name: str, tags: list[str]) -> None:
        # the subnet is unknown until a NIC with an address joins: only remember name and tags
        write_file(self._meta_path(switch_id), json.dumps({"name": name, "tags": list(tags)}))

    def switch_deleted(self, switch_id: str) -> None:
        with self.scope.lock(switch_id):
            with self._lock:
                n = self._get(self.switch_name(switch_id))
                if n is not None:
                    self.remove(n)
            self._meta_path(switch_id).unlink(missing_ok=True)

    def sweep(self, live: set[str]) -> None:
        """Remove this instance's switch networks whose switch is not live (the shared one stays)."""
        for n in self.scope.client.networks.list(filters=self.scope.filters()):
            labels = n.attrs["Labels"]
            if labels.get(L_KIND) != "shared" and labels.get(L_RESOURCE) not in live:
                self.remove(n)
