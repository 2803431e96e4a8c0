"""Live sources that heal: the reconnect policy, reader statistics and the healing read.

A :class:`~gstreamer.Reader` of a live source (``rtsp://``, ``srt://``, ``http(s)://``, or a
pipeline part with ``rtspsrc``, ``srtsrc``, ``tcpclientsrc``, ``udpsrc``, ``souphttpsrc``...,
such as the :mod:`gstreamer.streaming` ``*_source`` parts) given ``reconnect=True`` or a
:class:`Reconnect` rebuilds its pipeline when

* an element reports an error,
* the live source ends the stream (a server that closes the connection), or
* no frame arrives for ``stall`` seconds (a UDP sender that stopped, a frozen camera),

and goes on reading. Attempts follow the schedule ``0, backoff, 2 * backoff, 4 * backoff,
...`` (seconds after the loss, each wait capped at ``max_backoff``); a frame resets it
(``udpsrc`` has no server to spare: a stalled UDP pipeline is rebuilt at once). When
``attempts`` run out, :meth:`~gstreamer.Reader.read` raises
:class:`~gstreamer.ConnectionLostError`. No :meth:`~gstreamer.Reader.read` waits longer than
its timeout: while the source is away it raises :class:`~gstreamer.TimeoutError`, and the next
read goes on where the reconnection was.

Without ``reconnect``, a live source that goes away raises
:class:`~gstreamer.ConnectionLostError` too: it never reads as a clean end of stream.

``srtsrc`` would otherwise retry on its own, for ever and silently (a warning every three
seconds): the reader turns its ``auto-reconnect`` off (:func:`own_reconnects`), so that a
lost SRT connection is an error, healed by ``reconnect`` or raised as
:class:`~gstreamer.ConnectionLostError`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

from .errors import (
    ArgumentError,
    ArgumentTypeError,
    ClosedError,
    ConnectionLostError,
    MissingElementError,
    ParseError,
    PipelineError,
    TimeoutError,
    facts,
)

if TYPE_CHECKING:  # pragma: no cover
    from .frame import Frame
    from .pipeline import GstPipeline
    from .reader import Reader

__all__ = [
    "LIVE_ELEMENTS",
    "LIVE_SCHEMES",
    "Healer",
    "LiveSource",
    "ReaderStats",
    "Reconnect",
    "Schedule",
    "connection_lost",
    "endless_stream",
    "live_source",
    "own_reconnects",
]

log = logging.getLogger("gstreamer.live")

#: URI schemes read as live streams (an end of stream from them is a lost connection).
LIVE_SCHEMES = ("rtsp", "rtsps", "rtspt", "rtspu", "srt", "rtmp", "rtmps")
#: Schemes that may be live or a file download: live only when ``reconnect`` is given.
MAYBE_LIVE_SCHEMES = ("http", "https")
#: Source elements of live network streams.
LIVE_ELEMENTS = (
    "rtspsrc",
    "srtsrc",
    "srtclientsrc",
    "tcpclientsrc",
    "udpsrc",
    "souphttpsrc",
    "rtmpsrc",
    "rtmp2src",
    "ristsrc",
)

# How long one wait inside the healing read lasts before close() and errors are looked at.
_SLICE = 0.05


@dataclass(frozen=True)
class Reconnect:
    """How a :class:`~gstreamer.Reader` reconnects to a live source.

    Parameters
    ----------
    attempts : int or None
        Attempts after a loss before :class:`~gstreamer.ConnectionLostError`; None for ever.
        A frame that arrives resets the count.
    backoff : float
        Seconds before the second attempt; each later wait doubles (the first attempt is
        made at once).
    max_backoff : float
        Longest wait between two attempts.
    stall : float
        Seconds without a frame after which the connection counts as lost.
    """

    attempts: Optional[int] = None
    backoff: float = 1.0
    max_backoff: float = 2.0
    stall: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ArgumentError(f"attempts must be None or at least 1, not {self.attempts!r}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ArgumentError("backoff and max_backoff are seconds >= 0")
        if self.stall <= 0:
            raise ArgumentError(f"stall must be seconds > 0, not {self.stall!r}")

    def delay(self, attempt: int) -> float:
        """Seconds between the loss (or the previous attempt) and attempt ``attempt`` (1, 2...)."""
        if attempt <= 1:
            return 0.0
        return float(min(self.backoff * 2 ** (attempt - 2), self.max_backoff))


@dataclass(frozen=True)
class ReaderStats:
    """A snapshot of a reader's health (:attr:`gstreamer.Reader.stats`).

    Attributes
    ----------
    frames : int
        Frames returned by the reader.
    dropped : int
        Frames that reached the reader's appsink but were never returned (dropped by
        ``latest_only``, or left queued when a connection was rebuilt).
    reconnects : int
        Connections rebuilt after a loss that gave frames again.
    last_frame_age : float or None
        Seconds since the last frame was returned (None before the first).
    """

    frames: int
    dropped: int
    reconnects: int
    last_frame_age: Optional[float]


@dataclass(frozen=True)
class LiveSource:
    """What the reader knows about a live source.

    Attributes
    ----------
    what : str
        The scheme or element that makes it live (``"rtsp"``, ``"udpsrc"``).
    eos_is_loss : bool
        Whether an end of stream means the connection was lost.
    """

    what: str
    eos_is_loss: bool


_ELEMENT_RE = re.compile(r"(?:^|!)\s*(" + "|".join(LIVE_ELEMENTS) + r")(?=\s|!|$)")


def live_source(where: str, value: str, reconnect: bool) -> Optional[LiveSource]:
    """The :class:`LiveSource` for a classified reader source, or None when not live.

    ``where`` and ``value`` come from the reader's classification (``"uri"``, ``"file"``,
    ``"pipeline"``, ``"fragment"``). HTTP(S) URIs count as live only with ``reconnect``
    (otherwise they may be a file download, whose end is a normal end).
    """
    if where == "uri":
        scheme = value.split("://", 1)[0].lower()
        if scheme in LIVE_SCHEMES:
            return LiveSource(scheme, True)
        if scheme in MAYBE_LIVE_SCHEMES and reconnect:
            return LiveSource(scheme, True)
        if scheme in MAYBE_LIVE_SCHEMES:
            return LiveSource(scheme, False)
        return None
    if where in ("pipeline", "fragment"):
        match = _ELEMENT_RE.search(value)
        if match is not None:
            element = match.group(1)
            return LiveSource(element, element != "souphttpsrc" or reconnect)
    return None


# Live source elements that retry by themselves unless told not to: factory -> property.
_SELF_RECONNECTING = {"srtsrc": "auto-reconnect", "srtclientsrc": "auto-reconnect"}


def own_reconnects(pipeline: GstPipeline) -> None:
    """Turn off the retrying of the live sources in ``pipeline`` (now and as they are
    added): the reader decides what a lost connection means (see the module docs)."""
    from . import _gi

    Gst = _gi.Gst()

    def tune(element: Any) -> None:
        factory = element.get_factory()
        prop = _SELF_RECONNECTING.get(factory.get_name()) if factory is not None else None
        if prop is not None and element.find_property(prop) is not None:
            element.set_property(prop, False)

    def added(_bin: Any, _sub_bin: Any, element: Any) -> None:
        tune(element)

    for element in pipeline.get_by_cls(Gst.Element):
        tune(element)
    pipeline.pipeline.connect("deep-element-added", added)


def policy(reconnect: Union[bool, Reconnect, None]) -> Optional[Reconnect]:
    """``reconnect=`` as a :class:`Reconnect` (None when off)."""
    if reconnect is None or reconnect is False:
        return None
    if reconnect is True:
        return Reconnect()
    if isinstance(reconnect, Reconnect):
        return reconnect
    raise ArgumentTypeError(f"reconnect must be a bool or a gstreamer.Reconnect, not {reconnect!r}")


def connection_lost(
    source: str,
    reason: str,
    error: Optional[PipelineError] = None,
    attempts: int = 0,
) -> ConnectionLostError:
    """A :class:`ConnectionLostError` for ``source``, carrying ``error``'s facts."""
    if reason == "stall":
        message = "the live source sent no frame"
    elif reason == "end of stream":
        message = "the live source ended the stream"
    else:
        message = "the live source failed"
    if error is not None:
        message += f" ({error.message})"
    if attempts:
        message += f"; gave up after {attempts} reconnect attempt{'s' * (attempts > 1)}"
    lost = ConnectionLostError(
        message,
        source=source,
        attempts=attempts,
        reason=reason,
        **facts(error),
    )
    lost.__cause__ = error
    return lost


