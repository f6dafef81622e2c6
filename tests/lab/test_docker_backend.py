"""The emulator's docker backend, driven directly (no HTTP): real VM containers, SSH, NFS shim, registry.

    .venv/bin/python -m pytest tests/lab/test_docker_backend.py -q -x -s     (-s shows the timings)
"""

from __future__ import annotations

import io
import ipaddress
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

import bcrypt
import docker
import paramiko

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from emulator import images  # noqa: E402
from emulator.backend import Note, PrivateNIC, RegistryUser, ServerRuntime  # noqa: E402
from emulator.docker import L_INSTANCE, L_KIND, DockerBackend  # noqa: E402
from swarmlab.sakura.wait import Deadline

pytestmark = pytest.mark.lab

SWITCH, NFS, REGISTRY = "113000000001", "113000000301", "113000000401"
SERVERS = {"113000000011": ("t-mgr01", 10), "113000000012": ("t-wrk01", 11)}
NOTE_ID = "113000000901"
NOTE = """#!/bin/bash
# @sacloud-once
set -eux
echo "note ran on $(hostname)" > /root/note-proof
"""
REG_USER, REG_PASS = "labuser", "lab-pass-1"
REG_USER2, REG_PASS2 = "second", "lab-pass-2"


def _client():
    try:
        c = docker.from_env(timeout=600)
        c.ping()
        return c
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"no Docker daemon: {e}; scripts/bootstrap.sh starts one")


