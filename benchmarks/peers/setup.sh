#!/usr/bin/env bash
# Creates benchmarks/peers/.venv with the peer video readers of benchmarks/peers/requirements.txt
# (PyAV, OpenCV, decord, torchcodec + torch). Kept apart from the project's .venv so the
# project never depends on them. Idempotent: a quick no-op when the requirements did not change.
# torchcodec loads the system FFmpeg libraries (Debian: apt-get install ffmpeg).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
stamp=.venv/.setup-stamp
want="$(sha256sum requirements.txt setup.sh | sha256sum | cut -d' ' -f1)"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
echo "$want" > "$stamp"
