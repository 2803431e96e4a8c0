"""The appsrc tutorial's code, pasted verbatim, runs against this package.

The blog post ("How to use Gstreamer AppSrc in Python", /work/shared/seed/appsrc-tutorial.txt)
shows its script in snippets; they are assembled below in the post's order. Only the
constants the post leaves to the reader (sizes, NUM_BUFFERS, the command) are filled in, with
the post's third pipeline (x264enc ! mp4mux ! filesink) so the result can be checked.
"""

import subprocess
import sys
import textwrap

import pytest
from _helpers import TUTORIAL_VIDEO, ffprobe_stream

NUM_BUFFERS = 30

SETUP = f"""
import time
import numpy as np

from gstreamer import GstContext, GstPipeline, GstApp, Gst, GstVideo
import gstreamer.utils as utils

WIDTH, HEIGHT, CHANNELS = 640, 480, 3
NUM_BUFFERS = {NUM_BUFFERS}
DTYPE = np.uint8
FPS = 30

CAPS = "video/x-raw,format=RGB,width=640,height=480,framerate=30/1"
command = "appsrc emit-signals=True is-live=True \\
caps=video/x-raw,format=RGB,width=640,height=480,framerate=30/1 ! \\
 queue max-size-buffers=4 ! videoconvert ! \\
x264enc pass=quant tune=zerolatency ! mp4mux !\\
 filesink location=video.mp4"
"""

# Step by step, as the post builds it up (on_pipeline_init, startup, pts/duration, is_done).
BLOG = (
    SETUP
    + '''
def ndarray_to_gst_buffer(array: np.ndarray) -> Gst.Buffer:
    """Converts numpy array to Gst.Buffer"""
    return Gst.Buffer.new_wrapped(array.tobytes())

with GstContext():
    pipeline = GstPipeline(command)

    def on_pipeline_init(self):
        appsrc = self.get_by_cls(GstApp.AppSrc)[0]
        appsrc.set_property("format", Gst.Format.TIME)
        appsrc.set_property("block", True)
        appsrc.set_caps(Gst.Caps.from_string(CAPS))

    pipeline._on_pipeline_init = on_pipeline_init.__get__(pipeline)

    pipeline.startup()

    appsrc = pipeline.get_by_cls(GstApp.AppSrc)[0]  # get AppSrc

    pts = 0  # buffers presentation timestamp
    duration = 10**9 / FPS  # frame duration

    for _ in range(NUM_BUFFERS):
        array = np.random.randint(low=0, high=255, \\
                                  size=(HEIGHT, WIDTH, CHANNELS),\\
                                  dtype=DTYPE)

        gst_buffer = utils.ndarray_to_gst_buffer(array)

        pts += duration
        gst_buffer.pts = pts
        gst_buffer.duration = duration

        appsrc.emit("push-buffer", gst_buffer)

    appsrc.emit("end-of-stream")

    while not pipeline.is_done:
        time.sleep(.1)

    pipeline.shutdown()
'''
)

# The compact form of the original script: configured after startup inside `with` (the
# post warns against that; it works here because an appsrc with raw caps defaults to TIME),
# with the pts/duration lines the post adds for timed sinks.
ORIGINAL = (
    SETUP
    + """
with GstContext():
    with GstPipeline(command) as pipeline:
        appsrc = pipeline.get_by_cls(GstApp.AppSrc)[0]
        appsrc.set_property("format", Gst.Format.TIME)
        appsrc.set_caps(Gst.Caps.from_string(CAPS))
        pts = 0
        duration = 10**9 / FPS
        for _ in range(NUM_BUFFERS):
            array = np.random.randint(low=0, high=255, size=(HEIGHT, WIDTH, CHANNELS), dtype=DTYPE)
            gst_buffer = utils.ndarray_to_gst_buffer(array)
            pts += duration
            gst_buffer.pts = pts
            gst_buffer.duration = duration
            appsrc.emit("push-buffer", gst_buffer)
        appsrc.emit("end-of-stream")
"""
)


@pytest.mark.e2e
@pytest.mark.parametrize("script", [BLOG, ORIGINAL], ids=["blog-step-by-step", "original-with"])
def test_tutorial_script_writes_a_complete_mp4(tmp_path, script):
    path = tmp_path / "tutorial.py"
    path.write_text(textwrap.dedent(script))
    out = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "CRITICAL" not in out.stderr, out.stderr
    info = ffprobe_stream(
        tmp_path / "video.mp4", "codec_name", "width", "height", "nb_read_frames", "r_frame_rate"
    )
    assert info == {**TUTORIAL_VIDEO, "nb_read_frames": str(NUM_BUFFERS)}