def endless_stream(pipeline: GstPipeline) -> bool:
    """Whether ``pipeline`` reads a stream that has no end of its own: Motion JPEG over
    HTTP (``multipart/x-mixed-replace``, demuxed by ``multipartdemux``). Its end is a lost
    connection, with or without ``reconnect``; an ``http(s)://`` file download is not."""
    from . import _gi

    Gst = _gi.Gst()
    if pipeline.pipeline is None:
        return False
    for element in pipeline.get_by_cls(Gst.Element):
        factory = element.get_factory()
        if factory is not None and factory.get_name() == "multipartdemux":
            return True
    return False


def is_connection_error(error: PipelineError) -> bool:
    """Whether ``error`` from a live source means the connection is gone (resource errors)."""
    return error.domain == "gst-resource-error-quark" or isinstance(error, ConnectionLostError)


class Schedule:
    """Where one live source is in its :class:`Reconnect` schedule.

    The bookkeeping shared by the healing read of a :class:`~gstreamer.Reader`
    (:class:`Healer`) and the sources of a :class:`~gstreamer.MultiReader`: when the next
    attempt is due, when the attempts have run out, and how many reconnections gave frames
    again.

    Parameters
    ----------
    policy : Reconnect
    connectionless : bool
        ``udpsrc``: no server to spare, and a sender that comes back is only heard while a
        pipeline listens, so every attempt is made at once (no backoff).
    """

    def __init__(self, policy: Reconnect, connectionless: bool = False) -> None:
        self.policy = policy
        self.connectionless = connectionless
        self.reconnects = 0
        self.attempt = 0  # attempts since the last frame
        self.recovering = False  # a loss happened and no frame came since
        self.next_attempt = 0.0
        self.last_reason = ""
        self.last_error: Optional[PipelineError] = None

    def lose(self, reason: str, error: Optional[PipelineError] = None) -> None:
        """The connection is gone (``reason``: "error", "end of stream" or "stall")."""
        self.recovering = True
        self.last_reason = reason
        if error is not None:
            self.last_error = error
        self.next_attempt = time.monotonic() + self._delay(self.attempt + 1)

    def _delay(self, attempt: int) -> float:
        return 0.0 if self.connectionless else self.policy.delay(attempt)

    @property
    def exhausted(self) -> bool:
        """Whether the policy's ``attempts`` have all been made since the last frame."""
        attempts = self.policy.attempts
        return attempts is not None and self.attempt >= attempts

    def due(self) -> bool:
        """Whether the next attempt may be made now."""
        return time.monotonic() >= self.next_attempt

    def attempting(self) -> int:
        """Count an attempt that starts now; returns its number (1, 2...)."""
        self.attempt += 1
        return self.attempt

    def attempt_failed(self, error: PipelineError) -> None:
        """The attempt could not start a pipeline: schedule the next one."""
        self.last_error = error
        self.next_attempt = time.monotonic() + self._delay(self.attempt + 1)

    def frame(self) -> bool:
        """A frame arrived: reset the attempts; True when it ends a reconnection."""
        self.attempt = 0
        if not self.recovering:
            return False
        self.recovering = False
        self.reconnects += 1
        return True

    def give_up(self, source: str) -> ConnectionLostError:
        """The :class:`~gstreamer.ConnectionLostError` for attempts that ran out."""
        return connection_lost(source, self.last_reason, self.last_error, self.attempt)


