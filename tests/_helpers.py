"""Helpers shared by the tests (and by two benchmarks): subprocesses that always end,
ffprobe/ffmpeg/gst-launch as independent checkers, waits with deadlines, small pipelines.

Import them: ``from _helpers import ffprobe_stream``.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from gstreamer import _gi

# What the seed tutorial's pipeline writes (RGB 640x480 at 30/1 into x264enc ! mp4mux), as
# ffprobe_stream(path, "codec_name", "width", "height", "r_frame_rate") reports it.
TUTORIAL_VIDEO = {"codec_name": "h264", "width": "640", "height": "480", "r_frame_rate": "30/1"}


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


def run(cmd, timeout=60, **options):
    """Run ``cmd`` to its end with text output captured (exit code not checked)."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **options)


def in_thread(fn):
    """Start ``fn()`` in a daemon thread; return the thread and a list that will hold what
    ``fn`` raised (empty while it runs or when it returned)."""
    errors = []

    def target():
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, errors


def ffprobe(target, *args, check=True):
    """stdout of ``ffprobe -v error ARGS TARGET`` (an independent checker; a file or a URL)."""
    assert shutil.which("ffprobe"), "ffprobe is required (apt-get install ffmpeg)"
    cmd = ["ffprobe", "-v", "error", *args, os.fspath(target)]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120).stdout


def ffprobe_stream(path, *entries):
    """Run ffprobe (an independent checker) and return the first video stream's entries."""
    fields = ",".join(entries)
    out = ffprobe(
        path, "-count_frames", "-select_streams", "v:0", "-show_entries", f"stream={fields}",
        "-of", "default=noprint_wrappers=1",
    )  # fmt: skip
    return dict(line.split("=", 1) for line in out.strip().splitlines())


def count_frames(target):
    """Video frames ffprobe decodes from ``target`` (a file or a URL); fails if it cannot."""
    return int(ffprobe_stream(target, "nb_read_frames")["nb_read_frames"])


def frames_in(target):
    """Video frames ffprobe decodes from ``target``; -1 when it does not play at all.

    For files that may be broken on purpose (killed writers): where :func:`count_frames`
    would fail, this answers.
    """
    out = ffprobe(
        target, "-count_frames", "-select_streams", "v:0", "-show_entries",
        "stream=nb_read_frames", "-of", "csv=p=0", check=False,
    )  # fmt: skip
    text = out.strip().split(",")[0]
    return int(text) if text.isdigit() else -1


def ffmpeg(*args, input=None, timeout=120):
    """stdout (bytes) of ``ffmpeg -v error ARGS`` fed ``input`` (bytes); raises if it fails."""
    assert shutil.which("ffmpeg"), "ffmpeg is required (apt-get install ffmpeg)"
    cmd = ["ffmpeg", "-v", "error", *args]
    return subprocess.run(cmd, input=input, check=True, capture_output=True, timeout=timeout).stdout


def gst_launch(description, timeout=60):
    """Run ``gst-launch-1.0 -q DESCRIPTION`` to its end (split at white space, as a shell
    would split it unquoted: no spaces inside a property or a path)."""
    assert shutil.which("gst-launch-1.0"), "gst-launch-1.0 is required (gstreamer1.0-tools)"
    subprocess.run(["gst-launch-1.0", "-q", *description.split()], check=True, timeout=timeout)


@contextlib.contextmanager
def started(cmd, **options):
    """Start ``cmd`` (text pipes for stdout and stderr unless ``options`` say otherwise); kill
    it on the way out if it still runs.

    ``with started([...]) as proc:`` never leaves a process behind, whatever fails inside.
    """
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    proc = subprocess.Popen(cmd, **{**pipes, **options})
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def interrupt(proc, timeout=60):
    """Send SIGINT (what Ctrl-C sends) and wait for the process to end: (stdout, stderr)."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=timeout)


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


@contextlib.contextmanager
def feeding(server, color, fps: float = 30.0):
    """Push solid frames from a thread until the block ends; re-raise its error."""
    stop = threading.Event()
    errors: list[BaseException] = []
    frame = np.empty((server.height, server.width, 3), np.uint8)
    frame[...] = color

    def run() -> None:
        try:
            while not stop.is_set():
                server.push(frame)
                time.sleep(1.0 / fps)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield errors
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    if errors:
        raise errors[0]
