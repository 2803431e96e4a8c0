"""``MjpegServer``: Motion JPEG over HTTP, viewable in a browser."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from .._lifecycle import ErrorSlot
from ..appsink import AppSinkPuller
from ..errors import ArgumentError, GstError, TimeoutError, bind_error
from ._base import PipelineServer
from ._http import FrameBox, HttpLoop, Response
from .sources import url_host

if TYPE_CHECKING:
    from typing import Unpack

    from ._base import ServerOptions

__all__ = ["MjpegServer"]

log = logging.getLogger("gstreamer.streaming")

_INDEX_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>html,body{{margin:0;background:#000;height:100%}}
img{{display:block;width:100%;height:100%;object-fit:contain}}</style></head>
<body><img src="/stream.mjpg" alt="live stream"></body></html>
"""


class MjpegServer(PipelineServer):
    """Motion JPEG over HTTP (``multipart/x-mixed-replace``), viewable in a browser.

    ``/`` is an HTML page showing the stream, ``/stream.mjpg`` the stream itself and
    ``/snapshot.jpg`` the latest frame. Frames are JPEG-encoded by GStreamer
    (``jpegenc ! appsink``) and served by one selector-based HTTP thread, whatever the
    number of clients. Slow or vanished clients never hold up :meth:`push`: a client is
    sent the newest frame once its previous one is out (frames in between are skipped), a
    connection that sends no request, or takes no data, for ``idle_timeout`` seconds is
    closed.

    Parameters
    ----------
    width, height : int
        Frame size of the pushed arrays.
    port : int
        HTTP port; 0 picks a free one (see :attr:`port`).
    quality : int
        JPEG quality 0-100.
    idle_timeout : float
        Seconds a connection may stay without sending its request, or without taking
        data, before it is closed.
    backlog : int
        Connections the kernel queues before they are accepted (``listen()``).
    **options
        ``fps``, ``format``, ``host``: see :class:`~gstreamer.streaming.ServerOptions`.
    """

    scheme = "http"
    boundary = "gstreamerframe"

    def __init__(
        self,
        width: int,
        height: int,
        *,
        port: int = 8080,
        quality: int = 85,
        title: str = "gstreamer MJPEG stream",
        idle_timeout: float = 10.0,
        backlog: int = 128,
        **options: Unpack[ServerOptions],
    ) -> None:
        super().__init__(width, height, port=port, **options)
        self.quality = int(quality)
        self.title = title
        if idle_timeout <= 0:
            raise ArgumentError(f"idle_timeout must be > 0 seconds, got {idle_timeout}")
        if backlog < 1:
            raise ArgumentError(f"backlog must be at least 1, got {backlog}")
        self.idle_timeout = float(idle_timeout)
        self.backlog = int(backlog)
        self._box = FrameBox()
        self._bound_port = 0
        self._loop: Optional[HttpLoop] = None
        self._encoder_thread: Optional[threading.Thread] = None
        self._stop_event = threading.Event()
        self._finalizer: Optional[weakref.finalize[Any, Any]] = None

    @property
    def port(self) -> int:
        return self._bound_port or self._port

    @property
    def clients(self) -> int:
        """Clients receiving the stream right now."""
        loop = self._loop
        return loop.streaming if loop is not None else 0

    @property
    def url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}/"

    @property
    def frames_encoded(self) -> int:
        """JPEGs the encoder has produced so far."""
        return self._box.seq

    def latest_jpeg(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The newest JPEG, waiting up to ``timeout`` seconds for the first one."""
        box = self._box
        with box.cond:
            box.cond.wait_for(lambda: box.data is not None or self.closed, timeout)
            return box.data

    def _description(self) -> str:
        return (
            f"videoconvert ! jpegenc quality={self.quality} ! "
            "appsink name=jpegsink sync=false wait-on-eos=false"
        )

    def _start(self) -> None:
        super()._start()
        puller = AppSinkPuller(self._element("jpegsink"), max_buffers=2, leaky=True, copy=True)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self._port))
            listener.listen(self.backlog)
        except OSError as exc:
            listener.close()
            self._close_writer()
            raise bind_error(
                f"{url_host(self.host)}:{self._port}", exc.strerror or str(exc)
            ) from exc
        self._bound_port = int(listener.getsockname()[1])
        title = self.title
        self._loop = HttpLoop(
            listener,
            _router(title),
            self._box,
            boundary=self.boundary,
            idle_timeout=self.idle_timeout,
        )
        # the threads hold the puller, the frame box and the error slot, never the server,
        # so an abandoned server is collected (its finaliser stops them)
        self._encoder_thread = threading.Thread(
            target=_pull_loop,
            args=(puller, self._box, self._stop_event, self._errors),
            name="MjpegServer-encode",
            daemon=True,
        )
        self._encoder_thread.start()
        self._finalizer = weakref.finalize(
            self, _stop_threads, self._loop, self._encoder_thread, self._stop_event, self._box
        )
        log.info("serving %s", self.url)

    def push(self, frame: Any, pts: Any = None) -> bool:
        loop = self._loop
        if loop is not None and loop.error is not None:
            self._errors.keep(loop.error)
        return super().push(frame, pts)

    def wait_frames(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` frames in total have been encoded."""
        box = self._box
        with box.cond:
            if not box.cond.wait_for(lambda: box.seq >= count or self.closed, timeout):
                raise TimeoutError(f"{count} frames were not encoded within {timeout} s")

    def _stop(self) -> None:
        finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            finalizer()  # stops the HTTP loop and the encoder thread
        self._loop = None
        self._encoder_thread = None
        self._close_writer()

    def _close_writer(self) -> None:
        with contextlib.suppress(GstError):  # the encoder's errors were raised by push()
            super()._stop()


def _pull_loop(
    puller: AppSinkPuller, box: FrameBox, stop: threading.Event, errors: ErrorSlot
) -> None:
    """Encoder thread: move each JPEG from the appsink into ``box``."""
    try:
        while not stop.is_set():
            frame = puller.pull(0.1)
            if frame is None:
                continue
            data = frame.data
            box.put(data.tobytes() if isinstance(data, np.ndarray) else bytes(data[0]))
    except BaseException as exc:  # re-raised by push()
        errors.keep(exc)
        box.close()


def _stop_threads(
    loop: HttpLoop, encoder: threading.Thread, stop: threading.Event, box: FrameBox
) -> None:
    stop.set()
    box.close()
    loop.stop(5.0)
    if encoder is not threading.current_thread():
        encoder.join(5.0)


def _router(title: str) -> Callable[[str], Response]:
    page = _INDEX_HTML.format(title=_html_escape(title)).encode()

    def route(path: str) -> Response:
        if path in ("/", "/index.html"):
            return Response(200, page, "text/html; charset=utf-8")
        if path == "/snapshot.jpg":
            return Response(snapshot=True)
        if path == "/stream.mjpg":
            return Response(stream=True)
        return Response(404, b"not found\n", "text/plain")

    return route


def _html_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
