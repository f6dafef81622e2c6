"""Where a benchmark step's CPU time goes on this machine: the machine's busy CPU-seconds, and those of this
process, its children (the Prefect server, the emulator), the docker engine and each container of the emulator
instance (the lab's VMs, registry, appliances), read from /proc and the containers' cgroups (v1 or v2)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import docker

HZ = os.sysconf("SC_CLK_TCK")
IN_CONTAINER = re.compile(r"docker[-/][0-9a-f]{64}")  # /docker/<id> (cgroupfs), docker-<id>.scope (systemd)
CGROUP_USAGE = (("/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage", 1e-9),           # v1: nanoseconds
                ("/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat", 1e-6),    # v2, systemd driver
                ("/sys/fs/cgroup/docker/{id}/cpu.stat", 1e-6))                       # v2, cgroupfs driver


def _machine_busy() -> float:
    cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()  # cpu user nice system idle iowait irq ...
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, cpu[1:9])
    return (user + nice + system + irq + softirq + steal) / HZ


def _stat(pid: int | str) -> tuple[str, int, float]:
    """(command, parent pid, CPU-seconds of the process and its waited-for children)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return text[text.index("(") + 1:text.rindex(")")], int(fields[1]), sum(map(int, fields[11:15])) / HZ


def _processes() -> dict[str, float]:
    me, out = os.getpid(), {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if IN_CONTAINER.search(Path(f"/proc/{pid}/cgroup").read_text()):
                continue  # a container's process (a VM's own dockerd too): counted with its container
            comm, ppid, seconds = _stat(pid)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(pid) == me:
            out["benchmark process"] = seconds
        elif ppid == me:
            name = "emulator" if " -m emulator" in cmdline else "prefect server" if "prefect" in cmdline else comm
            out[name] = out.get(name, 0.0) + seconds
        elif comm in ("dockerd", "containerd"):
            out[f"{comm} (host)"] = seconds
    return out


def _cgroup_seconds(container_id: str) -> float | None:
    for pattern, unit in CGROUP_USAGE:
        path = Path(pattern.format(id=container_id))
        if path.exists():
            text = path.read_text()
            value = text.split("usage_usec", 1)[1].split()[0] if "usage_usec" in text else text.strip()
            return int(value) * unit
    return None


def snapshot(instance: str) -> dict[str, float]:
    """CPU-seconds so far, by consumer; the instance's containers by name without the instance prefix."""
    out = {"machine (busy)": _machine_busy(), **_processes()}
    engine = docker.from_env()
    try:
        for c in engine.containers.list(filters={"label": f"sakura-emulator.instance={instance}"}):
            seconds = _cgroup_seconds(c.id)
            if seconds is not None:
                out[c.name.removeprefix(f"{instance}-")] = seconds
    finally:
        engine.close()
    return out


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What each consumer spent between two snapshots (≥ 0.1 s), most first."""
    used = {k: round(v - before.get(k, 0.0), 1) for k, v in after.items()}
    return dict(sorted(((k, v) for k, v in used.items() if v >= 0.1), key=lambda kv: -kv[1]))
