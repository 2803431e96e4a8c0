"""A client joining a running RTSP stream starts at a keyframe: no grey frames first."""

import threading
import time

import numpy as np
import pytest

from gstreamer import Reader
from gstreamer.streaming import RtspServer, rtsp_source

from ._probe import wait_until


@pytest.mark.e2e
@pytest.mark.parametrize("late", [False, True])
def test_rtsp_joiners_first_frames_are_the_picture(late):
    red = np.zeros((120, 160, 3), np.uint8)
    red[..., 0] = 220
    stop = threading.Event()
    with RtspServer(160, 120, fps=30, port=0) as server:

        def feed():
            while not stop.is_set():
                server.push(red)
                time.sleep(1 / 30)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            if late:  # a first client keeps the shared media running; the second joins late
                first = Reader(rtsp_source(server.url), timeout=20)
                first.read()
                time.sleep(1.4)  # mid-GOP
            with Reader(rtsp_source(server.url), timeout=20) as reader:
                means = [reader.read().data.reshape(-1, 3).mean(0) for _ in range(10)]
            if late:
                first.close()
        finally:
            stop.set()
            feeder.join(5)
        assert wait_until(lambda: server.clients == 0, 10)
    for i, (r, g, b) in enumerate(means):
        assert r > 180 and g < 60 and b < 60, (i, means)
