"""Can this machine run the local lab? Facts to report, and problems that stop it.

    python -m emulator.preflight        # prints facts and problems; exit 1 when there are problems

Facts are not failures: e.g. `ipvs: false` means the stack must publish ports in host mode and use
dnsrr endpoints (the caller decides what to say about it).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from . import images

MIN_FREE_BYTES = 5 * 1024**3


@dataclass
class Report:
    facts: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def ipvs_present() -> bool:
    """IPVS in the running kernel: loaded (/proc/net/ip_vs), built in, or available as a module."""
    if Path("/proc/net/ip_vs").exists():
        return True
    release = platform.release()
    for p in (Path(f"/lib/modules/{release}/modules.builtin"), Path(f"/lib/modules/{release}/modules.dep")):
        try:
            if "/ip_vs.ko" in p.read_text():
                return True
        except OSError:
            pass
    return False


def _check_vm_flags(client: docker.DockerClient, report: Report) -> None:
    """Run `true` in lab/base with the VM flags (no --privileged); the flags must be accepted."""
    try:
        client.images.get(images.BASE_TAG)
    except ImageNotFound:
        report.facts["vm_flags"] = "not tested (lab/base:bookworm not built yet)"
        return
    hc = client.api.create_host_config(
        cap_add=["ALL"], cap_drop=["SYS_RESOURCE"], security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        cgroupns="private", tmpfs={"/run": "", "/run/lock": "", "/tmp": "exec"}, network_mode="none")
    hc["MaskedPaths"] = []
    hc["ReadonlyPaths"] = []
    cid = None
    try:
        cid = client.api.create_container(images.BASE_TAG, command=["sh", "-c", "mount -o remount,rw /sys && true"],
                                          host_config=hc, labels={"swarmlab.preflight": "1"})["Id"]
        client.api.start(cid)
        rc = client.api.wait(cid, timeout=30)["StatusCode"]
        if rc != 0:
            logs = client.api.logs(cid, tail=5).decode(errors="replace").strip()
            report.problems.append(f"a container with the VM flags ran but exited {rc}: {logs}")
            report.facts["vm_flags"] = "failed"
        else:
            report.facts["vm_flags"] = "accepted"
    except (APIError, DockerException) as e:
        report.problems.append(f"Docker refused the VM container flags (cap-add ALL, cap-drop SYS_RESOURCE, "
                               f"seccomp/apparmor unconfined, cgroupns private): {getattr(e, 'explanation', e)}")
        report.facts["vm_flags"] = "refused"
    finally:
        if cid:
            try:
                client.api.remove_container(cid, force=True)
            except APIError:
                pass


def run_checks(client: docker.DockerClient | None = None) -> Report:
    report = Report()
    try:
        client = client or docker.from_env(timeout=30)
        info = client.info()
        version = client.version()
    except DockerException as e:
        report.facts["docker"] = None
        report.problems.append(f"Docker does not answer ({e}); start it (e.g. `dockerd >/var/log/dockerd.log 2>&1 &`) "
                               "or set DOCKER_HOST")
        return report
    report.facts.update({
        "docker": version.get("Version"), "docker_api": version.get("ApiVersion"),
        "kernel": info.get("KernelVersion"), "cgroup_version": info.get("CgroupVersion"),
        "cgroup_driver": info.get("CgroupDriver"), "storage_driver": info.get("Driver"),
        "docker_root": info.get("DockerRootDir"), "cpus": info.get("NCPU"),
        "memory_gib": round((info.get("MemTotal") or 0) / 1024**3, 1),
    })
    report.facts["ipvs"] = ipvs_present()

    root = info.get("DockerRootDir") or "/var/lib/docker"
    try:
        st = os.statvfs(root)
        free = st.f_bavail * st.f_frsize
        report.facts["docker_root_free_gib"] = round(free / 1024**3, 1)
        if free < MIN_FREE_BYTES:
            report.problems.append(f"only {free / 1024**3:.1f} GiB free under Docker's data root {root}; "
                                   f"the lab needs at least {MIN_FREE_BYTES // 1024**3} GiB")
    except OSError:
        report.facts["docker_root_free_gib"] = None   # remote daemon: cannot tell from here

    stale = images.stale_images(client)
    report.facts["images_to_build"] = [s.tag for s in images.SPECS if s.name in stale]
    report.facts["debootstrap"] = shutil.which("debootstrap")
    if "base" in stale and not report.facts["debootstrap"]:
        report.problems.append("lab/base:bookworm must be built but debootstrap is not installed "
                               "(apt-get install -y debootstrap)")
    if "base" in stale and os.geteuid() != 0:
        report.problems.append("lab/base:bookworm must be built, which needs root (debootstrap, chroot)")

    _check_vm_flags(client, report)
    _check_filtering(report)
    return report


def _check_filtering(report: Report) -> None:
    """Packet filters are enforced with iptables in Docker's namespace; bridged packets need br_netfilter."""
    report.facts["iptables"] = shutil.which("iptables")
    try:
        bridged = Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip() == "1"
    except OSError:
        bridged = False
    report.facts["br_netfilter"] = bridged
    if not report.facts["iptables"]:
        report.problems.append("iptables is not installed; the docker backend enforces packet filters with it "
                               "(apt-get install -y iptables)")
    if not bridged:
        report.problems.append("bridged packets bypass iptables (net.bridge.bridge-nf-call-iptables is not 1); "
                               "run `modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1`")


def preflight(client: docker.DockerClient | None = None, facts: dict | None = None) -> list[str]:
    """Problems that stop the local lab, one clear line each ([] = ready). Fills `facts` if given."""
    report = run_checks(client)
    if facts is not None:
        facts.update(report.facts)
    return report.problems


def main() -> int:
    report = run_checks()
    for k, v in report.facts.items():
        print(f"fact     {k}: {v}")
    if not report.facts.get("ipvs"):
        print("note     no IPVS in this kernel: publish ports with mode: host and use endpoint_mode: dnsrr")
    for p in report.problems:
        print(f"PROBLEM  {p}")
    print(json.dumps({"facts": report.facts, "problems": report.problems}))
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
