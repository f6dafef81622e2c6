"""Packet filters enforced on this machine (the docker backend): iptables rules in the host's namespace,
outside every VM, so root inside a VM cannot lift them.

One chain per emulator instance (`SEMU-<hash of instance>`), reached from DOCKER-USER (bridged and routed
packets to the VMs: br_netfilter passes bridged IPv4 through FORWARD) and from OUTPUT (this machine's own
packets to them). Every rule, jumps included, carries the comment `sakura-emulator:<instance>`; purge()
removes exactly those. Stateless as SAKURA's: per filtered address, its rules in order (allow = RETURN to
Docker's own rules, deny = DROP); unmatched packets pass, as on SAKURA, hence the lab's explicit deny.
"""

from __future__ import annotations

import hashlib
import ipaddress
import shutil
import subprocess
import threading

from ..backend import FilterRule

HOOKS = ("DOCKER-USER", "OUTPUT")


class NetfilterError(RuntimeError):
    pass


def chain_name(instance: str) -> str:
    return "SEMU-" + hashlib.sha1(instance.encode()).hexdigest()[:10]


def comment(instance: str) -> str:
    return f"sakura-emulator:{instance}"[:256]


def _ports(p: str | None) -> str | None:
    return p.replace("-", ":") if p else None


def rule_args(ip: str, r: FilterRule) -> list[str]:
    """iptables match + target for one SAKURA rule on packets to `ip` (pure)."""
    args = ["-d", f"{ipaddress.IPv4Address(ip)}/32"]
    if r.source_network:
        args += ["-s", ipaddress.IPv4Network(r.source_network, strict=False).with_prefixlen]
    if r.protocol in ("tcp", "udp"):
        args += ["-p", r.protocol]
        if r.source_port:
            args += ["--sport", _ports(r.source_port)]
        if r.destination_port:
            args += ["--dport", _ports(r.destination_port)]
    elif r.protocol == "icmp":
        args += ["-p", "icmp"]
    elif r.protocol == "fragment":
        args += ["-f"]
    elif r.protocol != "ip":
        raise ValueError(f"packet filter protocol {r.protocol!r} is not one of tcp, udp, icmp, fragment, ip")
    return args + ["-j", "RETURN" if r.action == "allow" else "DROP"]


def restore_input(instance: str, table: dict[str, list[FilterRule]]) -> str:
    """`iptables-restore --noflush` input that replaces the instance's chain with `table` (pure, atomic)."""
    chain, tag = chain_name(instance), comment(instance)
    lines = ["*filter", f":{chain} - [0:0]", f"-F {chain}"]
    for ip in sorted(table, key=ipaddress.IPv4Address):
        for r in table[ip]:
            args = rule_args(ip, r)
            lines.append(f"-A {chain} {' '.join(args[:-2])} -m comment --comment \"{tag}\" {' '.join(args[-2:])}")
    return "\n".join(lines + ["COMMIT", ""])


class Netfilter:
    """The instance's chain and its two jumps; every call idempotent."""

    def __init__(self, instance: str):
        self.instance = instance
        self.chain, self.tag = chain_name(instance), comment(instance)
        self._lock = threading.Lock()

    def _run(self, *args: str, input_: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        exe = shutil.which(args[0])
        if exe is None:
            raise NetfilterError(f"{args[0]} is not installed; the docker backend enforces packet filters with it "
                                 f"(apt-get install iptables)")
        p = subprocess.run([exe, *args[1:]], input=input_, capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise NetfilterError(f"{' '.join(args[:4])}: {p.stderr.strip() or p.returncode}")
        return p

    def _jump(self, hook: str) -> list[str]:
        return [hook, "-m", "comment", "--comment", self.tag, "-j", self.chain]

    def apply(self, table: dict[str, list[FilterRule]]) -> None:
        """Make the chain say exactly `table`, then make sure both hooks jump to it."""
        with self._lock:
            self._run("iptables-restore", "-w", "5", "--noflush", input_=restore_input(self.instance, table))
            for hook in HOOKS:
                if self._run("iptables", "-w", "-C", *self._jump(hook), check=False).returncode != 0:
                    self._run("iptables", "-w", "-I", *self._jump(hook)[:1], "1", *self._jump(hook)[1:])

    def purge(self) -> None:
        """Remove the jumps and the chain of this instance (nothing else)."""
        with self._lock:
            if shutil.which("iptables") is None:
                return
            for hook in HOOKS:
                while self._run("iptables", "-w", "-D", *self._jump(hook), check=False).returncode == 0:
                    pass
            self._run("iptables", "-w", "-F", self.chain, check=False)
            self._run("iptables", "-w", "-X", self.chain, check=False)

    def listing(self) -> str:
        """The chain as iptables shows it (for tests and debugging)."""
        return self._run("iptables", "-w", "-S", self.chain, check=False).stdout
