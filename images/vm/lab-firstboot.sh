#!/bin/sh
# Runs at every boot before sshd/dockerd; does its one-time work only on the first boot.
# Per-server config is bind-mounted read-only at /lab by the emulator's docker backend:
#   /lab/authorized_keys  /lab/hostname  /lab/ca.crt  /lab/notes/<id>
MARKER=/var/lib/lab/firstboot.done
[ -e "$MARKER" ] && exit 0
# ed25519 + ecdsa only: an RSA host key costs ~1 s of CPU per VM (5+ s when 7 VMs boot on 2 cores),
# and every current client (OpenSSH, paramiko) negotiates ed25519 first
for t in ed25519 ecdsa; do
  [ -f /etc/ssh/ssh_host_${t}_key ] || ssh-keygen -q -t $t -N '' -f /etc/ssh/ssh_host_${t}_key
done
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
  # what update-ca-certificates would do, without its 1.5 s (7 s under load) rehash of every CA:
  # keep the source (so later runs of update-ca-certificates keep it), append to the bundle that
  # Go (dockerd), curl and python read, and add the hash link for OpenSSL's CApath users
  cp /lab/ca.crt /usr/local/share/ca-certificates/lab-ca.crt
  ln -sf /usr/local/share/ca-certificates/lab-ca.crt /etc/ssl/certs/lab-ca.pem
  ln -sf lab-ca.pem "/etc/ssl/certs/$(openssl x509 -hash -noout -in /lab/ca.crt).0"
  cat /lab/ca.crt >> /etc/ssl/certs/ca-certificates.crt
fi
[ -f /lab/daemon.json ] && mkdir -p /etc/docker && cp /lab/daemon.json /etc/docker/daemon.json
mkdir -p /var/lib/lab
touch "$MARKER"
exit 0
