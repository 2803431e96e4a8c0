"""A small selector-based HTTP/1.0 server for :class:`~gstreamer.streaming.MjpegServer`.

One thread serves every connection (``selectors``), so threads do not grow with clients:
500 half-open connections cost 500 sockets, not 500 threads. Each connection has a
deadline: a request must arrive within ``idle_timeout`` seconds, and a streaming client
that takes nothing for ``idle_timeout`` seconds is dropped. A slow streaming client is
sent the newest frame whenever its previous one is out, and skips the frames in between,
so it never holds up the producer or queues more than one frame.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Callable, Optional

__all__ = ["FrameBox", "HttpLoop", "Response"]

log = logging.getLogger("gstreamer.streaming")

_MAX_REQUEST = 8192


class FrameBox:
    """The newest encoded frame, shared by the encoder thread and the HTTP loop."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.data: Optional[bytes] = None
        self.seq = 0
        self.closed = False
        self.listeners: list[Callable[[], None]] = []

    def put(self, data: bytes) -> None:
        with self.cond:
            self.data = data
            self.seq += 1
            self.cond.notify_all()
        for wake in self.listeners:
            wake()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def latest(self) -> tuple[int, Optional[bytes]]:
        with self.cond:
            return self.seq, self.data


@dataclass(frozen=True)
class Response:
    """What a route answers: a complete body, a multipart stream, or "wait for a frame"."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    stream: bool = False
    snapshot: bool = False


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            431: "Request Header Fields Too Large", 503: "Service Unavailable"}  # fmt: skip


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.0 {status} {_REASONS.get(status, '')}"]
    lines += [
        "Server: gstreamer-mjpeg",
        f"Date: {formatdate(usegmt=True)}",
        "Cache-Control: no-store",
    ]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def complete(status: int, body: bytes, content_type: str) -> bytes:
    return (
        _head(
            status,
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ],
        )
        + body
    )


class _Conn:
    __slots__ = ("deadline", "inbuf", "mode", "out", "peer", "sent_seq", "sock")

    def __init__(self, sock: socket.socket, peer: str, deadline: float) -> None:
        self.sock = sock
        self.peer = peer
        self.inbuf = b""
        self.out = memoryview(b"")
        self.mode = "request"  # request | stream | snapshot | closing
        self.deadline = deadline
        self.sent_seq = 0


class HttpLoop:
    """Accepts and serves connections on ``listener`` in one thread until :meth:`stop`."""

    def __init__(
        self,
        listener: socket.socket,
        route: Callable[[str], Response],
        box: FrameBox,
        *,
        boundary: str,
        idle_timeout: float,
        snapshot_timeout: float = 5.0,
    ) -> None:
        self._listener = listener
        self._route = route
        self._box = box
        self._boundary = boundary
        self.idle_timeout = idle_timeout
        self._snapshot_timeout = snapshot_timeout
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._conns: dict[int, _Conn] = {}
        self._stopping = False
        self.error: Optional[BaseException] = None
        listener.setblocking(False)
        self._selector.register(listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        box.listeners.append(self.wake)
        self._thread = threading.Thread(target=self._run, name="MjpegServer-http", daemon=True)
        self._thread.start()

    @property
    def streaming(self) -> int:
        """Connections receiving the multipart stream now."""
        return sum(1 for c in list(self._conns.values()) if c.mode == "stream")

    @property
    def connections(self) -> int:
        """Open client connections (any state)."""
        return len(self._conns)

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # already woken (full), or closing
            self._wake_w.send(b"\0")

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection and the listening socket; join the thread."""
        self._stopping = True
        self.wake()
        self._thread.join(timeout)
        if self._thread.is_alive():  # pragma: no cover - the loop wakes every 0.2 s
            log.warning("MJPEG HTTP thread did not stop within %s s", timeout)
            return
        self._wake_w.close()

    # -- the loop (its own thread) -------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping:
                for key, events in self._selector.select(timeout=0.2):
                    sock = key.fileobj
                    if sock is self._listener:
                        self._accept()
                    elif sock is self._wake_r:
                        self._drain_wake()
                    else:
                        conn = self._conns.get(key.fd)
                        if conn is None:
                            continue
                        if events & selectors.EVENT_READ:
                            self._readable(conn)
                        if events & selectors.EVENT_WRITE and conn.sock.fileno() >= 0:
                            self._writable(conn)
                self._new_frames()
                self._expire()
        except BaseException as exc:  # kept for push()
            self.error = exc
            log.debug("MJPEG HTTP loop failed", exc_info=True)
        finally:
            for conn in list(self._conns.values()):
                self._close(conn)
            self._selector.close()
            self._listener.close()
            self._wake_r.close()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: keep serving the others
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("MJPEG server cannot accept: %s", exc)
                    return
                if exc.errno == errno.ECONNABORTED:
                    continue
                raise
            sock.setblocking(False)
            conn = _Conn(sock, str(address[0]), time.monotonic() + self.idle_timeout)
            self._conns[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, None)

    def _readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            self._close(conn)  # the client went away (or half-closed: we are done)
            return
        if conn.mode != "request":
            return  # anything sent after the request is ignored
        conn.inbuf += data
        if b"\r\n\r\n" not in conn.inbuf and b"\n\n" not in conn.inbuf:
            if len(conn.inbuf) > _MAX_REQUEST:
                self._respond(conn, complete(431, b"request too large\n", "text/plain"))
            return
        line = conn.inbuf.split(b"\n", 1)[0].decode("latin-1").strip()
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._respond(conn, complete(400, b"bad request\n", "text/plain"))
            return
        method, target = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            self._respond(conn, complete(405, b"only GET\n", "text/plain"))
            return
        response = self._route(target.split("?", 1)[0])
        log.debug("%s GET %s %d", conn.peer, target, response.status)
        if response.stream:
            conn.mode = "stream"
            conn.sent_seq = 0
            head = _head(
                200,
                [
                    ("Content-Type", f"multipart/x-mixed-replace; boundary={self._boundary}"),
                    ("Pragma", "no-cache"),
                    ("Connection", "close"),
                ],
            )
            self._send(conn, head)
            self._next_part(conn)
        elif response.snapshot:
            _, jpeg = self._box.latest()
            if jpeg is not None:
                self._respond(conn, complete(200, jpeg, "image/jpeg"))
            else:
                conn.mode = "snapshot"
                conn.deadline = time.monotonic() + self._snapshot_timeout
        else:
            body = b"" if method == "HEAD" else response.body
            self._respond(conn, complete(response.status, body, response.content_type))

    def _respond(self, conn: _Conn, data: bytes) -> None:
        conn.mode = "closing"
        self._send(conn, data)

    def _send(self, conn: _Conn, data: bytes) -> None:
        """Queue ``data`` after what is pending and try to send it now."""
        pending = bytes(conn.out) + data if len(conn.out) else data
        conn.out = memoryview(pending)
        self._writable(conn)

    def _writable(self, conn: _Conn) -> None:
        while len(conn.out):
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._close(conn)
                return
            conn.out = conn.out[sent:]
            conn.deadline = time.monotonic() + self.idle_timeout  # progress
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if len(conn.out) else 0)
        if not len(conn.out):
            if conn.mode == "closing":
                self._close(conn)
                return
            if conn.mode == "stream":
                self._next_part(conn)
                want = selectors.EVENT_READ | (selectors.EVENT_WRITE if len(conn.out) else 0)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.modify(conn.sock, want, None)

    def _next_part(self, conn: _Conn) -> None:
        """Queue the newest frame for a streaming client whose previous one is out."""
        if len(conn.out):
            return
        seq, jpeg = self._box.latest()
        if jpeg is None or seq == conn.sent_seq:
            return
        conn.sent_seq = seq
        part = (
            f"--{self._boundary}\r\nContent-Type: image/jpeg\r\n"
            f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
            + jpeg
            + b"\r\n"
        )
        conn.out = memoryview(part)
        self._writable(conn)

    def _new_frames(self) -> None:
        seq, jpeg = self._box.latest()
        if jpeg is None:
            return
        for conn in list(self._conns.values()):
            if conn.mode == "stream" and conn.sent_seq != seq and not len(conn.out):
                self._next_part(conn)
            elif conn.mode == "snapshot":
                self._respond(conn, complete(200, jpeg, "image/jpeg"))

    def _expire(self) -> None:
        now = time.monotonic()
        for conn in list(self._conns.values()):
            if now < conn.deadline:
                continue
            if conn.mode == "snapshot":
                self._respond(conn, complete(503, b"no frame yet\n", "text/plain"))
            elif conn.mode == "stream" and not len(conn.out):
                conn.deadline = now + self.idle_timeout  # waiting for frames is not idle
            else:
                log.debug("%s: idle for %s s, closing", conn.peer, self.idle_timeout)
                self._close(conn)

    def _close(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        self._conns.pop(fd, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(conn.sock)
        conn.sock.close()
