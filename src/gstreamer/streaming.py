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

The ``*_source`` functions return pipeline parts (ending in raw RGB video) that read those
streams back, for :class:`~gstreamer.GstVideoSource` (append ``! appsink``) or the Reader.

Host names and mount points are checked against strict patterns, and other user values are
quoted, so they cannot add elements to a pipeline.
"""

from __future__ import annotations

import http.server
import logging
import re
import socket
import threading
import time
from fractions import Fraction
from types import TracebackType
from typing import Any, Optional, Union

import numpy as np

from . import _gi
from .appsink import AppSinkPuller
from .appsrc import AppSrcFeeder, GstVideoSink
from .caps import layout_from_caps
from .context import GstContext, main_loop_running
from .errors import (
    ClosedError,
    GstError,
    LifecycleError,
    MissingElementError,
    PipelineError,
    TimeoutError,
    from_gerror,
    package_for,
)
from .pipeline import quote

__all__ = [
    "MjpegServer",
    "RtspServer",
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

log = logging.getLogger("gstreamer.streaming")

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$")
_MOUNT_RE = re.compile(r"^(?:/[A-Za-z0-9._~-]+)+$")

Number = Union[int, float, Fraction]


def check_host(host: str) -> str:
    """Return ``host`` if it is a plain host name, IPv4 or IPv6 address.

    Raises
    ------
    ValueError
        For anything else (spaces, quotes, ``!`` ...), so it cannot alter a pipeline.
    """
    if not isinstance(host, str) or len(host) > 253 or not _HOST_RE.fullmatch(host):
        raise ValueError(
            f"invalid host {host!r}: use a host name or an IP address such as 127.0.0.1"
        )
    return host


def check_port(port: int) -> int:
    """Return ``port`` as an int if it is in 0..65535 (0 picks a free port)."""
    if isinstance(port, bool) or not isinstance(port, (int, np.integer)):
        raise ValueError(f"invalid port {port!r}: must be an integer")
    if not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid port {port}: must be between 0 and 65535")
    return int(port)


def check_mount(mount: str) -> str:
    """Return ``mount`` if it is an RTSP mount point such as ``/stream`` or ``/cam/1``."""
    if not isinstance(mount, str) or not _MOUNT_RE.fullmatch(mount):
        raise ValueError(
            f"invalid mount {mount!r}: use '/' followed by letters, digits, '.', '_', '~' "
            "or '-' (for example /stream)"
        )
    return mount


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _element_exists(name: str) -> bool:
    Gst = _gi.Gst()
    return Gst.ElementFactory.find(name) is not None


def h264_encoder(fps: Number = 30, *, bitrate: Optional[int] = None) -> str:
    """A low-latency H.264 encoder part (x264enc, else openh264enc) for live streaming.

    Parameters
    ----------
    fps : int, float or Fraction
        Frame rate; a keyframe is forced every second so late clients start quickly.
    bitrate : int, optional
        Target bit rate in kbit/s.

    Raises
    ------
    MissingElementError
        When neither encoder is installed.
    """
    gop = max(1, round(float(fps)))
    if _element_exists("x264enc"):
        part = f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bframes=0"
        if bitrate:
            part += f" bitrate={int(bitrate)}"
        return part + " ! video/x-h264,profile=constrained-baseline"
    if _element_exists("openh264enc"):
        part = f"openh264enc gop-size={gop} complexity=low"
        if bitrate:
            part += f" bitrate={int(bitrate) * 1000}"
        return part
    packages = [p for p in (package_for("x264enc"), package_for("openh264enc")) if p]
    raise MissingElementError(
        "no H.264 encoder: x264enc or openh264enc is needed",
        elements=["x264enc", "openh264enc"],
        packages=packages,
    )


def _raw_rgb_tail() -> str:
    return "videoconvert ! video/x-raw,format=RGB"


def tcp_source(host: str, port: int, *, container: str = "mpegts") -> str:
    """Pipeline part reading a :class:`TcpServer` stream as raw RGB video."""
    demux = {"mpegts": "tsdemux", "matroska": "matroskademux"}
    if container not in demux:
        raise ValueError(f"container must be one of {sorted(demux)}, got {container!r}")
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
        raise ValueError(f"not an RTSP URL: {url!r}")
    part = f"rtspsrc location={quote(url)} latency={int(latency)}"
    if tcp:
        part += " protocols=tcp"
    if user is not None:
        part += f" user-id={quote(user)}"
    if password is not None:
        part += f" user-pw={quote(password)}"
    return f"{part} ! decodebin ! {_raw_rgb_tail()}"


_RTP_CAPS = {
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
    if codec not in _RTP_CAPS:
        raise ValueError(f"codec must be one of {sorted(_RTP_CAPS)}, got {codec!r}")
    caps, depay = _RTP_CAPS[codec]
    return (
        f"udpsrc address={check_host(address)} port={check_port(port)} caps={quote(caps)} ! "
        f"rtpjitterbuffer latency={int(latency)} ! {depay} ! {_raw_rgb_tail()}"
    )


class _Server:
    """Shared lifecycle: frame caps, ``push``, idempotent ``close``, context manager."""

    scheme = ""

    def __init__(self, width: int, height: int, fps: Number, format: str) -> None:
        self.width = int(width)
        self.height = int(height)
        self.fps = Fraction(fps).limit_denominator(1001000)
        self.format = format
        self.caps = (
            f"video/x-raw,format={format},width={self.width},height={self.height},"
            f"framerate={self.fps.numerator}/{self.fps.denominator}"
        )
        self.layout = layout_from_caps(self.caps)  # validates format and size early
        self._closed = False
        self._started = False

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("serving" if self._started else "not started")
        return f"<{type(self).__name__} {self.url} {state}>"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def url(self) -> str:
        raise NotImplementedError

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"{type(self).__name__} is closed")

    def start(self) -> None:
        """Bind and start serving; idempotent."""
        self._check_open()
        if self._started:
            return
        self._start()
        self._started = True

    def _start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop serving and release the port; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            self._stop()

    def _stop(self) -> None:
        raise NotImplementedError

    def _require_started(self) -> None:
        self._check_open()
        if not self._started:
            raise LifecycleError(f"{type(self).__name__} is not started (call start())")


class _PipelineServer(_Server):
    """A server that is one appsrc pipeline (TCP, UDP)."""

    def __init__(self, width: int, height: int, fps: Number, format: str) -> None:
        super().__init__(width, height, fps, format)
        self._sink: Optional[GstVideoSink] = None

    def _description(self) -> str:
        raise NotImplementedError

    def _start(self) -> None:
        sink = GstVideoSink(
            f"appsrc name=src is-live=true ! {self._description()}",
            width=self.width,
            height=self.height,
            fps=self.fps,
            video_frmt=self.format,
            max_buffers=2,
        )
        sink.startup()
        # sinks open their sockets while the state change goes on: report failures here
        deadline = time.monotonic() + 5.0
        while sink.error is None and not self._ready(sink) and time.monotonic() < deadline:
            time.sleep(0.01)
        if sink.error is not None:
            sink.shutdown(eos=False, raise_errors=False)
            raise sink.error
        self._sink = sink

    def _ready(self, sink: GstVideoSink) -> bool:
        """True once the pipeline's network sink is set up."""
        return True

    def push(self, frame: Any, pts: Union[int, float, None] = None) -> bool:
        """Send one frame (an array of the server's size and format); True when sent.

        Raises
        ------
        CapsError
            The array does not match ``width``/``height``/``format``.
        PipelineError
            The pipeline failed (the error GStreamer reported).
        """
        self._require_started()
        assert self._sink is not None
        self._sink.push(frame, pts=pts)
        return True

    def _stop(self) -> None:
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.shutdown(timeout=5.0, eos=False)


