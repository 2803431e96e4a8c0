"""Four loopback live sources for MultiReader: two RTSP servers, one RTP/UDP sender, one file.

The servers are this package's own (:mod:`gstreamer.streaming`), fed in real time by a thread
with frames showing their index (see :mod:`_indexed`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from _indexed import index_frame, make_clip

from gstreamer.streaming import RtspServer, UdpSender, rtsp_source, udp_source


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveSources:
    """The sources (for :class:`gstreamer.MultiReader`) and the servers behind them."""

    def __init__(self, sources: list[str], servers: dict[str, Any]) -> None:
        self.sources = sources
        self.servers = servers
        self.errors: list[BaseException] = []
        self.killed: set[str] = set()

    def kill(self, name: str) -> None:
        """Stop the server named ``name`` ("rtsp0", "rtsp1" or "udp") for good."""
        self.killed.add(name)
        self.servers[name].close()


@contextlib.contextmanager
def live_sources(
    folder: str | os.PathLike[str], *, width: int = 320, height: int = 240, fps: int = 30
) -> Iterator[LiveSources]:
    """Start the servers and their feeding thread; stop everything at the end."""
    clip = make_clip(os.path.join(folder, "loop.mp4"), 2 * fps, width=width, height=height)
    port = free_udp_port()
    with contextlib.ExitStack() as stack:
        servers: dict[str, Any] = {
            "rtsp0": stack.enter_context(RtspServer(width, height, fps=fps, port=0)),
            "rtsp1": stack.enter_context(RtspServer(width, height, fps=fps, port=0)),
            "udp": stack.enter_context(UdpSender(width, height, fps=fps, port=port)),
        }
        sources = [
            rtsp_source(servers["rtsp0"].url, latency=0),
            rtsp_source(servers["rtsp1"].url, latency=0),
            udp_source(port, latency=0),
            clip,
        ]
        live = LiveSources(sources, servers)
        stop = threading.Event()
        frames = [index_frame(i, width, height) for i in range(64)]

        def feed() -> None:
            start = time.monotonic()
            i = 0
            try:
                while not stop.is_set():
                    for name, server in servers.items():
                        if name not in live.killed:
                            server.push(frames[i % len(frames)])
                    i += 1
                    time.sleep(max(0.0, start + i / fps - time.monotonic()))
            except BaseException as exc:
                live.errors.append(exc)

        thread = threading.Thread(target=feed, name="live-sources", daemon=True)
        thread.start()
        try:
            yield live
        finally:
            stop.set()
            thread.join(10)
    if live.errors:
        raise live.errors[0]
