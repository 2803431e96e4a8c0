#!/usr/bin/env bash
# The whole test suite while two CPU-burning processes keep both cores busy, N runs in a row
# (default 3): the suite must not depend on an idle machine.
#   bash scripts/test-under-load.sh [RUNS] [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
runs="${1:-3}"
shift || true
burners=()
cleanup() { for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in 1 2; do
  yes > /dev/null &
  burners+=("$!")
done
for run in $(seq 1 "$runs"); do
  echo "== run $run of $runs, beside ${#burners[@]} busy processes ==" >&2
  .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
done
