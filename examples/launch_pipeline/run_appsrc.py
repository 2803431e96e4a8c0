"""Push random NumPy frames into a pipeline through ``appsrc`` (the appsrc tutorial's script).

Usage::

    python examples/launch_pipeline/run_appsrc.py            # show them in a window
    python examples/launch_pipeline/run_appsrc.py -n 150 -p \\
        "appsrc emit-signals=True is-live=True \\
         caps=video/x-raw,format=RGB,width=640,height=480,framerate=30/1 ! \\
         queue max-size-buffers=4 ! videoconvert ! fpsdisplaysink"
    python examples/launch_pipeline/run_appsrc.py -p \\
        "appsrc emit-signals=True is-live=True \\
         caps=video/x-raw,format=RGB,width=640,height=480,framerate=30/1 ! \\
         queue max-size-buffers=4 ! videoconvert ! \\
         x264enc pass=quant tune=zerolatency ! mp4mux ! filesink location=video.mp4"

Width, height, frame rate and format come from the ``caps`` of the pipeline's appsrc (any raw
video format); every buffer gets a pts and a duration from the frame rate. Written with the
seed API (GstContext, GstPipeline, gstreamer.utils), as in the tutorial.

Run it from the checkout with the virtual environment active (``source .venv/bin/activate``,
as the README says). Ctrl-C stops it cleanly (exit code 130, no traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from fractions import Fraction
from typing import Any, Optional

import numpy as np

import gstreamer.utils as utils
from gstreamer import Gst, GstApp, GstContext, GstError, GstPipeline
from gstreamer.caps import VideoLayout, layout_from_caps
from gstreamer.cli import run_main

VIDEO_FORMAT = "RGB"
WIDTH, HEIGHT = 640, 480
FPS = Fraction(30)
DEFAULT_CAPS = (
    f"video/x-raw,format={VIDEO_FORMAT},width={WIDTH},height={HEIGHT},"
    f"framerate={utils.fraction_to_str(FPS)}"
)
DEFAULT_PIPELINE = utils.to_gst_string(
    [
        f"appsrc emit-signals=True is-live=True caps={DEFAULT_CAPS}",
        "queue max-size-buffers=4",
        "videoconvert",
        "autovideosink",
    ]
)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "-p", "--pipeline", default=DEFAULT_PIPELINE, help="GStreamer pipeline without gst-launch"
    )
    ap.add_argument(
        "-n",
        "--num-buffers",
        "--num_buffers",
        dest="num_buffers",
        type=int,
        default=100,
        help="number of buffers to push",
    )
    return ap.parse_args(argv)


def random_frame(rng: np.random.Generator, layout: VideoLayout) -> np.ndarray:
    """A random frame of the layout's shape and dtype."""
    info = np.iinfo(layout.dtype)
    return rng.integers(info.min, info.max, size=layout.shape, dtype=layout.dtype, endpoint=True)


def running_time(appsrc: Any) -> int:
    """Where a live appsrc's stream starts: the pipeline's running time now (0 if not live).

    Timestamps of a live source are running times; starting at "now" keeps the first frames
    from arriving late at a synchronising sink.
    """
    clock = appsrc.get_clock()
    if not appsrc.get_property("is-live") or clock is None:
        return 0
    return max(0, int(clock.get_time() - appsrc.get_base_time()))


def describe_elements(pipeline: GstPipeline) -> str:
    """``name (factory)`` of every element, autovideosink's chosen sink included."""
    names = []
    for element in pipeline.get_by_cls(Gst.Element):
        factory = element.get_factory()
        kind = factory.get_name() if factory is not None else type(element).__name__
        names.append(f"{element.get_name()} ({kind})")
    return ", ".join(sorted(names))


def fps_reports(pipeline: GstPipeline) -> list[str]:
    """What each fpsdisplaysink measured (its ``last-message``)."""
    reports = []
    for element in pipeline.get_by_cls(Gst.Element):
        factory = element.get_factory()
        if factory is not None and factory.get_name() == "fpsdisplaysink":
            reports.append(f"{element.get_name()}: {element.get_property('last-message')}")
    return reports


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = args.pipeline
    settings: dict[str, Any] = {}

    def on_pipeline_init(self: GstPipeline) -> None:
        appsrc = self.get_by_cls(GstApp.AppSrc)[0]  # get AppSrc
        caps = appsrc.get_property("caps") or Gst.Caps.from_string(DEFAULT_CAPS)
        layout = layout_from_caps(caps)
        if not isinstance(layout, VideoLayout):
            raise GstError(f"appsrc caps must be raw video, got {caps.to_string()}")
        settings["layout"] = layout
        # instructs appsrc that we will be dealing with timed buffers
        appsrc.set_property("format", Gst.Format.TIME)
        # instructs appsrc to block pushing buffers until ones in queue are processed
        appsrc.set_property("block", True)
        appsrc.set_caps(caps)

    with GstContext():
        pipeline = GstPipeline(command)
        pipeline._on_pipeline_init = on_pipeline_init.__get__(pipeline)  # type: ignore[method-assign]
        try:
            pipeline.startup()
            print("elements:", describe_elements(pipeline), flush=True)
            appsrc = pipeline.get_by_cls(GstApp.AppSrc)[0]
            layout: VideoLayout = settings["layout"]
            fps = layout.fps if layout.fps else FPS
            rng = np.random.default_rng(0)
            pushed = 0
            start = 0
            for i in range(args.num_buffers):
                array = random_frame(rng, layout)
                gst_buffer = utils.ndarray_to_gst_buffer(array, layout)
                if i == 0:
                    start = running_time(appsrc)
                pts = start + i * Gst.SECOND * fps.denominator // fps.numerator
                gst_buffer.pts = pts
                gst_buffer.duration = (
                    start + (i + 1) * Gst.SECOND * fps.denominator // fps.numerator - pts
                )
                if appsrc.emit("push-buffer", gst_buffer) != Gst.FlowReturn.OK:
                    break  # the pipeline stopped; shutdown() below says why
                pushed += 1
            appsrc.emit("end-of-stream")
            while not pipeline.is_done:
                time.sleep(0.1)
            for report in fps_reports(pipeline):
                print(report, flush=True)
            print(f"pushed {pushed} buffers", flush=True)
        except GstError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
        finally:
            # sends EOS if it was not sent yet and waits for it, so files are finalised
            # (also after Ctrl+C)
            pipeline.shutdown(raise_errors=False)
        error = pipeline.error
        if error is not None:
            print(f"Error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    run_main(main)
