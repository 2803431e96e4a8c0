#!/usr/bin/env bash
# Idempotent set-up: Debian packages (apt-get, via sudo when not root) and .venv with the
# package installed in editable mode plus test, lint, benchmark and docs-site dependencies.
# Quick no-op when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-rtsp-server-1.0
  libgirepository1.0-dev libcairo2-dev pkg-config xvfb ffmpeg chromium
  libswscale6 libyuv0
)

PYTHON="${PYTHON:-python3}"
# PyGObject is built from source: it needs a C compiler, Python's headers and venv support.
command -v cc >/dev/null 2>&1 || DEB_PACKAGES+=(gcc)
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  DEB_PACKAGES+=(python3 python3-venv python3-dev)
else
  "$PYTHON" -c "import ensurepip, venv" 2>/dev/null || DEB_PACKAGES+=(python3-venv)
  "$PYTHON" -c "import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))" 2>/dev/null \
    || DEB_PACKAGES+=(python3-dev)
fi

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

stamp=.venv/.setup-stamp
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setup: preparing .venv" >&2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >&2
# ray and torch are optional extras; the tests of gstreamer.ray / gstreamer.torch need them.
# torch from PyPI is the CUDA build (large, cached by pip after the first install).
.venv/bin/python -m pip install -q -e ".[test,dev,bench,docs,ray,torch]" >&2
echo "$want" > "$stamp"
