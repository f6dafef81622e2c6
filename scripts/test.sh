#!/usr/bin/env bash
# Every test: unit, app (the stack's app and images, PostgreSQL on loopback), API (real emulator process) and
# lab (real VM containers). No skips. With no arguments the two halves run side by side: unit + app + API
# (processes on loopback, mostly waiting on emulator transitions) beside lab (VM containers); the first half's
# output follows the lab half's. With arguments, pytest runs just those.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
.venv/bin/python -m emulator.images >/dev/null
pytest=(.venv/bin/python -m pytest -p no:cacheprovider --durations=25)
if [ "$#" -gt 0 ]; then
  exec "${pytest[@]}" "$@"
fi
api_log=$(mktemp /tmp/swarmlab-test-api.XXXXXX)
"${pytest[@]}" tests/unit tests/app tests/api >"$api_log" 2>&1 &
api=$!
trap 'kill "$api" 2>/dev/null || true; rm -f "$api_log"' EXIT
lab_rc=0
"${pytest[@]}" tests/lab || lab_rc=$?
api_rc=0
wait "$api" || api_rc=$?
echo "============================ unit + app + API tests ============================"
cat "$api_log"
echo "lab tests: exit $lab_rc; unit + app + API tests: exit $api_rc"
[ "$lab_rc" -eq 0 ] && [ "$api_rc" -eq 0 ]