def _used_subnets(client) -> list[ipaddress.IPv4Network]:
    out = []
    for n in client.networks.list():
        for cfg in (n.attrs.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Subnet") and ":" not in cfg["Subnet"]:
                out.append(ipaddress.ip_network(cfg["Subnet"]))
    return out


def _free_subnet(client, candidates) -> ipaddress.IPv4Network:
    used = _used_subnets(client)
    for cand in candidates:
        net = ipaddress.ip_network(cand)
        if not any(net.overlaps(u) for u in used):
            return net
    pytest.fail(f"no free subnet among {candidates[0]}..{candidates[-1]}")


class VM:
    def __init__(self, host: str, pkey):
        self.host, self.pkey = host, pkey
        self._c = None

    def connect(self, timeout: float = 2):
        c = paramiko.SSHClient()
        c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        c.connect(self.host, username="ubuntu", pkey=self.pkey, look_for_keys=False, allow_agent=False,
                  timeout=timeout, banner_timeout=timeout, auth_timeout=timeout)
        self._c = c

    def run(self, cmd: str, stdin: str | None = None, timeout: float = 60) -> tuple[int, str, str]:
        if self._c is None:
            self.connect()
        i, o, e = self._c.exec_command(cmd, timeout=timeout)
        if stdin is not None:
            i.write(stdin)
            i.channel.shutdown_write()
        rc = o.channel.recv_exit_status()
        return rc, o.read().decode(), e.read().decode()

    def ok(self, cmd: str, stdin: str | None = None) -> str:
        rc, out, err = self.run(cmd, stdin)
        assert rc == 0, f"{self.host}: `{cmd}` exited {rc}: {err.strip() or out.strip()}"
        return out

    def close(self):
        if self._c is not None:
            self._c.close()
            self._c = None

    def wait_docker(self, timeout: float = 60) -> float:
        """Seconds until SSH answers and `docker info` works (bounded)."""
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < timeout:
            try:
                if self._c is None:
                    self.connect(timeout=1)
                rc, _, err = self.run("docker info --format '{{.ServerVersion}}'", timeout=5)
                if rc == 0:
                    return time.monotonic() - t0
                last = err
            except Exception as e:  # noqa: BLE001 - not up yet: refused, reset, banner timeout...
                last = e
                self.close()
            time.sleep(0.2)
        raise AssertionError(f"{self.host}: no SSH + docker info within {timeout} s (last: {last})")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    client = _client()
    t0 = time.monotonic()
    summary = images.build_all(client)
    build_s = time.monotonic() - t0
    instance = f"t{uuid.uuid4().hex[:8]}"
    shared = _free_subnet(client, [f"198.18.{i}.0/24" for i in range(100, 200)])
    private = _free_subnet(client, [f"192.168.{i}.0/24" for i in range(77, 90)])
    state = tmp_path_factory.mktemp("docker-backend")

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption()).decode()
    pkey = paramiko.Ed25519Key.from_private_key(io.StringIO(pem))
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()

    backend = DockerBackend(instance, state, str(shared))
    hosts = list(private.hosts())
    lab = {
        "client": client, "backend": backend, "instance": instance, "state": state, "pkey": pkey,
        "shared": shared, "private": private, "images": summary, "build_s": build_s,
        "nfs_ip": str(hosts[49]), "fqdn": f"{instance}.sakuracr.jp", "runtimes": {}, "vms": {},
    }
    try:
        t_start = time.monotonic()
        backend.start(set())                 # cold: seeds the Docker Hub stand-in with lab/base as debian
        lab["start_s"] = time.monotonic() - t_start
        backend.switch_created(SWITCH, "t-switch", ["swarmlab", instance])
        backend.nfs_created(NFS, SWITCH, lab["nfs_ip"], ["swarmlab", instance])
        t_reg = time.monotonic()
        backend.registry_created(REGISTRY, lab["fqdn"], ["swarmlab", instance])
        backend.registry_users_changed(REGISTRY, [RegistryUser(REG_USER, bcrypt.hashpw(REG_PASS.encode(),
                                                                                       bcrypt.gensalt()).decode(), "all")])
        lab["registry_s"] = time.monotonic() - t_reg
        for sid, (name, n) in SERVERS.items():
            lab["runtimes"][sid] = ServerRuntime(
                id=sid, name=name, hostname=name, shared_ip=str(shared.network_address + n),
                private_nics=[PrivateNIC(SWITCH, str(hosts[n - 1]), private.prefixlen)],
                ssh_public_keys=[pub], notes=[Note(NOTE_ID, NOTE)], tags=["swarmlab", instance])
            lab["vms"][sid] = VM(str(shared.network_address + n), pkey)

        def boot(sid):
            t = time.monotonic()
            backend.server_power_on(lab["runtimes"][sid])
            on = time.monotonic() - t
            lab["vms"][sid].wait_docker()
            return on, time.monotonic() - t

        t_up = time.monotonic()
        with ThreadPoolExecutor(len(SERVERS)) as ex:
            lab["boot"] = dict(zip(SERVERS, ex.map(boot, SERVERS)))
        lab["up_s"] = time.monotonic() - t_up
        print(f"\nimages: {summary} ({build_s:.1f} s); cold start() with hub seed {lab['start_s']:.1f} s; "
              f"registry up in {lab['registry_s']:.1f} s; "
              f"{len(SERVERS)} servers: power_on→SSH+docker info {lab['up_s']:.1f} s "
              f"(per server: power_on call, ready) {lab['boot']}")
        yield lab
    finally:
        for vm in lab["vms"].values():
            vm.close()
        backend.stop()
        t = time.monotonic()
        backend.purge()
        print(f"\npurge: {time.monotonic() - t:.1f} s")
        flt = {"label": f"{L_INSTANCE}={instance}"}
        assert not client.containers.list(all=True, filters=flt)
        assert not client.networks.list(filters=flt)
        assert not client.volumes.list(filters=flt)


def _vm(lab, i: int) -> VM:
    return list(lab["vms"].values())[i]


def test_hostname_and_private_ip(lab):
    for sid, (name, n) in SERVERS.items():
        vm = lab["vms"][sid]
        assert vm.ok("hostname").strip() == name
        ip = lab["runtimes"][sid].private_nics[0].ip
        assert f" {ip}/{lab['private'].prefixlen} " in vm.ok("ip -o -4 addr show")
        assert vm.ok("id -nG").split().count("docker") == 1
        assert vm.ok("sudo -n id -u").strip() == "0"
    # the two VMs reach each other on the switch
    other = lab["runtimes"][list(SERVERS)[1]].private_nics[0].ip
    _vm(lab, 0).ok(f"ping -c1 -W2 {other}")


def test_startup_note_ran(lab):
    vm = _vm(lab, 0)
    deadline = Deadline(30)
    while vm.run(f"sudo test -e /root/.sacloud-api/notes/{NOTE_ID}.done")[0] != 0:
        assert not deadline.passed, vm.ok(f"sudo cat /root/.sacloud-api/notes/{NOTE_ID}.log || true")
        time.sleep(0.2)
    assert "note ran on t-mgr01" in vm.ok("sudo cat /root/note-proof")
    assert "note ran" in vm.ok(f"sudo cat /root/.sacloud-api/notes/{NOTE_ID}.log")


