"""Pull frames out of a pipeline as NumPy arrays through ``appsink`` (the appsink tutorial).

Usage::

    python examples/launch_pipeline/run_appsink.py
    python examples/launch_pipeline/run_appsink.py -p \\
        "videotestsrc num-buffers=20 ! video/x-raw,format=GRAY8,width=320,height=240 ! \\
         queue ! appsink emit-signals=True sync=false"

Written with the seed API (GstContext, GstVideoSource), as in the tutorial.

Run it from the checkout with the virtual environment active (``source .venv/bin/activate``,
as the README says). Ctrl-C stops it cleanly (exit code 130, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from gstreamer import GstContext, GstError, GstVideo, GstVideoSource
from gstreamer.cli import run_main

WIDTH, HEIGHT = 640, 480
NUM_BUFFERS = 50
VIDEO_FORMAT = GstVideo.VideoFormat.RGB
video_format_str = GstVideo.VideoFormat.to_string(VIDEO_FORMAT)
caps_filter = f"capsfilter caps=video/x-raw,format={video_format_str},width={WIDTH},height={HEIGHT}"
DEFAULT_PIPELINE = (
    f"videotestsrc num-buffers={NUM_BUFFERS} ! {caps_filter} ! "
    "queue ! appsink emit-signals=True sync=false"
)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "-p", "--pipeline", default=DEFAULT_PIPELINE, help="GStreamer pipeline without gst-launch"
    )
    args = ap.parse_args(argv)
    try:
        with GstContext(), GstVideoSource(args.pipeline) as pipeline:
            buffers = []
            while True:
                buffer = pipeline.pop()  # waits; None once the stream ended
                if buffer is None:
                    break
                buffers.append(buffer)
            print(f"Got: {len(buffers)} buffers")
            if buffers:
                first, last = buffers[0], buffers[-1]
                print(f"shape: {first.data.shape}, dtype: {first.data.dtype}")
                print(f"pts: first {first.pts}, last {last.pts}, duration {first.duration}")
    except GstError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_main(main)
