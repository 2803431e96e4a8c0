"""``TcpServer``: H.264 in MPEG-TS or Matroska over TCP."""

from __future__ import annotations

from typing import Optional

from ..encoders import live_encoder
from ._base import Number, PipelineServer
from .sources import check_host, check_port, url_host

__all__ = ["TcpServer"]


class TcpServer(PipelineServer):
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
            f"videoconvert ! {live_encoder('h264', self.fps, bitrate=self.bitrate)} ! "
            f"h264parse config-interval=-1 ! {mux} ! "
            f"tcpserversink name=tcpsink host={self.host} port={self._port} sync=false "
            "recover-policy=keyframe sync-method=latest-keyframe"
        )

    def _ready(self) -> bool:
        sink = self._element("tcpsink")
        return sink is not None and int(sink.get_property("current-port")) > 0

    @property
    def port(self) -> int:
        """The bound port (the chosen one when ``port=0`` was given)."""
        sink = self._element("tcpsink")
        return int(sink.get_property("current-port")) if sink is not None else self._port

    @property
    def clients(self) -> int:
        """Connected clients right now."""
        sink = self._element("tcpsink")
        return int(sink.get_property("num-handles")) if sink is not None else 0

    @property
    def url(self) -> str:
        return f"tcp://{url_host(self.host)}:{self.port}"