def test_nfs_share_is_shared(lab):
    a, b = _vm(lab, 0), _vm(lab, 1)
    src = f"{lab['nfs_ip']}:/export"
    for vm in (a, b):
        vm.ok(f"sudo mkdir -p /mnt/x && sudo mount -t nfs {src} /mnt/x")
    token = uuid.uuid4().hex
    a.ok(f"echo {token} | sudo tee /mnt/x/proof >/dev/null && sudo mkdir -p /mnt/x/pgdata")
    assert b.ok("cat /mnt/x/proof").strip() == token
    # a subdirectory export and an fstab line, like the flow uses
    b.ok(f"echo '{src}/pgdata /srv/pg nfs defaults,_netdev 0 0' | sudo tee -a /etc/fstab >/dev/null "
         "&& sudo mkdir -p /srv/pg && sudo mount -a && mountpoint -q /srv/pg")
    assert (lab["backend"].nfs_export_dir(NFS) / "proof").read_text().strip() == token
    rc, _, err = a.run("sudo mount -t nfs 192.0.2.1:/export /mnt/y")
    assert rc != 0
    for vm in (a, b):
        vm.ok("sudo umount /srv/pg 2>/dev/null; sudo umount /mnt/x")


def test_registry_login_and_push(lab):
    vm, fqdn = _vm(lab, 1), lab["fqdn"]
    # the VM trusts the emulator's CA system-wide (curl here, dockerd below), no -k, no certs.d
    assert vm.ok(f"curl -sS -o /dev/null -w '%{{http_code}}' https://{fqdn}/v2/") == "401"
    vm.ok(f"docker login {fqdn} -u {REG_USER} --password-stdin", stdin=REG_PASS)
    vm.ok(f"tar cf - --files-from /dev/null | docker import - {fqdn}/t/empty:1 >/dev/null && docker push {fqdn}/t/empty:1")
    rc, _, _ = vm.run(f"docker login {fqdn} -u {REG_USER} --password-stdin", stdin="wrong")
    assert rc != 0
    # a user added later can log in (the registry re-reads htpasswd)
    users = [RegistryUser(REG_USER, bcrypt.hashpw(REG_PASS.encode(), bcrypt.gensalt()).decode(), "all"),
             RegistryUser(REG_USER2, bcrypt.hashpw(REG_PASS2.encode(), bcrypt.gensalt()).decode(), "readonly")]
    lab["backend"].registry_users_changed(REGISTRY, users)
    vm.ok(f"docker logout {fqdn} >/dev/null; docker login {fqdn} -u {REG_USER2} --password-stdin", stdin=REG_PASS2)
    # registry_created again is a no-op (idempotent) and the data survives
    lab["backend"].registry_created(REGISTRY, fqdn, ["swarmlab"])
    vm.ok(f"docker rmi {fqdn}/t/empty:1 >/dev/null && docker pull -q {fqdn}/t/empty:1")


def test_docker_hub_stand_in(lab):
    """`docker pull debian:bookworm` and `FROM debian:bookworm` work in a VM as with internet access:
    registry-1.docker.io resolves to the emulator's hub (TLS via the lab CA, anonymous), serving lab/base."""
    a, b = _vm(lab, 0), _vm(lab, 1)
    base_id = lab["client"].images.get(images.BASE_TAG).id
    assert a.ok("curl -sS -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/") == "200"
    t = time.monotonic()
    a.ok("timeout 120 docker pull -q debian:bookworm")
    pull_s = time.monotonic() - t
    assert a.ok("docker image inspect -f '{{.Id}}' debian:bookworm").strip() == base_id
    # a fresh VM builds FROM debian:bookworm (the builder pulls it) and runs the result
    b.ok("rm -rf ~/hubtest && mkdir ~/hubtest && cat > ~/hubtest/Dockerfile",
         stdin='FROM debian:bookworm\nRUN echo built-on-hub > /proof\nCMD ["cat", "/proof"]\n')
    t = time.monotonic()
    b.ok("timeout 180 docker build -q -t hubtest:1 ~/hubtest")
    build_s = time.monotonic() - t
    assert b.ok("timeout 60 docker run --rm hubtest:1").strip() == "built-on-hub"
    assert b.ok("docker image inspect -f '{{.Id}}' debian:bookworm").strip() == base_id
    print(f"\nin-VM docker pull debian:bookworm {pull_s:.1f} s; docker build FROM debian:bookworm {build_s:.1f} s")
    for vm in (a, b):
        vm.ok("docker rmi -f hubtest:1 debian:bookworm >/dev/null 2>&1; rm -rf ~/hubtest; true")


