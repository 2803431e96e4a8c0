"""``MjpegServer``: Motion JPEG over HTTP, viewable in a browser."""

from __future__ import annotations

import contextlib
import http.server
import logging
import socket
import threading
from typing import Any, Optional

import numpy as np

from ..appsink import AppSinkPuller
from ..errors import GstError, TimeoutError, bind_error
from ._base import Number, PipelineServer
from .sources import check_host, check_port, url_host

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
        return f"http://{url_host(self.host)}:{self.port}/"

    @property
    def frames_encoded(self) -> int:
        """JPEGs the encoder has produced so far."""
        return self._seq

    def latest_jpeg(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The newest JPEG, waiting up to ``timeout`` seconds for the first one."""
        with self._cond:
            self._cond.wait_for(lambda: self._jpeg is not None or self.closed, timeout)
            return self._jpeg

    def _description(self) -> str:
        return (
            f"videoconvert ! jpegenc quality={self.quality} ! "
            "appsink name=jpegsink sync=false wait-on-eos=false"
        )

    def _start(self) -> None:
        super()._start()
        self._puller = AppSinkPuller(
            self._element("jpegsink"), max_buffers=2, leaky=True, copy=True
        )
        try:
            server_class = _HTTPServer6 if ":" in self.host else http.server.ThreadingHTTPServer
            httpd = server_class((self.host, self._port), _make_handler(self))
        except OSError as exc:
            self._close_writer()
            address = f"{url_host(self.host)}:{self._port}"
            raise bind_error(address, exc.strerror or str(exc)) from exc
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
            while not self.closed:
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
            self._errors.keep(exc)
            with self._cond:
                self._cond.notify_all()

    def wait_frames(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` frames in total have been encoded."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq >= count or self.closed, timeout):
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
        self._close_writer()
        self._puller = None

    def _close_writer(self) -> None:
        with contextlib.suppress(GstError):  # the encoder's errors were raised by push()
            super()._stop()

    # used by the request handler (HTTP threads)
    def _next_jpeg(self, last: int, timeout: float) -> tuple[int, Optional[bytes]]:
        with self._cond:
            self._cond.wait_for(lambda: self._seq != last or self.closed, timeout)
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
