"""Validating user values for network pipelines, and the pipeline parts that read streams.

Host names and mount points are checked against strict patterns, and other user values are
quoted, so they cannot add elements to a pipeline. The ``*_source`` functions return
pipeline parts (ending in raw RGB video) for :class:`~gstreamer.Reader` or the seed's
``GstVideoSource`` (append ``! appsink``).
"""

from __future__ import annotations

import re
import socket
from typing import Optional

import numpy as np

from ..errors import ArgumentError
from ..pipeline import quote

__all__ = [
    "check_host",
    "check_mount",
    "bind_reason",
    "check_port",
    "rtsp_source",
    "tcp_source",
    "udp_source",
    "url_host",
]

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$")
_MOUNT_RE = re.compile(r"^(?:/[A-Za-z0-9._~-]+)+$")


def check_host(host: str) -> str:
    """Return ``host`` if it is a plain host name, IPv4 or IPv6 address.

    Raises
    ------
    ValueError
        For anything else (spaces, quotes, ``!`` ...), so it cannot alter a pipeline.
    """
    if not isinstance(host, str) or len(host) > 253 or not _HOST_RE.fullmatch(host):
        raise ArgumentError(
            f"invalid host {host!r}: use a host name or an IP address such as 127.0.0.1"
        )
    return host


def check_port(port: int) -> int:
    """Return ``port`` as an int if it is in 0..65535 (0 picks a free port)."""
    if isinstance(port, bool) or not isinstance(port, (int, np.integer)):
        raise ArgumentError(f"invalid port {port!r}: must be an integer")
    if not 0 <= int(port) <= 65535:
        raise ArgumentError(f"invalid port {port}: must be between 0 and 65535")
    return int(port)


def check_mount(mount: str) -> str:
    """Return ``mount`` if it is an RTSP mount point such as ``/stream`` or ``/cam/1``."""
    if not isinstance(mount, str) or not _MOUNT_RE.fullmatch(mount):
        raise ArgumentError(
            f"invalid mount {mount!r}: use '/' followed by letters, digits, '.', '_', '~' "
            "or '-' (for example /stream)"
        )
    return mount


def url_host(host: str) -> str:
    """``host`` as written in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host else host


def bind_reason(host: str, port: int, kind: int = socket.SOCK_STREAM) -> str:
    """Why ``host:port`` cannot be bound (``os.strerror``), found by trying it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as GIO does
            probe.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return "Address already in use"  # free again by now: it was taken when we tried


def _raw_rgb_tail() -> str:
    return "videoconvert ! video/x-raw,format=RGB"


def tcp_source(host: str, port: int, *, container: str = "mpegts") -> str:
    """Pipeline part reading a :class:`TcpServer` stream as raw RGB video."""
    demux = {"mpegts": "tsdemux", "matroska": "matroskademux"}
    if container not in demux:
        raise ArgumentError(f"container must be one of {sorted(demux)}, got {container!r}")
    return (
        f"tcpclientsrc host={check_host(host)} port={check_port(port)} ! "
        f"{demux[container]} ! h264parse ! decodebin ! {_raw_rgb_tail()}"
    )


def rtsp_source(
    url: str,
    *,
    user: Optional[str] = None,
    password: Optional[str] = None,
    latency: int = 100,
    tcp: bool = True,
) -> str:
    """Pipeline part reading an RTSP URL (for example an :class:`RtspServer`) as RGB video."""
    if not url.startswith(("rtsp://", "rtsps://")):
        raise ArgumentError(f"not an RTSP URL: {url!r}")
    part = f"rtspsrc location={quote(url)} latency={int(latency)}"
    if tcp:
        part += " protocols=tcp"
    if user is not None:
        part += f" user-id={quote(user)}"
    if password is not None:
        part += f" user-pw={quote(password)}"
    return f"{part} ! decodebin ! {_raw_rgb_tail()}"


RTP_CAPS = {
    "h264": (
        "application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96",
        "rtph264depay ! h264parse ! decodebin",
    ),
    "jpeg": (
        "application/x-rtp,media=video,encoding-name=JPEG,clock-rate=90000,payload=26",
        "rtpjpegdepay ! jpegdec",
    ),
}


def udp_source(
    port: int, *, codec: str = "h264", address: str = "127.0.0.1", latency: int = 50
) -> str:
    """Pipeline part receiving a :class:`UdpSender` stream (RTP) as raw RGB video."""
    if codec not in RTP_CAPS:
        raise ArgumentError(f"codec must be one of {sorted(RTP_CAPS)}, got {codec!r}")
    caps, depay = RTP_CAPS[codec]
    return (
        # reuse=false: a port another receiver holds is an error, not a shared port
        f"udpsrc address={check_host(address)} port={check_port(port)} reuse=false "
        f"caps={quote(caps)} ! "
        f"rtpjitterbuffer latency={int(latency)} ! {depay} ! {_raw_rgb_tail()}"
    )
