"""Read frames from a video file (or a test pattern) as NumPy arrays.

    python examples/read_video.py clip.mp4
    python examples/read_video.py "videotestsrc num-buffers=60 pattern=ball"
    python examples/read_video.py clip.mp4 --format GRAY8 --width 320 --height 180

Prints one line per frame (time, shape, mean brightness) and a summary.

Run it from the checkout with the virtual environment active (``source .venv/bin/activate``,
as the README says). Ctrl-C stops it cleanly (exit code 130, no traceback).
"""

from __future__ import annotations

import argparse
import sys
import time

import gstreamer
from gstreamer.cli import run_main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print what a Reader sees.")
    parser.add_argument(
        "source",
        nargs="?",
        default="videotestsrc num-buffers=60 pattern=ball",
        help="a file, a URI or a pipeline (default: a test pattern)",
    )
    parser.add_argument("--format", default="RGB")
    parser.add_argument("--width", type=int)
    parser.add_argument("--height", type=int)
    parser.add_argument("--fps")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    try:
        with gstreamer.Reader(
            args.source, format=args.format, width=args.width, height=args.height, fps=args.fps
        ) as reader:
            for frame in reader:
                when = "-" if frame.time is None else f"{frame.time:8.3f}s"
                mean = float(frame.data.mean()) if not isinstance(frame.data, list) else 0.0
                key = "key" if frame.keyframe else "   "
                print(f"{when} {key} {frame.shape} mean={mean:6.1f}")
            count = reader.frames_read
            print(
                f"{count} frames, {reader.width}x{reader.height} at {reader.fps} fps, "
                f"read in {time.perf_counter() - start:.2f} s"
            )
    except gstreamer.GstError as exc:  # includes a missing file (also a FileNotFoundError)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_main(main)
