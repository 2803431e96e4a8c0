"""close(timeout=) returns within about a second of the timeout, even with an element stuck."""

import time

import numpy as np
import pytest

from gstreamer import Reader, TimeoutError, Writer

# identity sleeps 20 s in its chain function: the streaming thread is stuck inside it
STUCK = "identity sleep-time=20000000 ! fakesink"
CAPS = "video/x-raw,format=GRAY8,width=8,height=8,framerate=30/1"


@pytest.mark.e2e
@pytest.mark.parametrize("timeout", [0.5, 2.0])
def test_writer_close_timeout_is_honoured_with_a_stuck_element(timeout):
    writer = Writer(STUCK, caps=CAPS, timeout=30)
    writer.write(np.zeros((8, 8), np.uint8))
    time.sleep(0.2)  # the buffer is inside identity now
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        writer.close(timeout=timeout)
    assert time.monotonic() - start < timeout + 1.0
    assert writer.closed
    writer.close()  # idempotent


@pytest.mark.e2e
def test_reader_close_timeout_is_honoured_with_a_stuck_element():
    reader = Reader(f"videotestsrc ! {CAPS} ! identity sleep-time=20000000 ! appsink", timeout=30)
    time.sleep(0.3)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        reader.close(timeout=1.0)
    assert time.monotonic() - start < 2.0


def test_healthy_close_is_quick_and_quiet(tmp_path):
    with Writer(tmp_path / "a.mkv", fps=30) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
    start = time.monotonic()
    writer.close(timeout=0.01)  # already closed: no-op
    assert time.monotonic() - start < 0.1
