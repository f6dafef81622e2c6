#!/usr/bin/env bash
# Make this machine ready for swarmlab: system packages, a running Docker engine, the .venv.
# Sourced by scripts/demo.sh and scripts/test.sh; idempotent and quick when everything is there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
for pair in python3:python3 docker:docker.io dockerd:docker.io debootstrap:debootstrap openssl:openssl \
            haproxy:haproxy sshd:openssh-server; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "bootstrap: missing ${need[*]}; install them (as root) and re-run" >&2; exit 1; fi
  echo "bootstrap: installing ${need[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "bootstrap: Docker does not answer; start it and re-run" >&2; exit 1; fi
  echo "bootstrap: starting dockerd"
  nohup dockerd >/var/log/swarmlab-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "bootstrap: dockerd did not start; see /var/log/swarmlab-dockerd.log" >&2; exit 1; }
fi

# every VM container's systemd takes inotify instances from the host's per-user budget (128 by default): two
# labs at once (a benchmark beside the suite) ran out ("Failed to create inotify object") and VMs never booted
inotify=/proc/sys/fs/inotify/max_user_instances
if [ "$(cat "$inotify" 2>/dev/null || echo 1024)" -lt 1024 ]; then
  if [ "$(id -u)" = 0 ] && echo 1024 >"$inotify" 2>/dev/null; then
    echo "bootstrap: fs.inotify.max_user_instances raised to 1024 (VM containers each run systemd)"
  else
    echo "bootstrap: warning: fs.inotify.max_user_instances is $(cat "$inotify"); more than one lab at a time may not boot" >&2
  fi
fi

stamp=.venv/.swarmlab-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: creating .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
  rm -f .venv/.swarmlab-*; touch "$stamp"
fi

export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_HOME="${PREFECT_HOME:-$PWD/.state/prefect}"
mkdir -p "$PREFECT_HOME"  # Prefect creates only the last component (a fresh clone has no .state yet)