class TcpServer(_PipelineServer):
    """H.264 in MPEG-TS (or Matroska) served over TCP with ``tcpserversink``.

    Any number of clients may connect and disconnect while frames are pushed; each one
    starts at the next keyframe (one per second). Pushing never waits for clients.

    Parameters
    ----------
    width, height : int
        Frame size of the pushed arrays.
    fps : int, float or Fraction
        Frame rate written into the stream.
    format : str
        Video format of the pushed arrays (``"RGB"``, ``"BGR"``, ``"GRAY8"``, ...).
    port : int
        TCP port; 0 picks a free one (see :attr:`port`).
    host : str
        Address to bind; loopback unless told otherwise.
    container : {"mpegts", "matroska"}
    bitrate : int, optional
        H.264 bit rate in kbit/s.

    Examples
    --------
    >>> with TcpServer(640, 480, port=5000) as server:      # doctest: +SKIP
    ...     for frame in frames:
    ...         server.push(frame)                          # ffplay tcp://127.0.0.1:5000
    """

    scheme = "tcp"

    def __init__(
        self,
        width: int,
        height: int,
        *,
        fps: Number = 30,
        format: str = "RGB",
        port: int = 5000,
        host: str = "127.0.0.1",
        container: str = "mpegts",
        bitrate: Optional[int] = None,
    ) -> None:
        super().__init__(width, height, fps, format)
        if container not in ("mpegts", "matroska"):
            raise ValueError(f"container must be 'mpegts' or 'matroska', got {container!r}")
        self.host = check_host(host)
        self._port = check_port(port)
        self.container = container
        self.bitrate = bitrate

    def _description(self) -> str:
        mux = "mpegtsmux" if self.container == "mpegts" else "matroskamux streamable=true"
        return (
            f"videoconvert ! {h264_encoder(self.fps, bitrate=self.bitrate)} ! "
            f"h264parse config-interval=-1 ! {mux} ! "
            f"tcpserversink name=tcpsink host={self.host} port={self._port} sync=false "
            "recover-policy=keyframe sync-method=latest-keyframe"
        )

    def _ready(self, sink: GstVideoSink) -> bool:
        return int(sink.get_by_name("tcpsink").get_property("current-port")) > 0

    @property
    def port(self) -> int:
        """The bound port (the chosen one when ``port=0`` was given)."""
        if self._sink is not None and self._sink.pipeline is not None:
            element = self._sink.get_by_name("tcpsink")
            if element is not None:
                return int(element.get_property("current-port"))
        return self._port

    @property
    def clients(self) -> int:
        """Connected clients right now."""
        if self._sink is None or self._sink.pipeline is None:
            return 0
        return int(self._sink.get_by_name("tcpsink").get_property("num-handles"))

    @property
    def url(self) -> str:
        return f"tcp://{_url_host(self.host)}:{self.port}"