class Healer(Schedule):
    """The reconnecting read of one :class:`~gstreamer.Reader` (see the module docs).

    It drives the reader through its pipeline hooks: ``reader._open()`` builds and starts a
    new pipeline, ``reader._drop_pipeline()`` tears the current one down (returning the
    frames it held unread), ``reader._running()`` gives the current pipeline and puller, and
    ``reader._deliver(frame)`` hands a frame out.
    """

    def __init__(self, policy: Reconnect, source: str, connectionless: bool = False) -> None:
        super().__init__(policy, connectionless)
        self.source = source
        self.dropped = 0  # frames not read from pipelines already torn down
        self.down = False  # no pipeline: the next step is an attempt
        self.since = time.monotonic()  # last frame, or start of the current pipeline

    # -- losing and reopening --------------------------------------------------------

    def lost(self, reader: Reader, reason: str, error: Optional[PipelineError] = None) -> None:
        """The connection is gone: tear the pipeline down and schedule the next attempt."""
        log.info("%s: connection lost (%s%s)", self.source, reason, f": {error}" if error else "")
        self.dropped += reader._drop_pipeline()
        self.down = True
        self.lose(reason, error)

    def _give_up(self) -> ConnectionLostError:
        return self.give_up(self.source)

    def _reopen(self, reader: Reader, deadline: float, limit: float) -> None:
        """Wait for the next attempt (not past ``deadline``) and make it."""
        if self.exhausted:
            raise self._give_up()
        while True:
            now = time.monotonic()
            if reader.closed:
                raise ClosedError("Reader was closed while reconnecting")
            if now >= self.next_attempt:
                break
            if now >= deadline:
                raise TimeoutError(
                    f"no frame within {limit} s from {self.source!r}: reconnecting "
                    f"(attempt {self.attempt + 1} in {self.next_attempt - now:.1f} s)"
                )
            time.sleep(min(_SLICE, self.next_attempt - now, max(deadline - now, 0.0)))
        log.info("%s: reconnect attempt %d", self.source, self.attempting())
        try:
            reader._open()
        except (ParseError, MissingElementError):
            raise
        except PipelineError as exc:
            self.attempt_failed(exc)
            return
        self.down = False
        self.since = time.monotonic()

    # -- reading ---------------------------------------------------------------------

    def read(self, reader: Reader, limit: float) -> Frame:
        """The next frame, reconnecting as needed; raises TimeoutError after ``limit`` s."""
        deadline = time.monotonic() + limit
        while True:
            if reader.closed:
                raise ClosedError("Reader was closed while reading")
            if self.down:
                self._reopen(reader, deadline, limit)
                continue
            pipeline, puller = reader._running()
            error = pipeline.error
            if error is not None:
                with contextlib.suppress(PipelineError):
                    pipeline.raise_for_error()  # handled here: shutdown stays quiet
                self.lost(reader, "error", error)
                continue
            now = time.monotonic()
            remaining = deadline - now
            frame = puller.pull(min(max(remaining, 0.0), _SLICE))
            if frame is not None:
                self.since = time.monotonic()
                if self.frame():
                    log.info("%s: frames are back (reconnect %d)", self.source, self.reconnects)
                return reader._deliver(frame)
            if puller.is_eos and pipeline.error is None:
                self.lost(reader, "end of stream")
                continue
            if time.monotonic() - self.since > self.policy.stall:
                self.lost(reader, "stall")
                continue
            if remaining <= 0:
                raise TimeoutError(
                    f"no frame within {limit} s from {self.source!r}; the source may be "
                    "stalled (it is rebuilt after stall= seconds without a frame)"
                )

    def stalled_at_start(self, reader: Reader, error: PipelineError) -> None:
        """The first pipeline did not start: reconnect from the first read on."""
        self.last_error = error
        self.last_reason = "error"
        self.down = True
        self.recovering = True
        self.next_attempt = time.monotonic()

    def __repr__(self) -> str:
        state = "down" if self.down else "up"
        return f"<Healer {self.source!r} {state} reconnects={self.reconnects}>"
