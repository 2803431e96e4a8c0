"""``TcpServer``: H.264 in MPEG-TS or Matroska over TCP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..encoders import live_encoder
from ..errors import ArgumentError
from ._base import PipelineServer
from .sources import url_host

if TYPE_CHECKING:
    from typing import Unpack

    from ._base import ServerOptions

__all__ = ["TcpServer"]


class TcpServer(PipelineServer):
    """H.264 in MPEG-TS (or Matroska) served over TCP with ``tcpserversink``.

    Any number of clients may connect and disconnect while frames are pushed; each one
    starts at the latest keyframe (one per second). Pushing never waits for clients.

    Slow clients: each client has a queue of encoded data waiting to be sent. When it holds
    more than ``client_soft_limit`` bytes, the client skips to the newest keyframe (it loses
    frames, the others do not); more than ``client_max_bytes`` bytes, or nothing sent to it
    for ``client_timeout`` seconds, and it is disconnected. The memory a client can hold is
    therefore bounded by ``client_max_bytes``, whatever the client does.

    Parameters
    ----------
    width, height : int
        Frame size of the pushed arrays.
    port : int
        TCP port; 0 picks a free one (see :attr:`port`).
    container : {"mpegts", "matroska"}
    bitrate : int, optional
        H.264 bit rate in kbit/s.
    client_soft_limit : int
        Bytes queued for one client before it skips ahead to the newest keyframe.
    client_max_bytes : int
        Bytes queued for one client before it is disconnected.
    client_timeout : float
        Seconds a client may take nothing before it is disconnected (0: never).
    **options
        ``fps``, ``format``, ``host``: see :class:`~gstreamer.streaming.ServerOptions`.

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
        port: int = 5000,
        container: str = "mpegts",
        bitrate: Optional[int] = None,
        client_soft_limit: int = 2_000_000,
        client_max_bytes: int = 8_000_000,
        client_timeout: float = 10.0,
        **options: Unpack[ServerOptions],
    ) -> None:
        super().__init__(width, height, port=port, **options)
        if not 0 < int(client_soft_limit) <= int(client_max_bytes):
            raise ArgumentError(
                "need 0 < client_soft_limit <= client_max_bytes, got "
                f"{client_soft_limit} and {client_max_bytes}"
            )
        if client_timeout < 0:
            raise ArgumentError(f"client_timeout must be >= 0 seconds, got {client_timeout}")
        self.client_soft_limit = int(client_soft_limit)
        self.client_max_bytes = int(client_max_bytes)
        self.client_timeout = float(client_timeout)
        if container not in ("mpegts", "matroska"):
            raise ArgumentError(f"container must be 'mpegts' or 'matroska', got {container!r}")
        self.container = container
        self.bitrate = bitrate

    def _description(self) -> str:
        mux = "mpegtsmux" if self.container == "mpegts" else "matroskamux streamable=true"
        return (
            f"videoconvert ! {live_encoder('h264', self.fps, bitrate=self.bitrate)} ! "
            f"h264parse config-interval=-1 ! {mux} ! "
            f"tcpserversink name=tcpsink host={self.host} port={self._port} sync=false "
            "sync-method=latest-keyframe "
            # the slow-client policy (see the class docstring): bytes per client
            f"unit-format=bytes units-soft-max={self.client_soft_limit} "
            f"units-max={self.client_max_bytes} recover-policy=keyframe "
            f"timeout={int(self.client_timeout * 1e9)}"
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