class UdpSender(_PipelineServer):
    """RTP over UDP to one ``host:port`` (H.264 or JPEG payload).

    Receive it with ``GstVideoSource(udp_source(port) + " ! appsink")``.

    Parameters
    ----------
    width, height : int
    fps : int, float or Fraction
    format : str
    host : str
        Destination address; loopback unless told otherwise.
    port : int
        Destination port.
    codec : {"h264", "jpeg"}
    """

    scheme = "rtp"

    def __init__(
        self,
        width: int,
        height: int,
        *,
        port: int,
        fps: Number = 30,
        format: str = "RGB",
        host: str = "127.0.0.1",
        codec: str = "h264",
        quality: int = 85,
    ) -> None:
        super().__init__(width, height, fps, format)
        if codec not in _RTP_CAPS:
            raise ValueError(f"codec must be one of {sorted(_RTP_CAPS)}, got {codec!r}")
        if check_port(port) == 0:
            raise ValueError("UdpSender needs the receiver's port (not 0)")
        self.host = check_host(host)
        self.port = int(port)
        self.codec = codec
        self.quality = int(quality)

    def _description(self) -> str:
        if self.codec == "h264":
            enc = f"{h264_encoder(self.fps)} ! rtph264pay pt=96 config-interval=1"
        else:
            enc = f"jpegenc quality={self.quality} ! rtpjpegpay pt=26"
        return (
            f"videoconvert ! video/x-raw,format=I420 ! {enc} ! "
            f"udpsink host={self.host} port={self.port} sync=false async=false"
        )

    @property
    def url(self) -> str:
        return f"rtp://{_url_host(self.host)}:{self.port}"

    def source(self, *, latency: int = 50) -> str:
        """The :func:`udp_source` part that receives this stream on this host."""
        return udp_source(self.port, codec=self.codec, address=self.host, latency=latency)


