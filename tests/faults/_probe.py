"""Measuring faults: RSS, threads, fds, playable files, and hostile TCP/HTTP clients.

Shared by ``tests/faults`` (short runs) and ``benchmarks/faults.py`` (the long soaks).
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any, Optional

import numpy as np


def rss_mb() -> float:
    """Resident set size of this process, in MB (``/proc/self/status``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found")


def heap_in_use_mb() -> Optional[float]:
    """Bytes glibc's malloc has handed out and not had back, in MB (``mallinfo2``: the
    arenas' in-use chunks + mmapped blocks); None on other C libraries. Unlike RSS, it does
    not count free memory the allocator keeps."""
    import ctypes

    class _MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                         "fsmblks", "uordblks", "fordblks", "keepcost")
        ]  # fmt: skip

    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20


def threads() -> int:
    """OS threads of this process (GStreamer's included), from ``/proc/self/task``."""
    return len(os.listdir("/proc/self/task"))


def thread_names() -> list[str]:
    """Names of this process's OS threads (``/proc/self/task/*/comm``)."""
    names = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return sorted(names)


def fds() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def wait_until(condition: Any, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition()`` until truthy (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def abandon_server(cls: Any) -> int:
    """Start a ``cls`` server (64x48), push a frame, drop it without close(): it must be
    collected at once. Return the port it had."""
    server = cls(64, 48, port=0)
    server.start()
    server.push(np.zeros((48, 64, 3), np.uint8))
    port: int = server.port
    ref = weakref.ref(server)
    del server
    gc.collect()
    assert ref() is None
    return port


def pattern(i: int, width: int = 640, height: int = 480) -> np.ndarray:
    """A gradient with a moving white bar (cheap to encode, never static)."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    x = (i * 8) % width
    frame[:, x : x + 16] = 255
    return frame


@contextlib.contextmanager
def never_reading_client(host: str, port: int) -> Iterator[socket.socket]:
    """A TCP client that connects and never reads (small receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    try:
        yield sock
    finally:
        sock.close()


class ReadingClient(threading.Thread):
    """A TCP client that reads and counts everything it is sent."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(name="reading-client", daemon=True)
        self.sock = socket.create_connection((host, port))
        self.sock.settimeout(0.5)
        self.received = 0
        self._stop_flag = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._stop_flag.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            self.received += len(data)

    def close(self) -> None:
        self._stop_flag.set()
        self.join(5)
        self.sock.close()


def tcp_push_rate(
    seconds: float,
    *,
    stalled: bool,
    width: int = 640,
    height: int = 480,
    warmup: float = 2.0,
    **server_options: Any,
) -> dict[str, Any]:
    """Push frames flat out into a TcpServer for ``seconds`` with a reading client (and a
    never-reading one when ``stalled``); the rate and the RSS growth after ``warmup``."""
    from gstreamer.streaming import TcpServer

    frames = [pattern(i, width, height) for i in range(32)]
    result: dict[str, Any] = {}
    with TcpServer(width, height, fps=30, port=0, **server_options) as server:
        healthy = ReadingClient("127.0.0.1", server.port)
        stall_cm: Any = (
            never_reading_client("127.0.0.1", server.port) if stalled else contextlib.nullcontext()
        )
        with stall_cm:
            wait_until(lambda: server.clients >= (2 if stalled else 1), 10)
            start = time.monotonic()
            i = 0
            rss_start: Optional[float] = None
            counted_from = start
            pushed_from = 0
            clients_seen = server.clients
            while True:
                now = time.monotonic()
                if rss_start is None and now - start >= warmup:
                    rss_start = rss_mb()
                    counted_from, pushed_from = now, i
                if now - start >= warmup + seconds:
                    break
                server.push(frames[i % len(frames)])
                i += 1
            elapsed = time.monotonic() - counted_from
            result = {
                "stalled": stalled,
                "rate": (i - pushed_from) / elapsed,
                "rss_start": rss_start,
                "rss_end": rss_mb(),
                "frames": i,
                "clients_at_start": clients_seen,
                "clients_at_end": server.clients,
                "healthy_bytes": healthy.received,
            }
        healthy.close()
    return result