def test_power_cycle_keeps_state(lab):
    backend, client = lab["backend"], lab["client"]
    sid = list(SERVERS)[1]
    vm = lab["vms"][sid]
    vm.ok("echo kept | sudo tee /var/lib/proof >/dev/null")
    t = time.monotonic()
    backend.server_power_off(sid, force=False)
    off_s = time.monotonic() - t
    backend.server_power_off(sid, force=False)          # idempotent
    vm.close()
    name = f"{lab['instance']}-{SERVERS[sid][0]}"
    assert client.containers.get(name).status == "exited"
    t = time.monotonic()
    backend.server_power_on(lab["runtimes"][sid])
    backend.server_power_on(lab["runtimes"][sid])       # idempotent
    ready = vm.wait_docker()
    print(f"\npower off {off_s:.1f} s; power on → SSH+docker {time.monotonic() - t:.1f} s ({ready:.1f} s waiting)")
    assert vm.ok("cat /var/lib/proof").strip() == "kept"
    # the note does not run again on a later boot
    assert vm.ok("sudo ls /root/.sacloud-api/notes/").split().count(f"{NOTE_ID}.done") == 1
    backend.server_power_off(sid, force=True)
    assert client.containers.get(name).status == "exited"
    backend.server_power_on(lab["runtimes"][sid])
    vm.close()
    vm.wait_docker()


def test_reboot_inside_vm_comes_back(lab):
    """`reboot` in a VM: systemd exits 129, the backend's watcher starts the container again."""
    client = lab["client"]
    sid = list(SERVERS)[0]
    vm = lab["vms"][sid]
    c = client.containers.get(f"{lab['instance']}-{SERVERS[sid][0]}")
    started = c.attrs["State"]["StartedAt"]
    vm.ok("(sleep 0.3; sudo systemctl reboot) >/dev/null 2>&1 &")
    vm.close()
    deadline = Deadline(30)
    while True:
        c.reload()
        if c.attrs["State"]["StartedAt"] != started and c.status == "running":
            break
        assert not deadline.passed, f"not restarted: {c.status} {c.attrs['State']}"
        time.sleep(0.2)
    vm.wait_docker()


def test_start_removes_what_is_not_live(lab):
    """start(live_ids) keeps live resources and removes the rest (here: nothing is stale)."""
    backend, client = lab["backend"], lab["client"]
    live = {SWITCH, NFS, REGISTRY, *SERVERS}
    before = {c.name for c in client.containers.list(all=True, filters={"label": f"{L_INSTANCE}={lab['instance']}"})}
    t = time.monotonic()
    backend.start(live)
    warm_s = time.monotonic() - t
    after = {c.name for c in client.containers.list(all=True, filters={"label": f"{L_INSTANCE}={lab['instance']}"})}
    assert before == after and len(after) == len(SERVERS) + 2           # servers, registry, hub
    print(f"\nwarm start(): {warm_s * 1000:.0f} ms")
    assert warm_s < 1.0


def test_delete_everything(lab):
    backend, client, inst = lab["backend"], lab["client"], lab["instance"]
    t = time.monotonic()
    threads = [threading.Thread(target=backend.server_deleted, args=(sid,)) for sid in SERVERS]
    threads.append(threading.Thread(target=backend.registry_deleted, args=(REGISTRY,)))
    threads.append(threading.Thread(target=backend.nfs_deleted, args=(NFS,)))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    backend.switch_deleted(SWITCH)
    print(f"\ndelete 2 servers + registry + NFS + switch: {time.monotonic() - t:.1f} s")
    for sid in SERVERS:                                  # idempotent
        backend.server_deleted(sid)
    backend.nfs_deleted(NFS)
    flt = {"label": [f"{L_INSTANCE}={inst}"]}
    # only the Docker Hub stand-in (and its volume) outlives resource deletes; purge() removes it
    assert [c.name for c in client.containers.list(all=True, filters=flt)] == [f"{inst}-hub"]
    assert [v.attrs["Labels"][L_KIND] for v in client.volumes.list(filters=flt)] == ["hub"]
    assert [n.name for n in client.networks.list(filters=flt)] == [f"{inst}-shared"]
    assert not backend.nfs_export_dir(NFS).exists()
