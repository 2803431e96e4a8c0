#!/usr/bin/env bash
# The main job: generated NumPy frames -> appsrc -> x264enc -> mp4mux -> video.mp4
# (and a window too when a display exists). Prints frames written and fps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gstreamer demo "$@"
