#!/bin/sh
# Runs at every boot before sshd/dockerd; does its one-time work only on the first boot.
# Per-server config is bind-mounted read-only at /lab by the emulator's docker backend:
#   /lab/authorized_keys  /lab/hostname  /lab/ca.crt  /lab/notes/<id>
MARKER=/var/lib/lab/firstboot.done
[ -e "$MARKER" ] && exit 0
ssh-keygen -A
if [ -f /lab/authorized_keys ]; then
  install -m 600 /lab/authorized_keys /root/.ssh/authorized_keys
  install -m 600 -o ubuntu -g ubuntu /lab/authorized_keys /home/ubuntu/.ssh/authorized_keys
fi
if [ -s /lab/hostname ]; then
  h=$(cat /lab/hostname)
  [ "$(hostname)" = "$h" ] || hostname "$h" 2>/dev/null || true
  echo "$h" > /etc/hostname 2>/dev/null || true
fi
if [ -f /lab/ca.crt ]; then
  cp /lab/ca.crt /usr/local/share/ca-certificates/lab-ca.crt
  update-ca-certificates >/dev/null 2>&1
fi
[ -f /lab/daemon.json ] && mkdir -p /etc/docker && cp /lab/daemon.json /etc/docker/daemon.json
mkdir -p /var/lib/lab
touch "$MARKER"
exit 0