class RtspServer(_Server):
    """An RTSP server (``GstRtspServer``) streaming pushed frames as H.264.

    All clients share one encoder (a shared media factory); frames pushed while nobody
    watches are dropped (:meth:`push` returns False). A GLib main loop is needed: a running
    :class:`~gstreamer.GstContext` is used, otherwise the server runs its own.

    Parameters
    ----------
    width, height : int
    fps : int, float or Fraction
    format : str
    port : int
        RTSP port; 0 picks a free one (see :attr:`port`).
    host : str
        Address to bind; loopback unless told otherwise.
    mount : str
        Path of the stream: ``rtsp://host:port/stream`` by default.
    username, password : str, optional
        Require HTTP basic authentication (both or neither).
    bitrate : int, optional
        H.264 bit rate in kbit/s.

    Examples
    --------
    >>> with RtspServer(640, 480, port=8554) as server:     # doctest: +SKIP
    ...     for frame in frames:
    ...         server.push(frame)          # ffplay rtsp://127.0.0.1:8554/stream
    """

    scheme = "rtsp"

    def __init__(
        self,
        width: int,
        height: int,
        *,
        fps: Number = 30,
        format: str = "RGB",
        port: int = 8554,
        host: str = "127.0.0.1",
        mount: str = "/stream",
        username: Optional[str] = None,
        password: Optional[str] = None,
        bitrate: Optional[int] = None,
    ) -> None:
        super().__init__(width, height, fps, format)
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.host = check_host(host)
        self._port = check_port(port)
        self.mount = check_mount(mount)
        self.username = username
        self._password = password
        self.bitrate = bitrate
        self._lock = threading.Lock()
        self._feeder: Optional[AppSrcFeeder] = None
        self._context: Optional[GstContext] = None
        self._server: Any = None
        self._factory: Any = None
        self._source_id = 0
        self._error: Optional[BaseException] = None
        self.pushed = 0
        self.dropped = 0

    @property
    def port(self) -> int:
        """The bound port (the chosen one when ``port=0`` was given)."""
        if self._server is not None:
            return int(self._server.get_bound_port())
        return self._port

    @property
    def url(self) -> str:
        return f"rtsp://{_url_host(self.host)}:{self.port}{self.mount}"

    @property
    def has_clients(self) -> bool:
        """True while at least one client is playing the (shared) stream."""
        return self._feeder is not None

    def _launch(self) -> str:
        return (
            f"( appsrc name=src is-live=true format=time caps={quote(self.caps)} ! "
            "queue max-size-buffers=2 leaky=downstream ! videoconvert ! "
            f"video/x-raw,format=I420 ! {h264_encoder(self.fps, bitrate=self.bitrate)} ! "
            "rtph264pay name=pay0 pt=96 config-interval=1 )"
        )

    def _start(self) -> None:
        Gst = _gi.Gst()
        rtsp = _gi.module("GstRtspServer")
        launch = self._launch()
        if not main_loop_running():
            self._context = GstContext()
            self._context.startup()
        server = rtsp.RTSPServer.new()
        server.set_address(self.host)
        server.set_service(str(self._port))
        factory = rtsp.RTSPMediaFactory.new()
        factory.set_launch(launch)
        factory.set_shared(True)
        factory.connect("media-configure", self._on_media_configure)
        if self.username is not None:
            auth = rtsp.RTSPAuth.new()
            token = rtsp.RTSPToken.new()
            token.set_string("media.factory.role", "streamer")
            auth.add_basic(rtsp.RTSPAuth.make_basic(self.username, self._password), token)
            server.set_auth(auth)
            role, _ = Gst.Structure.from_string(
                "streamer, media.factory.access=(boolean)true, "
                "media.factory.construct=(boolean)true"
            )
            factory.add_role_from_structure(role)
        server.get_mount_points().add_factory(self.mount, factory)
        source_id = server.attach(None)
        if not source_id:
            if self._context is not None:
                self._context.shutdown(raise_errors=False)
                self._context = None
            raise PipelineError(
                f"could not bind the RTSP server to {self.host}:{self._port}",
                hint="is the port already in use? pass port=0 to pick a free one",
            )
        self._server, self._factory, self._source_id = server, factory, source_id
        log.info("serving %s", self.url)

    def _on_media_configure(self, factory: Any, media: Any) -> None:
        """Main-loop thread: a client asked for the stream; hook up its appsrc."""
        try:
            appsrc = media.get_element().get_by_name_recurse_up("src")
            feeder = AppSrcFeeder(
                appsrc,
                self.layout,
                fps=self.fps,
                backpressure="drop-oldest",
                max_buffers=2,
                live_clock=True,
            )
            media.connect("unprepared", self._on_media_unprepared, feeder)
            pipeline = media.get_element().get_parent()
            if pipeline is not None:
                # the media owns the pipeline and its bus watch; a sync handler only records
                pipeline.get_bus().set_sync_handler(self._on_media_message)
        except Exception as exc:  # re-raised by push() in the caller's thread
            self._error = exc
            return
        with self._lock:
            self._feeder = feeder
        log.debug("%s: client media configured", self)

    def _on_media_message(self, bus: Any, message: Any, *user_data: Any) -> Any:
        """Streaming threads: keep the media pipeline's first error for :meth:`push`."""
        Gst = _gi.Gst()
        if message.type == Gst.MessageType.ERROR and self._error is None:
            gerror, debug = message.parse_error()
            src = message.src.get_name() if message.src is not None else None
            self._error = from_gerror(gerror, debug, src)
        return Gst.BusSyncReply.PASS

    def _on_media_unprepared(self, media: Any, feeder: AppSrcFeeder) -> None:
        with self._lock:
            if self._feeder is feeder:
                self._feeder = None
        log.debug("%s: media unprepared (no more clients)", self)

    def push(self, frame: Any, pts: Union[int, float, None] = None) -> bool:
        """Offer one frame to the clients; False when nobody watches (the frame is dropped).

        ``pts=None`` stamps the frame with the pipeline's running time (live).
        """
        self._require_started()
        if self._error is not None:
            error, self._error = self._error, None
            if isinstance(error, GstError):
                raise error
            raise PipelineError(f"setting up the RTSP stream failed: {error!r}") from error
        if isinstance(frame, np.ndarray):
            self.layout.check_array(frame)
        with self._lock:
            feeder = self._feeder
        if feeder is None:
            self.dropped += 1
            return False
        try:
            feeder.push(frame, pts=pts)
        except LifecycleError:  # the media is being torn down (last client left)
            with self._lock:
                if self._feeder is feeder:
                    self._feeder = None
            self.dropped += 1
            return False
        self.pushed += 1
        return True

    def _stop(self) -> None:
        GLib = _gi.GLib()
        rtsp = _gi.module("GstRtspServer")
        server, self._server = self._server, None
        with self._lock:
            self._feeder = None
        if server is not None:
            server.client_filter(lambda *args: rtsp.RTSPFilterResult.REMOVE)
            server.get_mount_points().remove_factory(self.mount)
            if self._source_id:
                GLib.Source.remove(self._source_id)
                self._source_id = 0
        self._factory = None
        context, self._context = self._context, None
        if context is not None:
            context.shutdown(timeout=5.0, raise_errors=False)


