"""Write a few seconds of generated video (and a tone) with gstreamer.Writer / MuxWriter.

Usage: python examples/write_video.py [OUT_DIR]

Writes OUT_DIR/moving_box.mp4 (video only) and OUT_DIR/with_sound.mkv (video + 440 Hz tone).
Press Ctrl-C at any time: the files written so far are finalised and playable.

Run it from the checkout with the virtual environment active (``source .venv/bin/activate``,
as the README says). Ctrl-C stops it cleanly (exit code 130, no traceback).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

import gstreamer
from gstreamer.cli import run_main

WIDTH, HEIGHT, FPS, RATE = 640, 360, 30, 48000


def frame_at(i: int) -> np.ndarray:
    """A dark frame with a white box that moves one step per frame."""
    frame = np.full((HEIGHT, WIDTH, 3), 30, np.uint8)
    x = (i * 8) % (WIDTH - 64)
    frame[148:212, x : x + 64] = 255
    return frame


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    out = Path(argv[1] if len(argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)

    n = gstreamer.write_frames(out / "moving_box.mp4", (frame_at(i) for i in range(3 * FPS)))
    print(f"wrote {n} frames to {out / 'moving_box.mp4'}")

    per_frame = RATE // FPS
    t = np.arange(3 * RATE) / RATE
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stereo = np.stack([tone, tone], axis=1)
    with gstreamer.MuxWriter(
        out / "with_sound.mkv", video=dict(fps=FPS), audio=dict(rate=RATE, channels=2)
    ) as w:
        for i in range(3 * FPS):
            w.write_video(frame_at(i))
            w.write_audio(stereo[i * per_frame : (i + 1) * per_frame])
    print(f"wrote {w.frames_written} frames + audio to {out / 'with_sound.mkv'}")
    return 0


if __name__ == "__main__":
    run_main(lambda: main(sys.argv))
