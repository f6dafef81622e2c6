"""Host keys the controller makes for each server: derived, shipped in the disk edit, installed by the startup
script. The script's host-key part runs here with real bash and ssh-keygen, on a directory standing for /etc/ssh."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from pydantic import SecretStr

from swarmlab.hosts import SSHKey
from swarmlab.render.startup import host_key_variable, render_startup_script
from swarmlab.sakura.disks import DiskEdit
from swarmlab.cloud.secrets import host_key
from swarmlab.spec import local

ROOT = SecretStr("api-secret")


def test_host_keys_are_derived_per_lab_and_server():
    a = host_key(ROOT, "lab", "lab-manager01")
    assert a.public_key == host_key(ROOT, "lab", "lab-manager01").public_key
    assert a.public_key.startswith("ssh-ed25519 ")
    others = {host_key(ROOT, "lab", "lab-worker01").public_key, host_key(ROOT, "lab2", "lab2-manager01").public_key,
              host_key(SecretStr("other"), "lab", "lab-manager01").public_key}
    assert a.public_key not in others and len(others) == 3
    assert SSHKey.from_pem(a.private_key).public_line == " ".join(a.public_key.split()[:2])


def test_the_note_is_the_same_for_every_server_and_holds_no_key():
    script = render_startup_script(local("lab"))
    assert '# @sacloud-text required HOST_KEY' in script and "host_key='@@@HOST_KEY@@@'" in script
    assert "PRIVATE KEY" not in script


def test_the_key_travels_only_in_its_disk_edit_and_never_in_a_repr():
    pair = host_key(ROOT, "lab", "lab-worker01")
    edit = DiskEdit(host_name="lab-worker01", notes=[("123", {"PRIVATE_IP": "192.168.1.30",
                                                             "HOST_KEY": host_key_variable(pair.private_key)})])
    wire = edit.to_wire()["Notes"][0]["Variables"]
    assert base64.b64decode(wire["HOST_KEY"]).decode() == pair.private_key.get_secret_value()
    assert wire["PRIVATE_IP"] == "192.168.1.30"
    assert "PRIVATE KEY" not in repr(edit) and wire["HOST_KEY"] not in repr(edit) + str(edit)


def test_the_startup_script_installs_the_shipped_key_and_restarts_sshd(tmp_path: Path):
    etc = tmp_path / "ssh"
    etc.mkdir()
    for name in ("ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key"):  # the image's own keys
        (etc / name).write_text("image key\n")
        (etc / f"{name}.pub").write_text("image key\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/systemctl.log\n")
    (bin_dir / "systemctl").chmod(0o755)
    pair = host_key(ROOT, "lab", "lab-manager01")
    script = render_startup_script(local("lab"))
    part = script[script.index("host_key='"):script.index("unset host_key")]
    part = part.replace("@@@HOST_KEY@@@", host_key_variable(pair.private_key).get_secret_value())
    part = part.replace("/etc/ssh", str(etc))
    subprocess.run(["bash", "-euo", "pipefail", "-c", part], check=True, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert sorted(p.name for p in etc.iterdir()) == ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]
    assert (etc / "ssh_host_ed25519_key").stat().st_mode & 0o777 == 0o600
    assert (etc / "ssh_host_ed25519_key.pub").read_text().split()[:2] == pair.public_key.split()[:2]
    assert (tmp_path / "systemctl.log").read_text().splitlines() == [
        "cat ssh.service", "reset-failed ssh.service", "restart ssh.service"]


def test_the_startup_script_restarts_sshd_again_while_port_22_is_still_held(tmp_path: Path):
    """The first restart fails (a connection accepted just before still holds port 22): it tries again."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(
        f"#!/bin/sh\necho \"$@\" >> {tmp_path}/systemctl.log\n"
        f"[ \"$1\" = restart ] && [ ! -e {tmp_path}/failed ] && touch {tmp_path}/failed && exit 1\nexit 0\n")
    (bin_dir / "systemctl").chmod(0o755)
    (tmp_path / "ssh").mkdir()
    pair = host_key(ROOT, "lab", "lab-manager01")
    script = render_startup_script(local("lab"))
    part = script[script.index("host_key='"):script.index("unset host_key")]
    part = part.replace("@@@HOST_KEY@@@", host_key_variable(pair.private_key).get_secret_value())
    part = part.replace("/etc/ssh", str(tmp_path / "ssh"))
    subprocess.run(["bash", "-euo", "pipefail", "-c", part], check=True, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert [line for line in (tmp_path / "systemctl.log").read_text().splitlines() if line.startswith("restart")] \
        == ["restart ssh.service", "restart ssh.service"]


def test_an_unsubstituted_host_key_leaves_the_image_keys_alone(tmp_path: Path):
    script = render_startup_script(local("lab"))
    part = script[script.index("host_key='"):script.index("unset host_key")].replace("/etc/ssh", str(tmp_path))
    (tmp_path / "ssh_host_ed25519_key").write_text("image key\n")
    subprocess.run(["bash", "-eu", "-c", part + "\ntrue"], check=True)
    assert (tmp_path / "ssh_host_ed25519_key").read_text() == "image key\n"