_INDEX_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>html,body{{margin:0;background:#000;height:100%}}
img{{display:block;width:100%;height:100%;object-fit:contain}}</style></head>
<body><img src="/stream.mjpg" alt="live stream"></body></html>
"""


class MjpegServer(_Server):
    """Motion JPEG over HTTP (``multipart/x-mixed-replace``), viewable in a browser.

    ``/`` is an HTML page showing the stream, ``/stream.mjpg`` the stream itself and
    ``/snapshot.jpg`` the latest frame. Frames are JPEG-encoded by GStreamer
    (``jpegenc ! appsink``) and served by Python's :class:`http.server.ThreadingHTTPServer`;
    slow or vanished clients never hold up :meth:`push`.

    Parameters
    ----------
    width, height : int
    fps : int, float or Fraction
    format : str
    port : int
        HTTP port; 0 picks a free one (see :attr:`port`).
    host : str
        Address to bind; loopback unless told otherwise.
    quality : int
        JPEG quality 0-100.
    """

    scheme = "http"
    boundary = "gstreamerframe"

    def __init__(
        self,
        width: int,
        height: int,
        *,
        fps: Number = 30,
        format: str = "RGB",
        port: int = 8080,
        host: str = "127.0.0.1",
        quality: int = 85,
        title: str = "gstreamer MJPEG stream",
    ) -> None:
        super().__init__(width, height, fps, format)
        self.host = check_host(host)
        self._port = check_port(port)
        self.quality = int(quality)
        self.title = title
        self._cond = threading.Condition()
        self._jpeg: Optional[bytes] = None
        self._seq = 0
        self._error: Optional[BaseException] = None
        self._sink: Optional[GstVideoSink] = None
        self._puller: Optional[AppSinkPuller] = None
        self._httpd: Optional[http.server.ThreadingHTTPServer] = None
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        if self._httpd is not None:
            return int(self._httpd.server_address[1])
        return self._port

    @property
    def url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}/"

    @property
    def frames_encoded(self) -> int:
        return self._seq

    def latest_jpeg(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The newest JPEG, waiting up to ``timeout`` seconds for the first one."""
        with self._cond:
            self._cond.wait_for(lambda: self._jpeg is not None or self._closed, timeout)
            return self._jpeg

    def _start(self) -> None:
        sink = GstVideoSink(
            f"appsrc name=src ! videoconvert ! jpegenc quality={self.quality} ! "
            "appsink name=jpegsink sync=false",
            width=self.width,
            height=self.height,
            fps=self.fps,
            video_frmt=self.format,
            max_buffers=2,
        )
        sink.startup()
        self._sink = sink
        self._puller = AppSinkPuller(
            sink.get_by_name("jpegsink"), max_buffers=2, leaky=True, copy=True
        )
        try:
            server_class = _HTTPServer6 if ":" in self.host else http.server.ThreadingHTTPServer
            httpd = server_class((self.host, self._port), _make_handler(self))
        except OSError as exc:
            sink.shutdown(eos=False, raise_errors=False)
            self._sink = None
            raise PipelineError(
                f"could not bind the HTTP server to {self.host}:{self._port}: {exc}",
                hint="is the port already in use? pass port=0 to pick a free one",
            ) from exc
        httpd.daemon_threads = True
        self._httpd = httpd
        self._threads = [
            threading.Thread(target=self._pull_loop, name="MjpegServer-encode", daemon=True),
            threading.Thread(
                target=httpd.serve_forever, args=(0.2,), name="MjpegServer-http", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()
        log.info("serving %s", self.url)

    def _pull_loop(self) -> None:
        puller = self._puller
        assert puller is not None
        try:
            while not self._closed:
                frame = puller.pull(0.1)
                if frame is None:
                    continue
                data = frame.data
                jpeg = data.tobytes() if isinstance(data, np.ndarray) else bytes(data[0])
                with self._cond:
                    self._jpeg = jpeg
                    self._seq += 1
                    self._cond.notify_all()
        except BaseException as exc:  # re-raised by push()
            self._error = exc
            with self._cond:
                self._cond.notify_all()

    def push(self, frame: Any, pts: Union[int, float, None] = None) -> bool:
        """Encode one frame and make it the current picture for every client."""
        self._require_started()
        if self._error is not None:
            error, self._error = self._error, None
            if isinstance(error, GstError):
                raise error
            raise PipelineError(f"JPEG encoding failed: {error!r}") from error
        assert self._sink is not None
        self._sink.push(frame, pts=pts)
        return True

    def wait_frames(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` frames in total have been encoded."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq >= count or self._closed, timeout):
                raise TimeoutError(f"{count} frames were not encoded within {timeout} s")

    def _stop(self) -> None:
        with self._cond:
            self._cond.notify_all()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        for thread in self._threads:
            thread.join(5.0)
        self._threads = []
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.shutdown(timeout=5.0, eos=False, raise_errors=False)
        self._puller = None

    # used by the request handler (HTTP threads)
    def _next_jpeg(self, last: int, timeout: float) -> tuple[int, Optional[bytes]]:
        with self._cond:
            self._cond.wait_for(lambda: self._seq != last or self._closed, timeout)
            return self._seq, self._jpeg


class _HTTPServer6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _make_handler(server: MjpegServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        server_version = "gstreamer-mjpeg"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                if path in ("/", "/index.html"):
                    self._send_bytes(
                        _INDEX_HTML.format(title=_html_escape(server.title)).encode(),
                        "text/html; charset=utf-8",
                    )
                elif path == "/snapshot.jpg":
                    jpeg = server.latest_jpeg(timeout=5.0)
                    if jpeg is None:
                        self.send_error(503, "no frame yet")
                    else:
                        self._send_bytes(jpeg, "image/jpeg")
                elif path == "/stream.mjpg":
                    self._stream()
                else:
                    self.send_error(404)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                log.debug("client %s went away", self.address_string())

        def _send_bytes(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _stream(self) -> None:
            boundary = server.boundary
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={boundary}")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Pragma", "no-cache")
            self.end_headers()
            last = -1
            while not server.closed:
                seq, jpeg = server._next_jpeg(last, 0.5)
                if jpeg is None or seq == last:
                    continue
                last = seq
                self.wfile.write(
                    f"--{boundary}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                self.wfile.flush()

    return Handler


def _html_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
