"""Serving NumPy frames over the network: RTSP, TCP, HTTP (MJPEG) and UDP/RTP.

Each server is a small context-managed object: build it with the frame size, ``push()``
arrays of that size, ``close()`` it. Every server binds to ``127.0.0.1`` unless another host
is given, and port ``0`` picks a free port (read it back from ``.port`` / ``.url``).

==============  =====================================================  ==================
class           what a client sees                                     client example
==============  =====================================================  ==================
RtspServer      H.264 over RTSP, shared by all clients, optional auth  ``ffplay rtsp://…``
TcpServer       H.264 in MPEG-TS (or Matroska) over a TCP socket       ``ffplay tcp://…``
MjpegServer     ``multipart/x-mixed-replace`` JPEGs + an HTML page     a web browser
UdpSender       RTP (H.264 or JPEG) datagrams to one host:port         :func:`udp_source`
==============  =====================================================  ==================

:class:`HttpFolderServer` serves the files of a folder over HTTP: the HLS stream an
:class:`~gstreamer.HlsWriter` writes, for any HLS player.

The ``*_source`` functions return pipeline parts (ending in raw RGB video) that read those
streams back into a :class:`~gstreamer.Reader`.

Host names and mount points are checked against strict patterns, and other user values are
quoted, so they cannot add elements to a pipeline.

``push(frame, pts=None)`` takes ``pts`` in seconds, like every push in this package.

One module per protocol: :mod:`~gstreamer.streaming.rtsp`, :mod:`~gstreamer.streaming.tcp`,
:mod:`~gstreamer.streaming.mjpeg`, :mod:`~gstreamer.streaming.udp`; validation and the
``*_source`` parts in :mod:`~gstreamer.streaming.sources`; the shared lifecycle in
:mod:`~gstreamer.streaming._base`.
"""

from __future__ import annotations

from typing import Optional

from ..encoders import live_encoder
from ._base import Number, ServerOptions
from .hls import HttpFolderServer
from .mjpeg import MjpegServer
from .rtsp import RtspServer
from .sources import check_host, check_mount, check_port, rtsp_source, tcp_source, udp_source
from .tcp import TcpServer
from .udp import UdpSender

__all__ = [
    "HttpFolderServer",
    "MjpegServer",
    "RtspServer",
    "ServerOptions",
    "TcpServer",
    "UdpSender",
    "check_host",
    "check_mount",
    "check_port",
    "h264_encoder",
    "rtsp_source",
    "tcp_source",
    "udp_source",
]


def h264_encoder(fps: Number = 30, *, bitrate: Optional[int] = None) -> str:
    """A low-latency H.264 encoder part for live streaming (see
    :func:`gstreamer.encoders.live_encoder`)."""
    return live_encoder("h264", fps, bitrate=bitrate)
