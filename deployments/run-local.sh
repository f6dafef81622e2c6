#!/usr/bin/env bash
# The deployments end to end on one machine: a local Prefect server (SQLite, its own PREFECT_HOME),
# the `swarmlab` process work pool, the blocks, a SakuraCloudCredentials block `swarmlab` pointing at
# the emulator (docker backend) this script starts, the variable swarmlab_admin_cidrs and the rate limit
# sakura-api, `prefect deploy --all`, a worker, and one run of build-and-destroy/nightly with the `local`
# profile's spec (the deployment's own is the real cloud's seed) watched to its end. Exits with the run's
# result; stops everything it started.
#
#   deployments/run-local.sh          # exit 0 when the run Completed
#   deployments/run-local.sh --fail   # the emulator fails the first disk created: the run fails, exit != 0
#   deployments/run-local.sh --no-drills   # build and destroy without exercise_lab (drills=false)
#
# The run builds a lab of its own, `<SWARMLAB_LAB>-<yyyymmdd-hhmm>` (UTC), and tears down only that lab.
# Knobs (environment): SWARMLAB_LAB (the lab name's prefix, default local), SWARMLAB_SUBNET (lab switch, default
# 192.168.1.0/24), SWARMLAB_SHARED_SUBNET (emulator shared segment, default 198.18.0.0/24),
# SWARMLAB_INSTANCE (emulator instance, default swarmlab-local), SWARMLAB_RUN_LOCAL_DIR (state, default
# .state/run-local), SWARMLAB_WATCH_TIMEOUT (s, default 3600), SWARMLAB_DELAY_SCALE (default 0.2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail=0 drills=true
for arg in "$@"; do
  case $arg in
    --fail) fail=1 ;;
    --no-drills) drills=false ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run-local: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

source scripts/bootstrap.sh
root=$PWD
py=$root/.venv/bin/python
prefect=$root/.venv/bin/prefect
lab=${SWARMLAB_LAB:-local}
subnet=${SWARMLAB_SUBNET:-192.168.1.0/24}
shared=${SWARMLAB_SHARED_SUBNET:-198.18.0.0/24}
instance=${SWARMLAB_INSTANCE:-swarmlab-local}
state=${SWARMLAB_RUN_LOCAL_DIR:-$root/.state/run-local}
timeout=${SWARMLAB_WATCH_TIMEOUT:-3600}

mkdir -p "$state"
state=$(cd "$state" && pwd)
export SWARMLAB_HOME=$root SWARMLAB_STATE_DIR=$state PREFECT_HOME=$state/prefect
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_CLI_PROMPT=false
export PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED=true PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED=true
unset PREFECT_API_URL

