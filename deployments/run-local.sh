#!/usr/bin/env bash
# The deployments end to end on one machine: a local Prefect server (its own PREFECT_HOME), the `swarmlab`
# process work pool, the blocks, a SakuraCloudCredentials block `swarmlab` pointing at the emulator (docker
# backend) this script starts, the variable swarmlab_admin_cidrs and the emulator's rate limit, `prefect deploy
# --all`, worker(s), and build-and-destroy run(s) with the `local` profile's spec (the nightly's own is the real
# cloud's seed) watched to their end. Exits with the runs' result; stops everything it started.
#
#   deployments/run-local.sh          # server on SQLite, one worker, one run of build-and-destroy/nightly
#   deployments/run-local.sh --postgres   # server on PostgreSQL (Debian's, on loopback), two workers (one run
#                                     #   each at a time), two labs at once: build-and-destroy/on-demand ×2
#   deployments/run-local.sh --fail   # the emulator fails the first disk created: a run fails, exit != 0
#   deployments/run-local.sh --no-drills   # build and destroy without exercise_lab (drills=false)
#   deployments/run-local.sh --keep   # leave the server, workers, emulator (and PostgreSQL) running afterwards
#   deployments/run-local.sh stop     # stop what a --keep run left (same SWARMLAB_RUN_LOCAL_DIR)
#
# Each run builds a lab of its own, `<prefix>-<yyyymmdd-hhmm>` (UTC), and tears down only that lab: the prefix
# is SWARMLAB_LAB, or with --postgres `<SWARMLAB_LAB>-01` and `-02` on consecutive subnets (spec.class_labs).
# Knobs (environment): SWARMLAB_LAB (default local), SWARMLAB_SUBNET (first lab switch, default 192.168.1.0/24),
# SWARMLAB_SWARM_WORKERS (swarm workers per lab, default 3), SWARMLAB_SHARED_SUBNET (emulator shared segment,
# default 198.18.0.0/24), SWARMLAB_INSTANCE (emulator instance, default swarmlab-local), SWARMLAB_RUN_LOCAL_DIR
# (state, default .state/run-local), SWARMLAB_WATCH_TIMEOUT (s, default 3600), SWARMLAB_DELAY_SCALE (default 0.2).
# --postgres: the cluster lives in <state>/postgres (when root, run as the `postgres` user; in a private temp dir
# if that user cannot reach the state dir); the `prefect` role's random password is in <state>/prefect-db.password
# (0600) and reaches the server only through its environment (PREFECT_API_DATABASE_PASSWORD), never a command line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail=0 drills=true pg=0 keep=0 cmd=run
for arg in "$@"; do
  case $arg in
    stop) cmd=stop ;;
    --fail) fail=1 ;;
    --no-drills) drills=false ;;
    --postgres) pg=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run-local: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

[ "$cmd" = stop ] || source scripts/bootstrap.sh
root=$PWD
py=$root/.venv/bin/python
prefect=$root/.venv/bin/prefect
lab=${SWARMLAB_LAB:-local}
subnet=${SWARMLAB_SUBNET:-192.168.1.0/24}
swarm_workers=${SWARMLAB_SWARM_WORKERS:-3}
shared=${SWARMLAB_SHARED_SUBNET:-198.18.0.0/24}
instance=${SWARMLAB_INSTANCE:-swarmlab-local}
state=${SWARMLAB_RUN_LOCAL_DIR:-$root/.state/run-local}
timeout=${SWARMLAB_WATCH_TIMEOUT:-3600}

mkdir -p "$state"
state=$(cd "$state" && pwd)
pids=$state/run-local.pids  # what this script started, for stop_recorded: `<kind> <pid|dir> [args]` per line
export SWARMLAB_HOME=$root SWARMLAB_STATE_DIR=$state PREFECT_HOME=$state/prefect
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_CLI_PROMPT=false
export PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED=true PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED=true
unset PREFECT_API_URL PREFECT_API_DATABASE_CONNECTION_URL PREFECT_API_DATABASE_PASSWORD

