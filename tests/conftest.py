import os
import shutil
import subprocess

import pytest

from gstreamer import _gi


@pytest.fixture(scope="session", autouse=True)
def _gst():
    return _gi.ensure_init()


def ffprobe_stream(path, *entries):
    """Run ffprobe (an independent checker) and return the first video stream's entries."""
    assert shutil.which("ffprobe"), "ffprobe is required (apt-get install ffmpeg)"
    fields = ",".join(entries)
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            f"stream={fields}",
            "-of",
            "default=noprint_wrappers=1",
            os.fspath(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.strip().splitlines())
