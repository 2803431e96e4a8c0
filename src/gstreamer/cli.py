"""The ``gstreamer`` command line (also ``python -m gstreamer``).

Only this module configures logging.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Optional, Sequence

import numpy as np

__all__ = ["main"]


def _demo_frames(n: int, width: int, height: int) -> "np.ndarray":
    """A moving colour gradient: deterministic, cheap, easy to recognise."""
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.empty((height, width, 3), np.uint8)
    base[..., 0] = (xs * 255 // max(1, width - 1)).astype(np.uint8)
    base[..., 1] = (ys * 255 // max(1, height - 1)).astype(np.uint8)
    return base


def cmd_demo(args: argparse.Namespace) -> int:
    from .appsrc import GstVideoSink
    from .pipeline import quote

    width, height, fps, n = args.width, args.height, args.fps, args.num_buffers
    caps = f"video/x-raw,format=RGB,width={width},height={height},framerate={fps}/1"
    record = (
        "queue max-size-buffers=4 ! videoconvert ! "
        "x264enc pass=quant tune=zerolatency speed-preset=ultrafast ! mp4mux ! "
        f"filesink location={quote(args.output)}"
    )
    show = bool(os.environ.get("DISPLAY")) and not args.no_window
    if show:
        command = (
            f"appsrc caps={caps} ! tee name=t ! {record} "
            "t. ! queue max-size-buffers=4 ! videoconvert ! autovideosink sync=false"
        )
    else:
        command = f"appsrc caps={caps} ! {record}"
    base = _demo_frames(n, width, height)
    frame = base.copy()
    start = time.perf_counter()
    with GstVideoSink(command, width=width, height=height, fps=fps) as sink:
        for i in range(n):
            frame = base.copy()
            frame[..., 2] = (i * 255 // max(1, n - 1)) & 0xFF
            sink.push(frame)
            if args.progress and (i + 1) % max(1, fps) == 0:
                elapsed = time.perf_counter() - start
                print(f"\r{i + 1}/{n} frames, {(i + 1) / elapsed:.1f} fps", end="", file=sys.stderr)
    elapsed = time.perf_counter() - start
    if args.progress:
        print(file=sys.stderr)
    print(
        f"wrote {n} frames {width}x{height} to {args.output} in {elapsed:.2f} s "
        f"({n / elapsed:.1f} fps){' and showed them in a window' if show else ''}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gstreamer", description="NumPy arrays in and out of GStreamer pipelines."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = sub.add_parser(
        "demo", help="record generated frames to an H.264 MP4 (and show them if a display exists)"
    )
    demo.add_argument("-o", "--output", default="video.mp4", help="output file (video.mp4)")
    demo.add_argument("-n", "--num-buffers", type=int, default=300, help="frames (300)")
    demo.add_argument("--width", type=int, default=640)
    demo.add_argument("--height", type=int, default=480)
    demo.add_argument("--fps", type=int, default=30)
    demo.add_argument("--no-window", action="store_true", help="never open a window")
    demo.add_argument("--progress", action="store_true", help="print live fps")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    from .errors import GstError

    try:
        return int(args.func(args))
    except GstError as exc:
        print(f"gstreamer: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
