"""Record NumPy frames to an H.264 MP4 (the encoder and muxer follow from the extension).

python examples/streaming/record.py -o out.mp4 && ffprobe out.mp4

Run it from the checkout with the virtual environment active (``source .venv/bin/activate``,
as the README says). Ctrl-C stops it cleanly (exit code 130, no traceback).
"""

from __future__ import annotations

import argparse

from _frames import pattern

from gstreamer import Writer
from gstreamer.cli import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="out.mp4")
    parser.add_argument("-n", "--frames", type=int, default=90)
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args()
    with Writer(args.output, fps=args.fps) as writer:  # close() finalises the file
        for i in range(args.frames):
            writer.write(pattern(i, 320, 240))
    print(f"wrote {args.frames} frames to {args.output}")


if __name__ == "__main__":
    run_main(main)
