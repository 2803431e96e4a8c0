"""The tutorial's example scripts, run as subprocesses; files checked with ffprobe."""

import os
import re
import sys
import time
from pathlib import Path

import pytest
from _helpers import TUTORIAL_VIDEO, ffprobe_stream, interrupt, run, started

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "launch_pipeline"
RUN_APPSRC = EXAMPLES / "run_appsrc.py"
RUN_APPSINK = EXAMPLES / "run_appsink.py"

CAPS = "video/x-raw,format=RGB,width=640,height=480,framerate=30/1"
HEAD = (
    f"appsrc emit-signals=True is-live=True caps={CAPS} ! queue max-size-buffers=4 ! videoconvert"
)


def run_script(script, *args, cwd, timeout=120):
    return run([sys.executable, str(script), *args], cwd=cwd, timeout=timeout)


def test_run_appsrc_writes_video_file(tmp_path):
    """The post's third run: x264enc pass=quant tune=zerolatency ! mp4mux ! filesink."""
    pipeline = (
        f"{HEAD} ! x264enc pass=quant tune=zerolatency ! mp4mux ! filesink location=video.mp4"
    )
    out = run_script(RUN_APPSRC, "-p", pipeline, "-n", "30", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "pushed 30 buffers" in out.stdout
    info = ffprobe_stream(
        tmp_path / "video.mp4", "codec_name", "width", "height", "nb_read_frames", "r_frame_rate"
    )
    assert info == {**TUTORIAL_VIDEO, "nb_read_frames": "30"}


def test_run_appsrc_live_stream_measures_30_fps(tmp_path):
    """The post's second run: fpsdisplaysink on a live 30/1 stream reports ~30 fps.

    The number asserted is fpsdisplaysink's own average (from sink-synchronised rendering
    of pts computed from the framerate), with the issue's ±1.5 fps tolerance.
    """
    pipeline = f"{HEAD} ! fpsdisplaysink text-overlay=false video-sink=fakesink"
    out = run_script(RUN_APPSRC, "-p", pipeline, "-n", "150", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "pushed 150 buffers" in out.stdout
    match = re.search(
        r"rendered: (\d+), dropped: (\d+), current: ([\d.]+), average: ([\d.]+)", out.stdout
    )
    assert match, out.stdout
    rendered, dropped, average = int(match[1]), int(match[2]), float(match[4])
    assert rendered >= 100
    assert dropped == 0
    assert abs(average - 30.0) <= 1.5, out.stdout


@pytest.mark.parametrize("fmt", ["I420", "GRAY16_LE", "BGRx", "NV12"])
def test_run_appsrc_any_raw_format(tmp_path, fmt):
    caps = f"video/x-raw,format={fmt},width=64,height=48,framerate=25/1"
    pipeline = (
        f"appsrc caps={caps} ! videoconvert ! x264enc speed-preset=ultrafast ! mp4mux ! "
        "filesink location=out.mp4"
    )
    out = run_script(RUN_APPSRC, "--pipeline", pipeline, "--num-buffers", "10", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    info = ffprobe_stream(tmp_path / "out.mp4", "width", "height", "nb_read_frames", "r_frame_rate")
    assert info == {"width": "64", "height": "48", "r_frame_rate": "25/1", "nb_read_frames": "10"}


def test_run_appsrc_reports_errors_with_exit_code(tmp_path):
    out = run_script(RUN_APPSRC, "-p", "appsrc ! nosuchelement123 ! fakesink", cwd=tmp_path)
    assert out.returncode == 1
    assert "no element 'nosuchelement123'" in out.stderr
    bad_caps = (
        "appsrc caps=video/x-raw,format=RGB,width=64,height=48,framerate=30/1 ! "
        "video/x-raw,format=GRAY8 ! fakesink"
    )
    out = run_script(RUN_APPSRC, "-p", bad_caps, "-n", "20", cwd=tmp_path)
    assert out.returncode == 1
    assert "not-negotiated" in out.stderr
    assert "videoconvert" in out.stderr  # the hint


def test_run_appsrc_ctrl_c_still_finalises_the_file(tmp_path):
    pipeline = (
        "appsrc is-live=True caps=video/x-raw,format=RGB,width=160,height=120,framerate=30/1 ! "
        "queue max-size-buffers=4 ! videoconvert ! "
        "x264enc speed-preset=ultrafast tune=zerolatency ! mp4mux ! filesink location=video.mp4"
    )
    cmd = [sys.executable, str(RUN_APPSRC), "-p", pipeline, "-n", "100000"]
    with started(cmd, cwd=tmp_path) as proc:
        assert proc.stdout.readline().startswith("elements:")
        time.sleep(1.0)  # about 30 frames at the live rate
        _, err = interrupt(proc)
    assert proc.returncode == 130, err  # interrupted, and says so without a traceback
    assert "stopped (Ctrl-C)" in err and "Traceback" not in err
    info = ffprobe_stream(tmp_path / "video.mp4", "nb_read_frames", "r_frame_rate")
    assert info["r_frame_rate"] == "30/1"
    assert int(info["nb_read_frames"]) > 0


def test_run_appsink_pops_all_buffers(tmp_path):
    out = run_script(RUN_APPSINK, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Got: 50 buffers" in out.stdout
    assert "shape: (480, 640, 3), dtype: uint8" in out.stdout
    assert "pts: first 0, last 1633333333, duration 33333333" in out.stdout


def test_run_appsink_custom_pipeline(tmp_path):
    pipeline = (
        "videotestsrc num-buffers=7 ! video/x-raw,format=GRAY8,width=318,height=238 ! "
        "queue ! appsink"
    )
    out = run_script(RUN_APPSINK, "-p", pipeline, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Got: 7 buffers" in out.stdout
    assert "shape: (238, 318), dtype: uint8" in out.stdout
    out = run_script(RUN_APPSINK, "-p", "videotestsrc ! fakesink", cwd=tmp_path)
    assert out.returncode == 1
    assert "exactly one appsink" in out.stderr


def test_examples_exist_and_are_scripts():
    for script in (RUN_APPSRC, RUN_APPSINK):
        text = script.read_text()
        assert 'if __name__ == "__main__":' in text
        assert "from gstreamer import" in text
    assert os.access(RUN_APPSRC, os.R_OK)
