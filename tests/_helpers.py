"""Helpers shared by the tests (import them: ``from _helpers import ffprobe_stream``)."""

import contextlib
import os
import shutil
import subprocess
import time

import pytest

from gstreamer import _gi


def wait_for(condition, timeout=30.0, interval=0.02, what="the condition"):
    """Poll ``condition()`` until it is truthy (returned) or ``timeout`` passes (AssertionError).

    Deadlines are generous: the suite must pass on a busy machine.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)


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


class Passthrough:
    """``appsrc ! [middle !] appsink`` with fixed caps: push buffers, pull samples."""

    def __init__(self, caps: str, middle: str = "") -> None:
        Gst = _gi.Gst()
        mid = f"{middle} ! " if middle else ""
        self.pipeline = Gst.parse_launch(
            f"appsrc name=src format=time ! {mid}appsink name=sink sync=false"
        )
        self.src = self.pipeline.get_by_name("src")
        self.sink = self.pipeline.get_by_name("sink")
        self.src.set_property("caps", Gst.Caps.from_string(caps))
        assert self.pipeline.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE

    def push(self, buf) -> None:
        assert self.src.emit("push-buffer", buf) == _gi.Gst().FlowReturn.OK

    def pull(self):
        Gst = _gi.Gst()
        sample = self.sink.emit("try-pull-sample", 5 * Gst.SECOND)
        if sample is None:
            msg = self.pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
            detail = msg.parse_error() if msg else "no error on the bus"
            raise AssertionError(f"no sample came out: {detail}")
        return sample

    def roundtrip(self, buf):
        self.push(buf)
        return self.pull()

    def close(self) -> None:
        if self.pipeline is not None:
            self.pipeline.set_state(_gi.Gst().State.NULL)
        # appsink keeps its last sample until the pipeline is freed: drop our references
        self.pipeline = self.src = self.sink = None


def _free_display():
    for n in range(142, 400):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    pytest.skip("no free X display number")


@contextlib.contextmanager
def xvfb_display():
    """A private Xvfb server; yields its DISPLAY once its socket exists (or skips)."""
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed")
    for _attempt in range(5):  # another process may take the same number first
        n = _free_display()
        proc = subprocess.Popen(
            ["Xvfb", f":{n}", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not os.path.exists(f"/tmp/.X11-unix/X{n}") and proc.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if proc.poll() is None and os.path.exists(f"/tmp/.X11-unix/X{n}"):
            break
        proc.kill()
        proc.wait()
    else:
        pytest.fail("Xvfb did not start")
    try:
        yield f":{n}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
