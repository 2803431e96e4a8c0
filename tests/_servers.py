"""A streaming server in another process, to kill and restart (reconnect tests, benchmarks).

``python tests/_servers.py KIND PORT [FPS]`` serves 160x120 frames whose gray level counts up,
with KIND one of ``rtsp``, ``tcp`` (MPEG-TS), ``tcp-drop`` (MPEG-TS, every client is
disconnected every 20 frames), ``udp`` (RTP/H.264 sent to PORT), ``srt`` (MPEG-TS over SRT,
``srtsink mode=listener`` on UDP PORT) or ``http`` (:class:`~gstreamer.streaming.MjpegServer`,
``/stream.mjpg``). It prints ``ready URL`` once serving, then pushes frames until killed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``with ServerProcess("rtsp", port) as server:`` ... ``server.kill()``, ``server.start()``."""

    def __init__(self, kind: str, port: int, fps: int = 30) -> None:
        self.kind, self.port, self.fps = kind, port, fps
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> str:
        env = dict(os.environ, PYTHONPATH=str(SRC))
        deadline = time.monotonic() + timeout
        while True:  # a port may stay busy for a moment after a kill
            self.proc = subprocess.Popen(
                [sys.executable, __file__, self.kind, str(self.port), str(self.fps)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline().split()
            if line and line[0] == "ready":
                self.url = line[1]
                return self.url
            _, err = self.proc.communicate(timeout=30)
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {err[-2000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)
        self.proc = None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def serve(kind: str, port: int, fps: int) -> None:
    import numpy as np

    from gstreamer.streaming import MjpegServer, RtspServer, TcpServer, UdpSender

    if kind == "srt":
        serve_srt(port, fps)
        return
    if kind == "rtsp":
        server: object = RtspServer(160, 120, fps=fps, port=port)
    elif kind == "http":
        server = MjpegServer(160, 120, fps=fps, port=port)
    elif kind in ("tcp", "tcp-drop"):
        server = TcpServer(160, 120, fps=fps, port=port)
    elif kind == "udp":
        server = UdpSender(160, 120, fps=fps, port=port)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    with server as s:  # type: ignore[attr-defined]
        url = s.url + "stream.mjpg" if kind == "http" else s.url
        print("ready", url, flush=True)
        start = time.monotonic()
        i = 0
        while True:
            s.push(np.full((120, 160, 3), (i * 4) % 256, np.uint8))
            i += 1
            if kind == "tcp-drop" and i % 20 == 0:
                s._element("tcpsink").emit("clear")  # disconnect every client
            delay = start + i / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def serve_srt(port: int, fps: int) -> None:
    """MPEG-TS (H.264) over SRT: ``srtsink`` listens on ``port`` for callers (srtsrc)."""
    import numpy as np

    from gstreamer import Writer

    uri = f"srt://127.0.0.1:{port}"
    description = (
        "appsrc name=src is-live=true ! videoconvert ! "
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={max(1, fps // 2)} ! "
        "h264parse config-interval=-1 ! mpegtsmux alignment=7 ! "
        # the mode goes in the URI: a uri= property set with mode=listener beside it
        # does not bind on 1.22
        f'srtsink uri="{uri}?mode=listener" wait-for-connection=false latency=50'
    )
    with Writer(description, fps=fps, live=True) as w:
        start = time.monotonic()
        i = 0
        while True:
            w.write(np.full((120, 160, 3), (i * 4) % 256, np.uint8))
            if i == 0:
                print("ready", uri, flush=True)
            i += 1
            delay = start + i / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 30)
