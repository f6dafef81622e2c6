#!/usr/bin/env bash
# Every test: unit, API (real emulator process) and lab (real VM containers). No skips.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
.venv/bin/python -m emulator.images >/dev/null
exec .venv/bin/python -m pytest -p no:cacheprovider --durations=25 "$@"
