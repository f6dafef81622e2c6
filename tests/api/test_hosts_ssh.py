"""swarmlab.hosts against a real OpenSSH sshd on loopback (needs /usr/sbin/sshd and root).

Each test gets its own sshd (host key, authorized key, port) in a temp directory; the user is
root because the suite runs as root in CI. Install with `apt-get install -y openssh-server`.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from swarmlab.hosts import (
    AuthFailed,
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    Host,
    HostKeyMismatch,
    HostKeyUnknown,
    HostsFailed,
    HostUnreachable,
    KnownHosts,
    Session,
    SSHKey,
    run_parallel,
    wait_reachable,
)
from swarmlab.release.service_file import ConfigInvalid, ServiceFile
from swarmlab.sakura.wait import Deadline

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_key(path: Path) -> SSHKey:
    pair = SSHKey.generate("test")
    path.write_text(pair.private_key.get_secret_value())
    path.chmod(0o600)
    return pair.key()


@dataclass
class Sshd:
    dir: Path
    port: int
    client_key: SSHKey
    host_key_path: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    def host(self, name: str = "lab-manager01", server_id: str | None = "113000000001") -> Host:
        return Host(name=name, address="127.0.0.1", private_ip="192.168.1.20", user="root", port=self.port,
                    server_id=server_id)

    def start(self, wait: bool = True) -> subprocess.Popen:
        cfg = self.dir / f"sshd_config-{len(self.procs)}"
        cfg.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key_path}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}", f"PidFile {self.dir / 'sshd.pid'}",
            "UsePAM no", "StrictModes no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password", "PubkeyAuthentication yes", "LogLevel ERROR",
            "Subsystem sftp internal-sftp", "MaxStartups 100:30:200", "",
        ]))
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        log = open(self.dir / "sshd.log", "ab")
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        if wait:
            deadline = Deadline(10)
            while not deadline.passed:
                if proc.poll() is not None:
                    raise RuntimeError(f"sshd exited {proc.returncode}: {(self.dir / 'sshd.log').read_text()}")
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return proc
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("sshd did not listen within 10 s")
        return proc

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def new_host_key(self) -> None:
        self.host_key_path.unlink()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key_path)], check=True)


def make_sshd(tmp: Path) -> Sshd:
    if not os.path.exists(SSHD) or os.geteuid() != 0:
        pytest.fail("needs OpenSSH sshd (apt-get install -y openssh-server) and root; scripts/bootstrap.sh installs it")
    d = tmp / "sshd"
    d.mkdir()
    host_key = d / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    client = write_key(d / "client_key")
    (d / "authorized_keys").write_text(client.public_line + " test\n")
    return Sshd(dir=d, port=free_port(), client_key=client, host_key_path=host_key)


@pytest.fixture
def sshd(tmp_path):
    s = make_sshd(tmp_path)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def pins(tmp_path) -> KnownHosts:
    return KnownHosts(tmp_path / "state" / "known_hosts" / "lab.json")


@pytest.fixture
def session(sshd, pins):
    s = Session(sshd.host(), sshd.client_key, pins)
    yield s
    s.close()


def test_run_returns_output_and_exit_codes(session):
    r = session.run("echo hello; echo oops >&2")
    assert (r.exit_status, r.stdout, r.stderr) == (0, "hello\n", "oops\n")
    r = session.run("exit 3", check=False)
    assert r.exit_status == 3 and not r.ok
    assert session.run("cat", input="from stdin").stdout == "from stdin"
    assert session.run("whoami", sudo=True).stdout.strip() == "root"  # root: no sudo wrapper needed
    big = session.run("head -c 300000 /dev/zero | tr '\\0' x").stdout  # more than one window
    assert len(big) == 300000


def test_the_connection_sends_small_packets_at_once(session):
    # Nagle off: with it on, each command's channel open waited ~40 ms for sshd's delayed ACK
    session.run("true")
    sock = session._client.get_transport().sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_commands_on_one_host_run_side_by_side(session, tmp_path):
    started, flag = tmp_path / "started", tmp_path / "flag"  # sshd runs on this machine: same files
    results: list = []
    waiter = threading.Thread(target=lambda: results.append(session.run(
        f"touch {started}; for i in $(seq 100); do [ -e {flag} ] && exit 0; sleep 0.1; done; exit 1", check=False)))
    waiter.start()
    deadline = Deadline(10)
    while not started.exists() and not deadline.passed:
        time.sleep(0.05)
    session.run(f"touch {flag}")  # while the waiter's command still runs
    waiter.join(15)
    assert [r.exit_status for r in results] == [0]


def test_a_command_whose_channel_fails_leaves_the_others_on_its_host_running(sshd, pins):
    session = Session(sshd.host(), sshd.client_key, pins, channel_timeout_s=1)
    try:
        results: list = []
        other = threading.Thread(target=lambda: results.append(session.run("sleep 2; echo ok")))
        other.start()
        with pytest.raises(ConnectionLost):  # its stdin is never read: sending it times out, the transport is fine
            session.run("sleep 3", input="x" * 8_000_000)
        other.join(15)
        assert [r.stdout for r in results] == ["ok\n"]
    finally:
        session.close()


def test_command_failed_is_redacted(session):
    token = "SWMTKN-1-secretsecretsecret"
    with pytest.raises(CommandFailed) as info:
        session.run(f"echo out {token}; echo line1 >&2; echo 'bad token {token}' >&2; exit 7", secrets=[token])
    e = info.value
    assert e.host == "lab-manager01" and e.exit_status == 7
    assert "bad token ***" in e.stderr_tail and "line1" in e.stderr_tail
    assert "***" in e.command and "out ***" in e.stdout_tail
    for text in (str(e), repr(e), e.command, e.stderr_tail, e.stdout_tail, str(pickle.loads(pickle.dumps(e)))):
        assert token not in text
    assert "lab-manager01" in str(e) and "status 7" in str(e)
    # also a successful result is redacted
    assert session.run(f"echo {token}", secrets=[token]).stdout == "***\n"


def test_command_timeout(session):
    t0 = time.monotonic()
    with pytest.raises(CommandTimeout):
        session.run("sleep 30", timeout_s=0.5)
    assert time.monotonic() - t0 < 5
    assert session.run("echo still usable").stdout == "still usable\n"


def test_put_writes_files(session, tmp_path):
    target = tmp_path / "remote" / "etc" / "app.conf"
    target.parent.mkdir(parents=True)
    session.put("key = value\n", str(target), mode=0o640)
    assert target.read_text() == "key = value\n"
    assert target.stat().st_mode & 0o777 == 0o640
    session.put(b"\x00\x01binary", str(target), sudo=True, mode=0o600)  # overwrite, sudo path (root: direct)
    assert target.read_bytes() == b"\x00\x01binary"
    assert target.stat().st_mode & 0o777 == 0o600
    assert session.read(str(target)) == b"\x00\x01binary"
    assert not [p for p in target.parent.iterdir() if p.name != "app.conf"]  # no temp files left


def test_reconnects_after_the_transport_died(session, sshd):
    assert session.run("echo one").stdout == "one\n"
    session._client.get_transport().close()  # as if the host had rebooted
    assert session.run("echo two").stdout == "two\n"


def test_wait_reachable_retries_until_sshd_is_up(tmp_path, pins):
    s = make_sshd(tmp_path)
    timer = threading.Timer(1.5, s.start, kwargs={"wait": False})
    t0 = time.monotonic()
    timer.start()
    try:
        session = wait_reachable(s.host(), s.client_key, pins, timeout_s=20, interval_s=0.2)
        assert time.monotonic() - t0 >= 1.4
        assert session.run("echo up").stdout == "up\n"
        session.close()
    finally:
        timer.cancel()
        s.stop()


def test_wait_reachable_times_out_with_last_error(tmp_path, pins):
    host = Host(name="lab-worker01", address="127.0.0.1", user="root", port=free_port())
    t0 = time.monotonic()
    with pytest.raises(HostUnreachable) as info:
        wait_reachable(host, SSHKey.generate().key(), pins, timeout_s=1.0, interval_s=0.2)
    assert 0.9 <= time.monotonic() - t0 < 5
    assert "lab-worker01" in str(info.value) and "NoValidConnectionsError" in info.value.last_error


def count_connects(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = Session.connect

    def counting(self, **kw):
        calls.append(1)
        return real(self, **kw)

    monkeypatch.setattr(Session, "connect", counting)
    return calls


def test_wrong_key_fails_fast_with_auth_failed(sshd, pins, monkeypatch):
    wrong = SSHKey.generate().key()
    calls = count_connects(monkeypatch)
    t0 = time.monotonic()
    with pytest.raises(AuthFailed) as info:
        wait_reachable(sshd.host(), wrong, pins, timeout_s=30, interval_s=0.2)
    assert time.monotonic() - t0 < 2
    assert len(calls) == 1  # no retries
    msg = str(info.value)
    assert "lab-manager01" in msg and "'root'" in msg and "SSH key block" in msg
    assert wrong.fingerprint in msg


def test_host_key_pinned_on_first_contact_and_mismatch_detected(tmp_path, pins, monkeypatch):
    s = make_sshd(tmp_path)
    s.start()
    try:
        with Session(s.host(), s.client_key, pins) as first:
            first.run("true")
        data = json.loads(pins.path.read_text())
        assert list(data) == ["113000000001"]
        assert data["113000000001"]["type"] == "ssh-ed25519"
        server_pub = (s.host_key_path.with_suffix(".pub")).read_text().split()
        assert data["113000000001"]["key"] == server_pub[1]
        with Session(s.host(), s.client_key, KnownHosts(pins.path)) as again:  # same key: fine
            again.run("true")
    finally:
        s.stop()
    # a second sshd on the same port with another host key, same server id
    s.new_host_key()
    s.procs.clear()
    s.start()
    try:
        calls = count_connects(monkeypatch)
        t0 = time.monotonic()
        with pytest.raises(HostKeyMismatch) as info:
            wait_reachable(s.host(), s.client_key, KnownHosts(pins.path), timeout_s=30, hostkey_grace_s=0)
        assert time.monotonic() - t0 < 2 and len(calls) == 1
        monkeypatch.undo()
        msg = str(info.value)
        assert "113000000001" in msg and "lab-manager01" in msg and "delete the pin" in msg
        # another identity on the same address is a different server: pinned separately
        with Session(s.host(server_id="113000000002"), s.client_key, KnownHosts(pins.path)) as other:
            other.run("true")
        # the operator deletes the pin (server re-created) → trusted again
        assert KnownHosts(pins.path).forget("113000000001")
        with Session(s.host(), s.client_key, KnownHosts(pins.path)) as recreated:
            recreated.run("true")
    finally:
        s.stop()


def test_only_the_host_key_shipped_and_pinned_before_first_contact_is_trusted(tmp_path):
    """provision's way: the controller derives the server's host key, pins it, ships it; the server first
    presents its image's key (the startup script has not run yet), then the shipped one."""
    from pydantic import SecretStr

    from swarmlab.cloud.secrets import host_key

    s = make_sshd(tmp_path)
    s.start()
    shipped = host_key(SecretStr("api-secret"), "lab", "lab-manager01")
    pins = KnownHosts(tmp_path / "pins.json", tofu=False)
    pins.pin("113000000001", *shipped.public_key.split()[:2], host="lab-manager01")
    try:
        t0 = time.monotonic()
        with pytest.raises(HostKeyMismatch) as info:  # another key all along: refused, naming the server
            wait_reachable(s.host(), s.client_key, pins, timeout_s=30, hostkey_grace_s=1.5)
        assert 1.5 <= time.monotonic() - t0 < 10
        assert "lab-manager01" in str(info.value) and "113000000001" in str(info.value)

        with pytest.raises(HostKeyUnknown, match="refusing lab-worker09 .*server id 113000000009: no host key is "
                                                 "pinned"):
            Session(s.host("lab-worker09", server_id="113000000009"), s.client_key, pins).connect()
        assert "113000000009" not in pins, "no trust on first use"

        def startup_script():  # installs the shipped key and restarts sshd, a little later
            time.sleep(1.0)
            s.stop()
            s.host_key_path.write_text(shipped.private_key.get_secret_value())
            s.host_key_path.chmod(0o600)
            s.procs.clear()
            s.start()

        boot = threading.Thread(target=startup_script)
        boot.start()
        try:
            with wait_reachable(s.host(), s.client_key, pins, timeout_s=30, hostkey_grace_s=20) as session:
                assert session.run("echo ok").stdout == "ok\n"
        finally:
            boot.join()
        assert pins.get("113000000001").key == shipped.public_key.split()[1]
    finally:
        s.stop()


