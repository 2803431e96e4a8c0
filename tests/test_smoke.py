import subprocess
import sys

import numpy as np

from conftest import ffprobe_stream
from gstreamer import GstVideoSink, buffers


def test_import_has_no_side_effects():
    code = (
        "import sys, logging, gstreamer; "
        "assert 'gi.repository.Gst' not in sys.modules, 'Gst imported'; "
        "assert not logging.getLogger().handlers; "
        "assert not logging.getLogger('gstreamer').handlers; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_zero_copy_layer_is_reachable():
    assert buffers.zero_copy_available()


def test_video_sink_writes_complete_mp4(tmp_path):
    out = tmp_path / "v.mp4"
    cmd = (
        "appsrc ! videoconvert ! x264enc speed-preset=ultrafast ! mp4mux ! "
        f"filesink location={out}"
    )
    with GstVideoSink(cmd, width=64, height=48, fps=30) as sink:
        for i in range(30):
            sink.push(np.full((48, 64, 3), i, np.uint8))
    info = ffprobe_stream(out, "nb_read_frames", "r_frame_rate")
    assert info == {"r_frame_rate": "30/1", "nb_read_frames": "30"}
