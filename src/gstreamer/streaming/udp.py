"""``UdpSender``: RTP (H.264 or JPEG) over UDP to one host and port."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Optional

from ..encoders import live_encoder
from ..errors import ArgumentError
from ._base import PipelineServer
from .sources import RTP_CAPS, check_host, udp_source, url_host

if TYPE_CHECKING:
    from typing import Unpack

    from ._base import ServerOptions

__all__ = ["UdpSender"]


class UdpSender(PipelineServer):
    """RTP over UDP to one ``host:port`` (H.264 or JPEG payload).

    Receive it with ``Reader(udp_source(port))``.

    Parameters
    ----------
    width, height : int
        Frame size of the pushed arrays.
    port : int
        Destination port.
    codec : {"h264", "jpeg"}
    quality : int
        JPEG quality 0-100 (``codec="jpeg"``).
    bind_address : str, optional
        Local address of the sending socket. By default it follows ``host``: the loopback
        address when ``host`` is loopback (nothing is bound on other interfaces), any
        address of the same family otherwise.
    **options
        ``fps``, ``format``, ``host`` (the destination address): see
        :class:`~gstreamer.streaming.ServerOptions`.
    """

    scheme = "rtp"

    def __init__(
        self,
        width: int,
        height: int,
        *,
        port: int,
        codec: str = "h264",
        quality: int = 85,
        bind_address: Optional[str] = None,
        **options: Unpack[ServerOptions],
    ) -> None:
        super().__init__(width, height, port=port, **options)
        if codec not in RTP_CAPS:
            raise ArgumentError(f"codec must be one of {sorted(RTP_CAPS)}, got {codec!r}")
        if self._port == 0:
            raise ArgumentError("UdpSender needs the receiver's port (not 0)")
        self.port = self._port
        self.codec = codec
        self.quality = int(quality)
        self.bind_address = (
            check_host(bind_address) if bind_address is not None else _bind_for(self.host)
        )

    def _description(self) -> str:
        if self.codec == "h264":
            enc = f"{live_encoder('h264', self.fps)} ! rtph264pay pt=96 config-interval=1"
        else:
            enc = f"jpegenc quality={self.quality} ! rtpjpegpay pt=26"
        return (
            f"videoconvert ! video/x-raw,format=I420 ! {enc} ! "
            f"udpsink host={self.host} port={self.port} bind-address={self.bind_address} "
            "sync=false async=false"
        )

    @property
    def url(self) -> str:
        return f"rtp://{url_host(self.host)}:{self.port}"

    def source(self, *, latency: int = 50) -> str:
        """The :func:`udp_source` part that receives this stream on this host."""
        return udp_source(self.port, codec=self.codec, address=self.host, latency=latency)


def _bind_for(host: str) -> str:
    """The local address a socket sending to ``host`` binds: loopback stays loopback."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a host name
        return (
            "::1"
            if host == "ip6-localhost"
            else ("127.0.0.1" if host == "localhost" else "0.0.0.0")
        )
    if address.is_loopback:
        return str(address)
    return "::" if address.version == 6 else "0.0.0.0"