def test_key_supplied_up_front(sshd, tmp_path):
    kh = KnownHosts(tmp_path / "pins.json")
    wrong = SSHKey.generate().key()
    kh.pin("113000000001", "ssh-ed25519", wrong.pkey.get_base64(), host="lab-manager01")
    with pytest.raises(HostKeyMismatch):
        Session(sshd.host(), sshd.client_key, kh).connect()
    real = sshd.host_key_path.with_suffix(".pub").read_text().split()
    kh.pin("113000000001", real[0], real[1], replace=True)
    with Session(sshd.host(), sshd.client_key, kh) as s:
        assert s.run("echo ok").stdout == "ok\n"


def test_run_parallel_collects_errors(sshd, pins):
    sessions = {name: Session(sshd.host(name, server_id="113000000001"), sshd.client_key, pins)
                for name in ("lab-worker01", "lab-worker02", "lab-worker03")}

    def fn(s: Session) -> str:
        if s.name == "lab-worker02":
            s.run("echo nope >&2; exit 4")
        return s.run("hostname").stdout.strip()

    try:
        with pytest.raises(HostsFailed) as info:
            run_parallel(sessions, fn, max_workers=2)
        e = info.value
        assert set(e.errors) == {"lab-worker02"} and isinstance(e.errors["lab-worker02"], CommandFailed)
        assert set(e.results) == {"lab-worker01", "lab-worker03"}
        assert "lab-worker02" in str(e) and "nope" in str(e)
        assert run_parallel(sessions.values(), lambda s: s.run("echo ok").stdout) == {
            n: "ok\n" for n in sessions}
    finally:
        for s in sessions.values():
            s.close()


