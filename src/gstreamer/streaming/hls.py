"""``HttpFolderServer``: a folder (an HLS stream written by :class:`~gstreamer.HlsWriter`)
served over HTTP, read-only, on loopback by default."""

from __future__ import annotations

import functools
import http.server
import logging
import os
import threading
from typing import Any, Optional

from .._lifecycle import Lifecycle, State
from ..errors import SourceNotFoundError
from .sources import check_host, check_port, url_host

__all__ = ["HttpFolderServer"]

log = logging.getLogger("gstreamer.streaming")

_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".m4s": "video/iso.segment",
}


class _Handler(http.server.SimpleHTTPRequestHandler):
    def guess_type(self, path: Any) -> str:
        kind = _TYPES.get(os.path.splitext(str(path))[1].lower())
        return kind if kind is not None else super().guess_type(path)

    def end_headers(self) -> None:
        # a live playlist changes all the time: never cached
        if self.path.split("?", 1)[0].endswith(".m3u8"):
            self.send_header("Cache-Control", "no-cache")
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def list_directory(self, path: Any) -> Any:
        self.send_error(403, "no directory listing")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("hls http: " + format, *args)


class HttpFolderServer(Lifecycle):
    """Serve the files of ``folder`` over HTTP (GET and HEAD only, no directory listing).

    Parameters
    ----------
    folder : str or os.PathLike
        An existing folder, e.g. the one an :class:`~gstreamer.HlsWriter` writes.
    port : int
        0 picks a free port (see :attr:`port`).
    host : str
        Address to bind; loopback unless told otherwise.
    playlist : str
        File name :attr:`url` points at.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        port: int = 8080,
        host: str = "127.0.0.1",
        playlist: str = "playlist.m3u8",
    ) -> None:
        self.folder = os.fspath(folder)
        if not os.path.isdir(self.folder):
            raise SourceNotFoundError(f"{self.folder!r} is not a folder", filename=self.folder)
        self.host = check_host(host)
        self._port = check_port(port)
        self.playlist = playlist
        self._state = State.NEW
        self._httpd: Optional[http.server.ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._httpd.server_address[1]) if self._httpd is not None else self._port

    @property
    def url(self) -> str:
        """The playlist's URL."""
        return f"http://{url_host(self.host)}:{self.port}/{self.playlist}"

    def start(self) -> None:
        """Bind and serve in a background thread; idempotent."""
        self._require_not_closed()
        if self._state is State.OPEN:
            return
        handler = functools.partial(_Handler, directory=self.folder)
        self._httpd = http.server.ThreadingHTTPServer((self.host, self._port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="HttpFolderServer", daemon=True
        )
        self._thread.start()
        self._state = State.OPEN
        log.info("serving %s from %s", self.url, self.folder)

    def close(self) -> None:
        """Stop serving and release the port; idempotent."""
        if self._state is State.CLOSED:
            return
        self._state = State.CLOSED
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            self._port = int(httpd.server_address[1])
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> HttpFolderServer:
        self.start()
        return self

    def __repr__(self) -> str:
        return f"<HttpFolderServer {self.url} {self._state}>"
