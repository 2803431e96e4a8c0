#!/usr/bin/env bash
# Runs the whole test suite (after set-up).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
