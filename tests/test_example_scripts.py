"""The scripts in examples/ run as documented, checked by real clients."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from _helpers import ffprobe_stream

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def start(script: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Start an example server; return it and the URL it prints first."""
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "streaming" / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"\b(\w+://\S+)", first)
    assert match, (first, proc.stderr.read() if proc.poll() is not None else "")
    return proc, match.group(1)


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out


def test_read_video_example_reads_a_test_pattern():
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "read_video.py"), "videotestsrc num-buffers=20"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "20 frames, 320x240 at 30 fps" in proc.stdout


def test_read_video_example_reads_a_file(tmp_path):
    clip = tmp_path / "clip.mkv"
    subprocess.run(
        [
            "gst-launch-1.0", "-q", "videotestsrc", "num-buffers=15", "!",
            "video/x-raw,width=160,height=120", "!", "x264enc", "!", "matroskamux", "!",
            "filesink", f"location={clip}",
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "read_video.py"), str(clip), "--format", "GRAY8"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "(120, 160)" in proc.stdout
    assert "15 frames, 160x120" in proc.stdout


def test_tcp_server_example_is_read_by_ffprobe():
    proc, url = start("tcp_server.py", "--port", "0", "--seconds", "6")
    try:
        info = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "stream=codec_name,width,height", "-of", "default=noprint_wrappers=1", url],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert info.returncode == 0, info.stderr
        assert "codec_name=h264" in info.stdout
    finally:
        finish(proc)


def test_rtsp_server_example_with_password_is_read_by_ffprobe():
    proc, url = start(
        "rtsp_server.py", "--port", "0", "--seconds", "6", "--user", "me", "--password", "pw"
    )
    try:
        authed = url.replace("rtsp://", "rtsp://me:pw@")
        info = subprocess.run(
            ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
             "-show_entries", "stream=codec_name", "-of", "default=noprint_wrappers=1", authed],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert info.returncode == 0, info.stderr
        assert "codec_name=h264" in info.stdout
    finally:
        finish(proc)


def test_http_mjpeg_example_serves_a_page_and_jpeg_frames():
    proc, url = start("http_mjpeg.py", "--port", "0", "--seconds", "4")
    try:
        with urllib.request.urlopen(url, timeout=10) as page:
            assert b"<img" in page.read()
        with urllib.request.urlopen(url.rstrip("/") + "/stream.mjpg", timeout=10) as stream:
            assert stream.headers.get_content_type() == "multipart/x-mixed-replace"
            assert b"\xff\xd8" in stream.read(64 * 1024)  # a JPEG start-of-image marker
    finally:
        finish(proc)


def test_display_example_runs_under_xvfb(xvfb):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "streaming" / "display.py"), "-n", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, DISPLAY=xvfb),
    )
    assert proc.returncode == 0, proc.stderr


def test_record_example_writes_a_playable_file(tmp_path):
    out = tmp_path / "rec.mp4"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "streaming" / "record.py"), "-o", str(out), "-n", "12"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert ffprobe_stream(out, "nb_read_frames")["nb_read_frames"] == "12"


@pytest.mark.parametrize("script", ["http_mjpeg.py", "tcp_server.py", "rtsp_server.py"])
def test_server_examples_exit_cleanly_on_ctrl_c(script):
    """SIGINT (what Ctrl-C sends) while serving: exit code 130, a one-line note, no traceback."""
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "streaming" / script), "--port", "0", "--seconds", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # it is running
        assert first, proc.stderr.read() if proc.poll() is not None else "no output"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().endswith("stopped (Ctrl-C)"), err