def test_run_parallel_unreachable_host(sshd, pins):
    hosts = [sshd.host("lab-manager01"), Host(name="lab-worker09", address="127.0.0.1", port=free_port(), user="root")]
    with pytest.raises(HostsFailed) as info:
        run_parallel(hosts, lambda h: wait_reachable(h, sshd.client_key, pins, timeout_s=0.5).close())
    assert list(info.value.errors) == ["lab-worker09"]
    assert isinstance(info.value.errors["lab-worker09"], HostUnreachable)


# -- pure parts (no sshd needed) ----------------------------------------------------------------

def test_known_hosts_concurrent_pins_are_all_kept(tmp_path):
    path = tmp_path / "known_hosts" / "lab.json"
    keys = {f"1130000000{i:02d}": SSHKey.generate().key().pkey.get_base64() for i in range(40)}

    def pin(sid):
        KnownHosts(path).pin(sid, "ssh-ed25519", keys[sid], host=f"lab-worker{sid[-2:]}")

    threads = [threading.Thread(target=pin, args=(sid,)) for sid in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = json.loads(path.read_text())
    assert {sid: v["key"] for sid, v in stored.items()} == keys
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(HostKeyMismatch, match="113000000001"):
        KnownHosts(path).pin("113000000001", "ssh-ed25519", keys["113000000002"])


def test_ssh_key_load_and_generate(tmp_path):
    pair = SSHKey.generate("me@lab")
    assert pair.public_key.startswith("ssh-ed25519 AAAA") and pair.public_key.endswith(" me@lab")
    pem = pair.private_key.get_secret_value()
    assert "BEGIN OPENSSH PRIVATE KEY" in pem and pem not in repr(pair) and pem not in str(pair)
    key = SSHKey.from_pem(pair.private_key)
    assert pair.public_key.startswith(key.public_line)
    (tmp_path / "k").write_text(pem)
    assert SSHKey.from_file(tmp_path / "k").fingerprint == key.fingerprint
    assert SSHKey.load(str(tmp_path / "k")).fingerprint == key.fingerprint
    assert SSHKey.load(pair.private_key).fingerprint == key.fingerprint
    assert repr(key).startswith("SSHKey(ssh-ed25519 SHA256:")
    with pytest.raises(ValueError) as err:
        SSHKey.from_pem("-----BEGIN OPENSSH PRIVATE KEY-----\nnot really\n-----END OPENSSH PRIVATE KEY-----\n")
    assert "not really" not in str(err.value)


def test_sudo_wrap_and_errors_pickle():
    from swarmlab.hosts.session import sudo_wrap
    assert sudo_wrap("echo 'a b' > /etc/x", "ubuntu") == "sudo -n -- sh -c 'echo '\"'\"'a b'\"'\"' > /etc/x'"
    assert sudo_wrap("true", "root") == "true"
    e = CommandFailed("h", "login -p s3cret", 2, "bad s3cret", secrets=["s3cret"])
    e2 = pickle.loads(pickle.dumps(HostsFailed({"h": e})))
    assert "s3cret" not in str(e2) and e2.errors["h"].exit_status == 2


def test_a_service_file_its_check_rejects_never_reaches_its_place(session, tmp_path):
    """ServiceFile over real SSH: the rejected file is removed, the installed one is untouched, and the error
    carries the check's own words."""
    installed = tmp_path / "svc.conf"
    installed.write_text("the working config\n")
    svc = ServiceFile("bash", "svc", str(installed), "grep -q valid {path} || { echo 'line 1: not valid' >&2; false; }",
                      "swarmlab.render.svc")
    facts = svc.facts(session)
    assert facts["installed"] == "1" and facts["sha"]
    with pytest.raises(ConfigInvalid, match=r"line 1: not valid\. Fix swarmlab\.render\.svc") as e:
        svc.converge(session, "broken\n", facts)
    assert e.value.host == session.name and e.value.path == str(installed)
    assert installed.read_text() == "the working config\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("svc.conf")) == ["svc.conf"]
