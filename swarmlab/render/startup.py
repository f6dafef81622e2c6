"""The startup script every server runs at first boot (a SAKURA note)."""

from __future__ import annotations

import shlex

from swarmlab.spec import LabSpec

# Variables SAKURA substitutes per server: @@@PRIVATE_IP@@@, @@@MASK_LEN@@@.
_BASE = """#!/bin/bash
# @sacloud-once
# @sacloud-text required PRIVATE_IP "private address on the lab switch"
# @sacloud-text required MASK_LEN "mask length of the lab switch"
set -euo pipefail
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
