#!/usr/bin/env bash
# The main job on the embedded default: the local SAKURA Cloud emulator whose servers are real
# VM containers. Installs what it needs, builds the lab images (cached), runs the flows, cleans up
# (the emulator runs with --purge: stopping it removes its containers, networks, volumes and state).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
port=${SWARMLAB_EMULATOR_PORT:-18080}
mkdir -p .state
.venv/bin/python -m emulator.preflight
.venv/bin/python -m emulator.images
.venv/bin/python -m emulator --backend docker --port "$port" --state .state/emulator.sqlite --purge \
  >.state/emulator.log 2>&1 &
emu=$!
trap 'kill $emu 2>/dev/null; wait $emu 2>/dev/null || true' EXIT
health='import base64, os, sys, urllib.request
creds = os.environ.get("SAKURA_EMULATOR_TOKEN", "emulator-token") + ":" + os.environ.get("SAKURA_EMULATOR_SECRET", "emulator-secret")
urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={"Authorization": "Basic " + base64.b64encode(creds.encode()).decode()}), timeout=1)'
for _ in $(seq 1 150); do .venv/bin/python -c "$health" "http://127.0.0.1:$port/_emulator/health" 2>/dev/null && break; sleep 0.2; done
export SAKURACLOUD_API_ROOT_URL="http://127.0.0.1:$port/cloud/zone"
export SAKURACLOUD_ACCESS_TOKEN=${SAKURA_EMULATOR_TOKEN:-emulator-token}
export SAKURACLOUD_ACCESS_TOKEN_SECRET=${SAKURA_EMULATOR_SECRET:-emulator-secret}
.venv/bin/python -m flows demo --profile local "$@"