free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {  # url seconds what; the emulator's /_emulator/* take its credentials (from the environment)
  local probe='import base64, os, sys, urllib.request
creds = os.environ.get("SAKURA_EMULATOR_TOKEN", "emulator-token") + ":" + os.environ.get("SAKURA_EMULATOR_SECRET", "emulator-secret")
auth = {"Authorization": "Basic " + base64.b64encode(creds.encode()).decode()} if "/_emulator/" in sys.argv[1] else {}
urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers=auth), timeout=1)'
  for _ in $(seq 1 $(($2 * 5))); do "$py" -c "$probe" "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "run-local: $3 did not answer on $1 within $2 s; see $state/*.log" >&2; return 1
}
purge() {
  "$py" -c 'import sys; from pathlib import Path; from emulator.docker import DockerBackend
DockerBackend(sys.argv[1], Path(sys.argv[2]), sys.argv[3]).purge()' "$instance" "$state/$instance" "$shared"
}

emu_pid= server_pid= worker_pid= watch_pid=
stop() {  # pid [group]: TERM, then KILL after 20 s (a process worker may not stop on TERM alone)
  local target=$1
  [ "${2:-}" = group ] && target=-$1
  kill -TERM -- "$target" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "$target" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
stop_all() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$watch_pid" ] || stop "$watch_pid"
  if [ -n "$worker_pid" ]; then  # the flow runs the worker started (each in its own session), then the worker
    for pid in $(pgrep -P "$worker_pid" || true); do stop "$pid"; done
    stop "$worker_pid" group
  fi
  [ -z "$server_pid" ] || stop "$server_pid"
  [ -z "$emu_pid" ] || stop "$emu_pid"
  [ -z "$emu_pid" ] || purge >>"$state/emulator.log" 2>&1 || echo "run-local: purging emulator objects failed" >&2
  exit "$rc"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

echo "run-local: preflight and lab images"
"$py" -m emulator.preflight
"$py" -m emulator.images

# a clean slate: Prefect database and emulator state from an earlier run go
purge >/dev/null 2>&1 || true
rm -rf "$PREFECT_HOME" "$state/emulator.sqlite" "$state/ssh" "$state/known_hosts"

emu_port=$(free_port)
faults=()
[ "$fail" = 1 ] && faults=(--fail-disks 1)
"$py" -m emulator --backend docker --port "$emu_port" --state "$state/emulator.sqlite" --instance "$instance" \
  --shared-subnet "$shared" --delay-scale "${SWARMLAB_DELAY_SCALE:-0.2}" "${faults[@]}" >"$state/emulator.log" 2>&1 &
emu_pid=$!
wait_http "http://127.0.0.1:$emu_port/_emulator/health" 120 emulator

port=$(free_port)
"$prefect" server start --host 127.0.0.1 --port "$port" --analytics-off >"$state/server.log" 2>&1 &
server_pid=$!
export PREFECT_API_URL="http://127.0.0.1:$port/api"
wait_http "$PREFECT_API_URL/health" 120 "Prefect server"
echo "run-local: Prefect server $PREFECT_API_URL (UI http://127.0.0.1:$port), emulator 127.0.0.1:$emu_port"

"$prefect" work-pool create swarmlab --type process --overwrite >/dev/null
PYTHONPATH=. "$prefect" block register -m blocks >/dev/null
SWARMLAB_EMU_ROOT="http://127.0.0.1:$emu_port/cloud/zone" SWARMLAB_ADMIN_CIDRS="[\"$shared\"]" "$py" - <<'EOF'
import json, os
from prefect.variables import Variable
from blocks.sakura import SakuraCloudCredentials
from emulator.process import RATE_PER_S
from flows.ratelimit import ensure_rate_limit, limit_name
root = os.environ["SWARMLAB_EMU_ROOT"]
SakuraCloudCredentials(access_token=os.environ.get("SAKURA_EMULATOR_TOKEN", "emulator-token"),
                       access_token_secret=os.environ.get("SAKURA_EMULATOR_SECRET", "emulator-secret"),
                       zone="is1a", api_root=root, rate_per_s=RATE_PER_S).save("swarmlab", overwrite=True)
# the nightly's own spec (seed) reads it at deploy time; this script's run passes the local profile's spec
Variable.set("swarmlab_admin_cidrs", json.loads(os.environ["SWARMLAB_ADMIN_CIDRS"]), overwrite=True)
ensure_rate_limit(limit_name(root), RATE_PER_S)  # the emulator's own limit; SAKURA's (sakura-api) is untouched
EOF

"$prefect" deploy --all --no-prompt

setsid "$prefect" worker start --pool swarmlab --type process --name "run-local-$$" >"$state/worker.log" 2>&1 &
worker_pid=$!

spec=$("$py" -c 'import sys; from swarmlab.spec import local; print(local(sys.argv[1], sys.argv[2]).model_dump_json())' \
  "$lab" "$subnet")
echo "run-local: build-and-destroy/nightly for lab $lab$([ "$fail" = 1 ] && echo ' (the first disk will fail)')"
rc=0  # in the background, so that a signal to this script is handled at once (bash defers traps)
"$prefect" deployment run build-and-destroy/nightly --param spec="$spec" --param drills=$drills \
  --param lab_prefix="$lab" --watch --watch-timeout "$timeout" &
watch_pid=$!
wait "$watch_pid" || rc=$?
watch_pid=
"$py" -c 'import sys; from prefect.artifacts import Artifact; a = Artifact.get(sys.argv[1]); print(a.data if a else "")' \
  "$lab-run-cost" 2>/dev/null || true
echo "run-local: build-and-destroy finished with exit code $rc"
exit "$rc"
