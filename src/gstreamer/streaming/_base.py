"""What every server shares: frame caps, one lifecycle, counters, and the Writer underneath.

Every server has ``start()`` / ``close()`` (both idempotent), is a context manager, and
counts ``frames_written`` and ``dropped``; ``clients`` is how many clients are connected.
``push(frame, pts=None)`` takes ``pts`` in seconds (the one rule of :mod:`gstreamer._time`),
never blocks past ``timeout`` and raises, in the caller's thread, the first error any of the
server's threads met.
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Optional, TypedDict, Union

from .._lifecycle import ErrorSlot, Lifecycle, State
from .._time import Timestamp, fps_fraction
from ..caps import layout_from_caps
from ..errors import LifecycleError
from ..writer import Writer
from .sources import check_host, check_port

if TYPE_CHECKING:
    from typing import Unpack

__all__ = ["Number", "PipelineServer", "Server", "ServerOptions"]

Number = Union[int, float, Fraction]


class ServerOptions(TypedDict, total=False):
    """Keyword arguments every server takes, with the same meaning and default.

    Attributes
    ----------
    fps : int, float or Fraction
        Frame rate written into the stream (default 30).
    format : str
        Video format of the pushed arrays (``"RGB"``, the default, ``"BGR"``, ``"GRAY8"``,
        ...).
    host : str
        Address to bind (for :class:`~gstreamer.streaming.UdpSender`: the destination);
        ``"127.0.0.1"`` by default, so nothing is served beyond this machine unless told.
    """

    fps: Number
    format: str
    host: str


class Server(Lifecycle):
    """Shared lifecycle: frame caps, ``start``/``close``, context manager, error slot.

    Parameters
    ----------
    width, height : int
        Frame size of the pushed arrays.
    port : int
        Port to bind (checked; 0 picks a free one).
    fps, format, host
        See :class:`ServerOptions`.
    """

    scheme = ""

    #: Seconds a :meth:`push` may wait for the pipeline before TimeoutError.
    timeout = 10.0

    def __init__(
        self,
        width: int,
        height: int,
        *,
        port: int,
        fps: Number = 30,
        format: str = "RGB",
        host: str = "127.0.0.1",
    ) -> None:
        self.host = check_host(host)
        self._port = check_port(port)
        self.width = int(width)
        self.height = int(height)
        self.fps = fps_fraction(fps) or Fraction(30)
        self.format = format
        self.caps = (
            f"video/x-raw,format={format},width={self.width},height={self.height},"
            f"framerate={self.fps.numerator}/{self.fps.denominator}"
        )
        self.layout = layout_from_caps(self.caps)  # validates format and size early
        self._state = State.NEW
        self._errors = ErrorSlot(type(self).__name__)

    def __enter__(self) -> Any:
        self.start()
        return self

    def __repr__(self) -> str:
        state = {State.NEW: "not started", State.OPEN: "serving", State.CLOSED: "closed"}
        return f"<{type(self).__name__} {self.url} {state[self._state]}>"

    @property
    def url(self) -> str:
        """Where clients connect."""
        raise NotImplementedError

    @property
    def clients(self) -> int:
        """Clients connected right now."""
        return 0

    @property
    def frames_written(self) -> int:
        """Frames handed to the encoder."""
        raise NotImplementedError

    @property
    def dropped(self) -> int:
        """Frames dropped (nobody watching, or the pipeline behind)."""
        raise NotImplementedError

    def start(self) -> None:
        """Bind and start serving; idempotent."""
        self._require_not_closed()
        if self._state is State.OPEN:
            return
        self._start()
        self._state = State.OPEN

    def _start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop serving and release the port; idempotent."""
        if self._state is State.CLOSED:
            return
        started = self._state is State.OPEN
        self._state = State.CLOSED
        if started:
            self._stop()

    def _stop(self) -> None:
        raise NotImplementedError

    def _require_started(self) -> None:
        self._require_not_closed()
        if self._state is State.NEW:
            raise LifecycleError(f"{type(self).__name__} is not started (call start())")
        self._errors.raise_once()


class PipelineServer(Server):
    """A server that is one appsrc pipeline, fed by a :class:`~gstreamer.Writer`."""

    def __init__(
        self, width: int, height: int, *, port: int, **options: Unpack[ServerOptions]
    ) -> None:
        super().__init__(width, height, port=port, **options)
        self._writer: Optional[Writer] = None

    def _description(self) -> str:
        """The pipeline after the appsrc."""
        raise NotImplementedError

    def _start(self) -> None:
        writer = Writer(
            f"appsrc name=src is-live=true ! {self._description()}",
            caps=self.caps,
            max_buffers=2,
            timeout=self.timeout,
        )
        self._writer = writer
        pipeline = writer.pipeline
        # network sinks open their sockets while the state change goes on: report failures
        deadline = time.monotonic() + 5.0
        while pipeline.error is None and not self._ready() and time.monotonic() < deadline:
            time.sleep(0.01)
            if pipeline.is_done:
                break
        if pipeline.error is not None:
            writer.close()  # raises the pipeline's error

    def _element(self, name: str) -> Any:
        """The element called ``name`` in the running pipeline (None when stopped)."""
        writer = self._writer
        if writer is None or writer.pipeline.pipeline is None:
            return None
        return writer.pipeline.get_by_name(name)

    def _ready(self) -> bool:
        """True once the pipeline's network sink is set up."""
        return True

    def push(self, frame: Any, pts: Timestamp = None) -> bool:
        """Send one frame (an array of the server's size and format).

        Parameters
        ----------
        frame : numpy.ndarray
        pts : int, float or Fraction, optional
            Seconds; by default frames follow the frame rate.

        Returns
        -------
        bool
            True when the frame went into the pipeline.

        Raises
        ------
        CapsError
            The array does not match ``width``/``height``/``format``.
        PipelineError
            The pipeline failed (the error GStreamer reported).
        TimeoutError
            The pipeline took no frame for ``timeout`` seconds.
        """
        self._require_started()
        assert self._writer is not None
        return self._writer.write(frame, pts=pts)

    @property
    def frames_written(self) -> int:
        return self._writer.frames_written if self._writer is not None else 0

    @property
    def dropped(self) -> int:
        return self._writer.dropped if self._writer is not None else 0

    def _stop(self) -> None:
        if self._writer is not None:  # kept, so the counters stay readable
            self._writer.close()
