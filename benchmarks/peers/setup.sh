#!/usr/bin/env bash
# Creates benchmarks/peers/.venv with the peer libraries of benchmarks/peers/requirements.txt
# (PyAV, imageio, imageio-ffmpeg, OpenCV, decord, torchcodec + torch). Kept apart from the
# project's .venv so the project never depends on them; the project's own rows run with the
# project's .venv (bash scripts/setup.sh). Idempotent: a quick no-op when the requirements did
# not change. torchcodec loads the system FFmpeg libraries (Debian: apt-get install ffmpeg).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
stamp=.venv/.setup-stamp
want="$(sha256sum requirements.txt setup.sh | sha256sum | cut -d' ' -f1)"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
command -v ffmpeg >/dev/null || { echo "peers/setup: ffmpeg is needed (apt-get install ffmpeg)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
echo "$want" > "$stamp"
