"""Every exception the library raises derives from GstError, with the builtin kept."""

import numpy as np
import pytest

import gstreamer
from gstreamer import ArgumentError, ArgumentTypeError, GstError, Reader, Writer
from gstreamer.streaming import MjpegServer, TcpServer, UdpSender, check_host


@pytest.mark.parametrize(
    "call, builtin",
    [
        (lambda: Writer("x.unknownext"), ValueError),
        (lambda: Writer("out.wav"), ValueError),
        (lambda: Writer("out.mp4", backpressure="sometimes"), ValueError),
        (lambda: Reader(42), TypeError),
        (lambda: Reader(""), ValueError),
        (lambda: check_host("1.2.3.4 ! fakesink"), ValueError),
        (lambda: TcpServer(64, 48, port=70000), ValueError),
        (lambda: TcpServer(64, 48, container="avi"), ValueError),
        (lambda: MjpegServer(64, 48, idle_timeout=0), ValueError),
        (lambda: UdpSender(64, 48, port=0), ValueError),
        (
            lambda: Writer("out.mp4", fps=30).write(np.zeros((4, 4, 3), np.uint8), pts=-1),
            ValueError,
        ),
        (lambda: gstreamer.MuxWriter("out.mp4", video={"colour": 1}), TypeError),
    ],
)
def test_errors_are_gst_errors_and_builtins(call, builtin, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GstError) as info:
        call()
    assert isinstance(info.value, builtin)
    assert isinstance(info.value, (ArgumentError, ArgumentTypeError, gstreamer.CapsError))


def test_unknown_writer_extension_names_the_known_ones():
    with pytest.raises(ArgumentError, match=r"\.mp4"):
        Writer("clip.xyz")
