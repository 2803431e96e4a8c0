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


@contextlib.contextmanager
def xvfb_display():
    """A private Xvfb server; yields its DISPLAY once it accepts connections (or skips).

    ``-displayfd`` makes Xvfb pick a free display number itself and write it to a pipe once it
    is ready, so neither a race for a number nor a slow start on a busy machine can hurt.
    """
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        # -noreset: without it the server resets when its last client leaves (autovideosink
        # probes xvimagesink first), and a client connecting during the reset is refused
        [
            *("Xvfb", "-displayfd", str(write_fd), "-noreset", "-nolisten", "tcp"),
            *("-screen", "0", "1280x720x24"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_fd,),
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as ready:
            number = ready.readline().strip()  # written when the server is ready
        if not number or proc.poll() is not None:
            pytest.fail(f"Xvfb did not start (exit code {proc.poll()})")
        yield f":{number}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
