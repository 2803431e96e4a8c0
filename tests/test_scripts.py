"""``scripts/main.sh`` (the README's main job) runs and writes a playable file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _helpers import ffprobe_stream

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


def test_main_sh_writes_the_video(tmp_path):
    out = tmp_path / "video.mp4"
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "main.sh"), "-n", "30", "-o", str(out), "--no-window"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote 30 frames 640x480 to {out} in ")
    info = ffprobe_stream(out, "codec_name", "nb_read_frames", "r_frame_rate")
    assert info == {"codec_name": "h264", "nb_read_frames": "30", "r_frame_rate": "30/1"}
