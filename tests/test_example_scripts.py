"""The scripts in examples/ run as documented, checked by real clients."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from _helpers import count_frames, gst_launch, interrupt, run, started

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@contextlib.contextmanager
def serving(script: str, *args: str) -> Iterator[str]:
    """Run an example server; yield the URL it prints first, then expect a clean exit."""
    with started([sys.executable, str(EXAMPLES / "streaming" / script), *args]) as proc:
        first = proc.stdout.readline()
        match = re.search(r"\b(\w+://\S+)", first)
        assert match, (first, proc.stderr.read() if proc.poll() is not None else "")
        yield match.group(1)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err


def probe_h264(url: str, *options: str) -> None:
    """ffprobe (an independent client) finds an H.264 video stream at ``url``."""
    info = run(
        ["ffprobe", "-v", "error", *options, "-select_streams", "v:0", "-show_entries",
         "stream=codec_name", "-of", "default=noprint_wrappers=1", url],
        timeout=30,
    )  # fmt: skip
    assert info.returncode == 0, info.stderr
    assert "codec_name=h264" in info.stdout


def example(script: str, *args: str, **options) -> subprocess.CompletedProcess[str]:
    """Run ``examples/SCRIPT ARGS`` to its end (as the README says: with the venv's Python)."""
    return run([sys.executable, str(EXAMPLES / script), *args], **options)


def test_read_video_example_reads_a_test_pattern():
    proc = example("read_video.py", "videotestsrc num-buffers=20")
    assert proc.returncode == 0, proc.stderr
    assert "20 frames, 320x240 at 30 fps" in proc.stdout


def test_read_video_example_reads_a_file(tmp_path):
    clip = tmp_path / "clip.mkv"
    gst_launch(
        "videotestsrc num-buffers=15 ! video/x-raw,width=160,height=120 ! x264enc ! "
        f"matroskamux ! filesink location={clip}"
    )
    proc = example("read_video.py", str(clip), "--format", "GRAY8")
    assert proc.returncode == 0, proc.stderr
    assert "(120, 160)" in proc.stdout
    assert "15 frames, 160x120" in proc.stdout


def test_tcp_server_example_is_read_by_ffprobe():
    with serving("tcp_server.py", "--port", "0", "--seconds", "6") as url:
        probe_h264(url)


def test_rtsp_server_example_with_password_is_read_by_ffprobe():
    args = ("--port", "0", "--seconds", "6", "--user", "me", "--password", "pw")
    with serving("rtsp_server.py", *args) as url:
        probe_h264(url.replace("rtsp://", "rtsp://me:pw@"), "-rtsp_transport", "tcp")


def test_http_mjpeg_example_serves_a_page_and_jpeg_frames():
    with serving("http_mjpeg.py", "--port", "0", "--seconds", "4") as url:
        with urllib.request.urlopen(url, timeout=10) as page:
            assert b"<img" in page.read()
        with urllib.request.urlopen(url.rstrip("/") + "/stream.mjpg", timeout=10) as stream:
            assert stream.headers.get_content_type() == "multipart/x-mixed-replace"
            assert b"\xff\xd8" in stream.read(64 * 1024)  # a JPEG start-of-image marker


def test_display_example_runs_under_xvfb(xvfb):
    proc = example(
        "streaming/display.py", "-n", "20", timeout=120, env=dict(os.environ, DISPLAY=xvfb)
    )
    assert proc.returncode == 0, proc.stderr


def test_record_example_writes_a_playable_file(tmp_path):
    out = tmp_path / "rec.mp4"
    proc = example("streaming/record.py", "-o", str(out), "-n", "12")
    assert proc.returncode == 0, proc.stderr
    assert count_frames(out) == 12


@pytest.mark.parametrize("script", ["http_mjpeg.py", "tcp_server.py", "rtsp_server.py"])
def test_server_examples_exit_cleanly_on_ctrl_c(script):
    """SIGINT (what Ctrl-C sends) while serving: exit code 130, a one-line note, no traceback."""
    cmd = [sys.executable, str(EXAMPLES / "streaming" / script), "--port", "0", "--seconds", "60"]
    with started(cmd) as proc:
        first = proc.stdout.readline()  # it is running
        assert first, proc.stderr.read() if proc.poll() is not None else "no output"
        _, err = interrupt(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().endswith("stopped (Ctrl-C)"), err
