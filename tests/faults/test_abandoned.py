"""Writers, Readers and servers dropped without close() are collected, and their files play."""

import gc
import socket
import weakref

import numpy as np
import pytest
from _helpers import frames_in

from gstreamer import Reader, Writer
from gstreamer.streaming import TcpServer

from ._probe import abandon_server, fds, threads, wait_until


def _abandon_writer(path, frames=10):
    writer = Writer(path, fps=30)
    for i in range(frames):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    return weakref.ref(writer)


def _settle():
    gc.collect()
    return threads(), fds()


@pytest.mark.e2e
def test_abandoned_writers_are_collected_and_their_files_play(tmp_path, caplog):
    _abandon_writer(tmp_path / "warm.mp4")  # load plugins and GStreamer's own threads
    t0, f0 = _settle()
    refs = [_abandon_writer(tmp_path / f"w{i}.mp4") for i in range(8)]
    gc.collect()
    assert sum(r() is not None for r in refs) == 0
    assert wait_until(lambda: threads() <= t0 and fds() <= f0, 10), (t0, threads(), f0, fds())
    assert [frames_in(tmp_path / f"w{i}.mp4") for i in range(8)] == [10] * 8
    assert "was not closed" in caplog.text  # the user is told to call close()


def test_a_dropped_writer_is_freed_by_reference_counting(tmp_path):
    # no reference cycle through the feeder or GStreamer callbacks: no gc needed
    gc.disable()
    try:
        ref = _abandon_writer(tmp_path / "a.mkv", frames=3)
        assert ref() is None
    finally:
        gc.enable()
    assert frames_in(tmp_path / "a.mkv") == 3


def test_a_closed_writer_has_no_finaliser_left(tmp_path):
    with Writer(tmp_path / "c.mp4", fps=30) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
    assert writer._finalizer is not None and not writer._finalizer.alive


def test_abandoned_reader_is_collected(tmp_path):
    reader = Reader("videotestsrc num-buffers=50 ! video/x-raw,width=64,height=48")
    next(reader)
    ref = weakref.ref(reader)
    t0 = threads()
    del reader
    gc.collect()
    assert ref() is None
    assert wait_until(lambda: threads() < t0, 10)


@pytest.mark.e2e
def test_abandoned_tcp_server_is_collected():
    t0, f0 = _settle()
    port = abandon_server(TcpServer)
    assert wait_until(lambda: threads() <= t0 and fds() <= f0, 10)
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


@pytest.mark.e2e
def test_abandoned_rtsp_server_is_collected():
    from gstreamer.streaming import RtspServer

    t0, _ = _settle()
    port = abandon_server(RtspServer)
    assert wait_until(lambda: threads() <= t0, 10)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
