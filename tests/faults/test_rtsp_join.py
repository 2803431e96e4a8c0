"""A client joining a running RTSP stream starts at a keyframe: no grey frames first."""

import contextlib
import re
import socket
import time
from collections.abc import Iterator

import pytest
from _helpers import feeding

from gstreamer import Reader
from gstreamer.streaming import RtspServer, rtsp_source

from ._probe import wait_until


@contextlib.contextmanager
def red_stream() -> Iterator[RtspServer]:
    """An RtspServer fed a red picture at 30 fps by a thread, until the block ends."""
    with RtspServer(160, 120, fps=30, port=0) as server, feeding(server, (220, 0, 0)):
        yield server


@pytest.mark.e2e
@pytest.mark.parametrize("late", [False, True])
def test_rtsp_joiners_first_frames_are_the_picture(late):
    with red_stream() as server:
        if late:  # a first client keeps the shared media running; the second joins late
            first = Reader(rtsp_source(server.url), timeout=20)
            first.read()
            time.sleep(1.4)  # mid-GOP
        with Reader(rtsp_source(server.url), timeout=20) as reader:
            means = [reader.read().data.reshape(-1, 3).mean(0) for _ in range(10)]
        if late:
            first.close()
        assert wait_until(lambda: server.clients == 0, 10)
    for i, (r, g, b) in enumerate(means):
        assert r > 180 and g < 60 and b < 60, (i, means)


def _request(sock: socket.socket, *lines: str) -> str:
    """Send one RTSP request; the response's head (its body, if any, is read and dropped)."""
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"Content-Length: *(\d+)", head)
    while length and len(body) < int(length.group(1)):
        body += sock.recv(4096)
    return head.decode()


@pytest.mark.e2e
def test_a_client_whose_play_fails_does_not_freeze_the_others():
    """The keyframe gate holds the stream back from a client's PLAY request until it plays;
    a PLAY refused after that (here: a bad Range) used to leave it held for good, and the
    clients already watching got no frame again."""
    with red_stream() as server, Reader(rtsp_source(server.url), timeout=20) as watcher:
        watcher.read()
        url = server.url
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            _request(sock, f"DESCRIBE {url} RTSP/1.0", "CSeq: 1")
            setup = _request(
                sock,
                f"SETUP {url}/stream=0 RTSP/1.0",
                "CSeq: 2",
                "Transport: RTP/AVP/TCP;unicast;interleaved=0-1",
            )
            session = re.search(r"Session: *([^;\r\n]+)", setup)
            assert session, setup
            play = _request(
                sock,
                f"PLAY {url} RTSP/1.0",
                "CSeq: 3",
                f"Session: {session.group(1)}",
                "Range: npt=abc",  # refused (400) after the PLAY request was seen
            )
            assert not play.startswith("RTSP/1.0 200"), play
            # frames keep coming to the first client (new ones: the reader's own
            # queue holds a few, so read well past it)
            for _ in range(60):
                frame = watcher.read()
                assert frame is not None
