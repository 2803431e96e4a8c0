"""Show NumPy frames in a window (autovideosink).

python examples/streaming/display.py            # needs a display
xvfb-run -a python examples/streaming/display.py  # headless machines

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
    parser.add_argument("-n", "--frames", type=int, default=150)
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args()
    # the rest of a pipeline: ``appsrc`` is put in front; sync=true shows frames in real time
    with Writer("videoconvert ! autovideosink sync=true", fps=args.fps) as window:
        for i in range(args.frames):
            window.write(pattern(i))
    print(f"showed {args.frames} frames")


if __name__ == "__main__":
    run_main(main)
