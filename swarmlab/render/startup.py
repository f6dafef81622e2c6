"""The startup script every server runs at first boot (a SAKURA note).

The note is the lab's, the same for every server; what is per server travels in the disk edit's note
variables: the private address and the server's own SSH host key (`HOST_KEY`, base64 of its OpenSSH
PEM), which the script installs first and then restarts sshd (again until it is up: a connection
accepted just before can keep port 22 a moment), so the key the controller pinned before the server
existed is the only one sshd presents from then on.
"""

from __future__ import annotations

import base64
import shlex

from pydantic import SecretStr

from swarmlab.spec import LabSpec

# Variables SAKURA substitutes per server: @@@PRIVATE_IP@@@, @@@MASK_LEN@@@, @@@HOST_KEY@@@.
_BASE = """#!/bin/bash
# @sacloud-once
# @sacloud-text required PRIVATE_IP "private address on the lab switch"
# @sacloud-text required MASK_LEN "mask length of the lab switch"
# @sacloud-text required HOST_KEY "this server's SSH host key (base64 of its OpenSSH private key)"
set -euo pipefail
host_key='@@@HOST_KEY@@@'
[ "${host_key#@@@}" = "$host_key" ] && (
  umask 077
  key=/etc/ssh/ssh_host_ed25519_key
  printf '%s' "$host_key" | base64 -d > "$key.new"
  ssh-keygen -y -f "$key.new" > "$key.pub.new"
  mv -f "$key.new" "$key"; mv -f "$key.pub.new" "$key.pub"; chmod 644 "$key.pub"
  rm -f /etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_rsa_key.pub /etc/ssh/ssh_host_ecdsa_key /etc/ssh/ssh_host_ecdsa_key.pub
  unit=ssh.service; systemctl cat "$unit" >/dev/null 2>&1 || unit=sshd.service
  # a connection sshd accepted just before the restart holds port 22 a moment longer (KillMode=process
  # leaves it), and the new sshd cannot bind: it fails for good (exit 255 is not restarted). Try again.
  for try in 1 2 3 4 5 6 7 8 9 10; do
    systemctl reset-failed "$unit" 2>/dev/null || true
    systemctl restart "$unit" && break
    [ "$try" -lt 10 ] || exit 1
    sleep 1
  done
)
unset host_key
ip_addr="@@@PRIVATE_IP@@@/@@@MASK_LEN@@@"
if ! ip -o -4 addr show | grep -F " ${ip_addr%/*}/" >/dev/null; then
  nic=$(ls /sys/class/net | grep -v -e '^lo$' -e '^docker' | sed -n 2p)
  cat > /etc/netplan/60-swarmlab.yaml <<NETPLAN
network:
  version: 2
  ethernets:
    ${nic}:
      addresses: [${ip_addr}]
NETPLAN
  chmod 600 /etc/netplan/60-swarmlab.yaml
  netplan apply
fi
if ! command -v docker >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q docker.io
  usermod -aG docker {user}
  systemctl enable --now docker
fi
"""


def render_startup_script(spec: LabSpec) -> str:
    """The note's content: private NIC, Docker, then the spec's own script if any."""
    script = _BASE.replace("{user}", shlex.quote(spec.ssh_user))
    if spec.startup_script:
        script += "\n# --- from the lab spec ---\n" + spec.startup_script.rstrip() + "\n"
    return script


def host_key_variable(private_pem: SecretStr) -> SecretStr:
    """The HOST_KEY note variable: the OpenSSH private key as one line of base64 (secret)."""
    return SecretStr(base64.b64encode(private_pem.get_secret_value().encode()).decode())