free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {  # url seconds what; the emulator's /_emulator/* take its credentials (from the environment)
  local probe='import base64, os, sys, urllib.request
creds = os.environ.get("SAKURA_EMULATOR_TOKEN", "emulator-token") + ":" + os.environ.get("SAKURA_EMULATOR_SECRET", "emulator-secret")
auth = {"Authorization": "Basic " + base64.b64encode(creds.encode()).decode()} if "/_emulator/" in sys.argv[1] else {}
urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers=auth), timeout=1)'
  for _ in $(seq 1 $(($2 * 5))); do "$py" -c "$probe" "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "run-local: $3 did not answer on $1 within $2 s; see $state/*.log" >&2; return 1
}
purge() {  # instance shared-subnet
  "$py" -c 'import sys; from pathlib import Path; from emulator.docker import DockerBackend
DockerBackend(sys.argv[1], Path(sys.argv[2]), sys.argv[3]).purge()' "$1" "$state/$1" "$2"
}
record() { echo "$*" >>"$pids"; }

# PostgreSQL: Debian's server binaries; as root every cluster command runs as the `postgres` user
pg_user=$(id -un)
as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  pg_user=postgres
  as_pg() { runuser -u postgres -- "$@"; }
fi
pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$found" ] && [ -x "$found/postgres" ] || {
    echo "run-local: --postgres needs Debian's PostgreSQL server (/usr/lib/postgresql/*/bin/postgres):" \
         "apt-get install postgresql (scripts/bootstrap.sh does, as root)" >&2; return 1; }
  echo "$found"
}
pg_stop() {  # cluster dir: stop it, keep its log in the state dir, remove it
  local bin
  bin=$(pg_bin) || return 1
  if [ -f "$1/data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$1/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
      as_pg "$bin/pg_ctl" -D "$1/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
      { echo "run-local: PostgreSQL in $1 did not stop" >&2; return 1; }
  fi
  [ ! -f "$1/postgres.log" ] || cp "$1/postgres.log" "$state/postgres.log"
  rm -rf "$1"
}
pg_start() {  # sets pg_dir, pg_port: a cluster with a `prefect` role and database, password in $state
  local bin
  bin=$(pg_bin)
  pg_dir=$state/postgres
  mkdir -p "$pg_dir"
  if [ "$pg_user" = postgres ]; then
    chown postgres:postgres "$pg_dir"
    if ! runuser -u postgres -- test -w "$pg_dir"; then  # e.g. under a root-only (0700) directory
      rmdir "$pg_dir"
      pg_dir=$(mktemp -d /tmp/swarmlab-run-local-pg.XXXXXX)
      chown postgres:postgres "$pg_dir"
    fi
  fi
  chmod 700 "$pg_dir"
  record postgres "$pg_dir"
  as_pg "$bin/initdb" -D "$pg_dir/data" -U "$pg_user" --auth-local=peer --auth-host=scram-sha-256 -E UTF8 \
    --locale=C >"$state/postgres-initdb.log" 2>&1 ||
    { echo "run-local: initdb failed; see $state/postgres-initdb.log" >&2; return 1; }
  pg_port=$(free_port)
  printf "\nlisten_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\n" "$pg_port" "$pg_dir" \
    >>"$pg_dir/data/postgresql.conf"
  as_pg "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 start >/dev/null ||
    { cp "$pg_dir/postgres.log" "$state/postgres.log" 2>/dev/null
      echo "run-local: PostgreSQL did not start; see $state/postgres.log" >&2; return 1; }
  (umask 077; "$py" -c 'import secrets; print(secrets.token_hex(24))' >"$state/prefect-db.password")
  # the role gets a SCRAM verifier, not the password: neither a command line nor the server's log ever holds it
  local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_dir" -p "$pg_port" -U "$pg_user")
  "$py" - "$state/prefect-db.password" <<'PY' | as_pg "${psql[@]}" -d postgres
import base64, hashlib, hmac, os, sys
password = open(sys.argv[1]).read().strip().encode()
salt, rounds = os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", password, salt, rounds)
client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
b64 = lambda b: base64.b64encode(b).decode()
verifier = (f"SCRAM-SHA-256${rounds}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:"
            f"{b64(hmac.new(salted, b'Server Key', hashlib.sha256).digest())}")
print(f"CREATE ROLE prefect LOGIN PASSWORD '{verifier}';\nCREATE DATABASE prefect OWNER prefect;")
PY
  as_pg "${psql[@]}" -d prefect -c 'CREATE EXTENSION IF NOT EXISTS pg_trgm' >/dev/null
}

stop() {  # pid [group]: TERM, then KILL after 20 s
  local target=$1
  [ "${2:-}" = group ] && target=-$1
  kill -TERM -- "$target" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "$target" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
still_ours() {  # pid pattern: the recorded process is still the one started (not a reused pid)
  ps -o args= -p "$1" 2>/dev/null | grep -q -- "$2"
}
stop_recorded() {  # everything $pids lists: workers (their flow runs first), server, emulator (+ purge), PostgreSQL
  [ -f "$pids" ] || return 0
  local kind a b rc=0 workers=() stopping=() server= emu= inst= inst_shared= pgdirs=()
  while read -r kind a b; do
    case $kind in
      worker) workers+=("$a") ;;
      server) server=$a ;;
      emulator) emu=$a ;;
      instance) inst=$a inst_shared=$b ;;
      postgres) pgdirs+=("$a") ;;
    esac
  done <"$pids"
  for w in "${workers[@]}"; do  # at once: each waits for its flow runs to stop first
    still_ours "$w" "worker start" || continue
    (for pid in $(pgrep -P "$w" || true); do stop "$pid"; done; stop "$w" group) &
    stopping+=($!)
  done
  [ ${#stopping[@]} = 0 ] || wait "${stopping[@]}"
  [ -z "$server" ] || ! still_ours "$server" "server start" || stop "$server"
  [ -z "$emu" ] || ! still_ours "$emu" "emulator" || stop "$emu"
  [ -z "$inst" ] || purge "$inst" "$inst_shared" >>"$state/emulator.log" 2>&1 ||
    { echo "run-local: purging emulator objects failed" >&2; rc=1; }
  for d in "${pgdirs[@]}"; do pg_stop "$d" || rc=1; done
  rm -f "$pids" "$state/prefect-db.password"
  return "$rc"
}

if [ "$cmd" = stop ]; then
  stop_recorded
  echo "run-local: stopped what $pids listed"
  exit 0
fi

watch_pids=()
stop_all() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${watch_pids[@]}"; do stop "$pid"; done
  if [ "$keep" = 1 ]; then
    echo "run-local: kept running (PREFECT_API_URL=${PREFECT_API_URL:-}); stop with: deployments/run-local.sh stop"
  else
    stop_recorded || true
  fi
  exit "$rc"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

echo "run-local: preflight and lab images"
"$py" -m emulator.preflight
"$py" -m emulator.images

# a clean slate: whatever an earlier --keep run left, its Prefect database and emulator state go
stop_recorded || true
purge "$instance" "$shared" >/dev/null 2>&1 || true
rm -rf "$PREFECT_HOME" "$state/emulator.sqlite" "$state/ssh" "$state/known_hosts" "$state/postgres"

db="SQLite ($PREFECT_HOME)"
if [ "$pg" = 1 ]; then
  pg_start
  db="PostgreSQL 127.0.0.1:$pg_port/prefect"
  echo "run-local: $db (cluster $pg_dir)"
fi

emu_port=$(free_port)
faults=()
[ "$fail" = 1 ] && faults=(--fail-disks 1)
record instance "$instance" "$shared"
"$py" -m emulator --backend docker --port "$emu_port" --state "$state/emulator.sqlite" --instance "$instance" \
  --shared-subnet "$shared" --delay-scale "${SWARMLAB_DELAY_SCALE:-0.2}" "${faults[@]}" >"$state/emulator.log" 2>&1 &
record emulator $!
wait_http "http://127.0.0.1:$emu_port/_emulator/health" 120 emulator

port=$(free_port)
(
  if [ "$pg" = 1 ]; then  # the password only in the server's environment; the URL names it, not holds it
    PREFECT_API_DATABASE_PASSWORD=$(<"$state/prefect-db.password")
    export PREFECT_API_DATABASE_PASSWORD
    PREFECT_API_DATABASE_CONNECTION_URL="postgresql+asyncpg://prefect:\${PREFECT_API_DATABASE_PASSWORD}@127.0.0.1"
    export PREFECT_API_DATABASE_CONNECTION_URL="$PREFECT_API_DATABASE_CONNECTION_URL:$pg_port/prefect"
  fi
  exec "$prefect" server start --host 127.0.0.1 --port "$port" --analytics-off
) >"$state/server.log" 2>&1 &
record server $!
export PREFECT_API_URL="http://127.0.0.1:$port/api"
wait_http "$PREFECT_API_URL/health" 180 "Prefect server"
echo "run-local: Prefect server $PREFECT_API_URL (UI http://127.0.0.1:$port) on $db, emulator 127.0.0.1:$emu_port"

"$prefect" work-pool create swarmlab --type process --overwrite >/dev/null
PYTHONPATH=. "$prefect" block register -m blocks >/dev/null
SWARMLAB_EMU_ROOT="http://127.0.0.1:$emu_port/cloud/zone" SWARMLAB_ADMIN_CIDRS="[\"$shared\"]" "$py" - <<'PY'
import json, os
from prefect.variables import Variable
from blocks.sakura import SakuraCloudCredentials
from emulator.process import RATE_PER_S
from flows.ratelimit import ensure_rate_limit, limit_name
root = os.environ["SWARMLAB_EMU_ROOT"]
SakuraCloudCredentials(access_token=os.environ.get("SAKURA_EMULATOR_TOKEN", "emulator-token"),
                       access_token_secret=os.environ.get("SAKURA_EMULATOR_SECRET", "emulator-secret"),
                       zone="is1a", api_root=root, rate_per_s=RATE_PER_S).save("swarmlab", overwrite=True)
# the nightly's own spec (seed) reads it at deploy time; this script's runs pass the local profile's spec
Variable.set("swarmlab_admin_cidrs", json.loads(os.environ["SWARMLAB_ADMIN_CIDRS"]), overwrite=True)
ensure_rate_limit(limit_name(root), RATE_PER_S)  # the emulator's own limit; SAKURA's (sakura-api) is untouched
PY

"$prefect" deploy --all --no-prompt

if [ "$pg" = 1 ]; then
  workers=("run-local-1-$$" "run-local-2-$$") limit=(--limit 1)  # one run each at a time: two runs, two workers
  deployment=build-and-destroy/on-demand
else
  workers=("run-local-$$") limit=()
  deployment=build-and-destroy/nightly
fi
for w in "${workers[@]}"; do  # SIGINT back to default: bash starts background jobs with it ignored, and the
  # worker stops on TERM by sending itself an INT (it would otherwise keep running until `stop` kills it)
  setsid env --default-signal=INT "$prefect" worker start --pool swarmlab --type process --name "$w" "${limit[@]}" >"$state/worker-$w.log" 2>&1 &
  record worker $!
done
"$py" - "${workers[@]}" <<'PY'
import sys, time
from prefect.client.orchestration import get_client
want = set(sys.argv[1:])
with get_client(sync_client=True) as client:
    for _ in range(600):
        if want <= {w.name for w in client.read_workers_for_work_pool("swarmlab")}:
            sys.exit(0)
        time.sleep(0.2)
sys.exit(f"run-local: workers {sorted(want)} did not all reach the pool swarmlab within 120 s; see worker-*.log")
PY

# the runs: one lab (prefix SWARMLAB_LAB), or with --postgres two (<SWARMLAB_LAB>-01, -02 on consecutive subnets)
count=1
[ "$pg" = 1 ] && count=2
mapfile -t runs < <("$py" -c '
import sys
from swarmlab.spec import class_labs, local
lab, subnet, count, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
labs = [(lab, subnet)] if count == 1 else class_labs(lab, count, subnet)
for name, net in labs:
    spec = local(name, str(net), workers=workers)
    print(name, spec.model_dump_json())' "$lab" "$subnet" "$count" "$swarm_workers")
[ "${#runs[@]}" = "$count" ] || { echo "run-local: no spec for lab $lab on $subnet" >&2; exit 1; }
prefixes=()
for run in "${runs[@]}"; do
  prefix=${run%% *} spec=${run#* }
  prefixes+=("$prefix")
  echo "run-local: $deployment for lab prefix $prefix$([ "$fail" = 1 ] && echo ' (the first disk created fails)')"
  # in the background, so that a signal to this script is handled at once (bash defers traps)
  "$prefect" deployment run "$deployment" --param spec="$spec" --param drills=$drills \
    --param lab_prefix="$prefix" --watch --watch-timeout "$timeout" &
  watch_pids+=($!)
done
rc=0
for pid in "${watch_pids[@]}"; do
  wait "$pid" || { r=$?; [ "$rc" != 0 ] || rc=$r; }
done
watch_pids=()

SWARMLAB_EMU_ROOT="http://127.0.0.1:$emu_port/cloud/zone" "$py" - "$deployment" "${prefixes[@]}" <<'PY' || true
import os, sys, time
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterDeploymentId, FlowRunFilterStateType,
                                           LogFilter, LogFilterLevel)
from prefect.client.schemas.sorting import FlowRunSort
from prefect.events.filters import EventFilter, EventNameFilter
from flows.ratelimit import limit_name
with get_client(sync_client=True) as client:
    deployment = client.read_deployment_by_name(sys.argv[1])
    runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
        deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id]),
        state=dict(type=FlowRunFilterStateType(not_any_=["SCHEDULED"]))), sort=FlowRunSort.START_TIME_ASC)
    worker_of = {}
    for _ in range(30):  # the server writes events a moment after they happen
        for e in client.read_events(EventFilter(event=EventNameFilter(name=["prefect.worker.submitted-flow-run"])),
                                    limit=50).events:
            for r in e.related:
                if r.role == "flow-run":
                    worker_of[r.id.removeprefix("prefect.flow-run.")] = e.resource.name
        if all(str(r.id) in worker_of for r in runs):
            break
        time.sleep(1)
    for r in runs:
        print(f"run-local: {r.name}: {r.state.name if r.state else '?'} on worker {worker_of.get(str(r.id), '?')}")
    limit = client.read_global_concurrency_limit_by_name(limit_name(os.environ["SWARMLAB_EMU_ROOT"]))
    own = [log for log in client.read_logs(LogFilter(level=LogFilterLevel(ge_=30)), limit=200)
           if "rate limit" in log.message]
    print(f"run-local: rate limit {limit.name} ({limit.limit} slots, {limit.slot_decay_per_second:g}/s decay) shared "
          f"by every run; " + (f"{len(own)} warnings: a run paced on its own" if own else "no run paced on its own"))
for prefix in sys.argv[2:]:
    a = Artifact.get(f"{prefix}-run-cost")
    print(a.data if a else f"(no cost artifact {prefix}-run-cost)")
PY
echo "run-local: build-and-destroy finished with exit code $rc"
exit "$rc"
