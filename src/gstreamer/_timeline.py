"""Presentation times and keyframe flags of decoded frames, as the container states them.

GStreamer hands decoded buffers out with *running-segment* timestamps: an MP4 whose edit
list starts the presentation at 66.7 ms gives its first frame ``pts=66666666`` in a segment
with ``start=66666666, time=0``. Players show the *stream time* (0 here), and so do ffprobe,
PyAV and friends; :func:`stream_time` converts. MPEG-TS (and PS) clocks start anywhere, so
their times are made relative to the first frame.

Decoders also drop the container's sync flags (every decoded buffer comes out without
``DELTA_UNIT``). :class:`DecoderWatch` watches the buffers going *into* the decoder and
remembers which presentation times were sync samples, so the decoded frame with that time
can be flagged.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Optional

from . import _gi
from .errors import InvalidMediaError, PipelineError, facts

__all__ = [
    "DecoderWatch",
    "as_invalid_media",
    "invalid_media_as",
    "is_decoder",
    "is_invalid_media",
    "is_ts_demuxer",
    "StallCheck",
    "stalled_demuxer",
    "stream_time",
]

# Containers whose timestamps do not start at 0 by design: times are made relative to the
# first frame (what the ffprobe numbers minus the first frame's say).
_TS_DEMUXERS = ("tsdemux", "mpegpsdemux", "mpegtsdemux")

# Keyframe times remembered at most (a decoder that drops frames must not make it grow).
_MAX_KEYS = 4096


def is_decoder(element: Any) -> bool:
    """True for a video decoder element (its factory's klass names ``Decoder`` and ``Video``)."""
    factory = element.get_factory()
    if factory is None:
        return False
    klass = factory.get_metadata("klass") or ""
    return "Decoder" in klass and "Video" in klass


def is_ts_demuxer(element: Any) -> bool:
    factory = element.get_factory()
    return factory is not None and factory.get_name() in _TS_DEMUXERS


def stream_time(segment: Any, pts: Optional[int]) -> Optional[int]:
    """The stream time (ns) of a buffer timestamp within ``segment``; None when outside it."""
    if pts is None or segment is None:
        return pts
    Gst = _gi.Gst()
    if segment.format != Gst.Format.TIME:
        return pts
    value = segment.to_stream_time(Gst.Format.TIME, pts)
    if value < 0 or value == Gst.CLOCK_TIME_NONE:
        return None
    return int(value)


class DecoderWatch:
    """Follows the buffers entering a decodebin's video decoder.

    Connect :meth:`element_added` to the bin's ``deep-element-added`` signal. It records the
    timestamps of sync (key) samples, and for MPEG-TS/PS the stream time of the first
    sample, which becomes time 0 (:attr:`base`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: OrderedDict[int, None] = OrderedDict()
        self._relative = False
        self._base: Optional[int] = None
        self._segment: Any = None
        self.decoders: list[str] = []

    @property
    def base(self) -> int:
        """Stream time (ns) subtracted from every frame's time (0 except for MPEG-TS/PS)."""
        return (self._base or 0) if self._relative else 0

    @property
    def base_known(self) -> bool:
        return not self._relative or self._base is not None

    def element_added(self, bin: Any, sub_bin: Any, element: Any) -> None:
        if is_ts_demuxer(element):
            self._relative = True
        if not is_decoder(element):
            return
        Gst = _gi.Gst()
        self.decoders.append(element.get_name())
        pad = element.get_static_pad("sink")
        if pad is not None:
            pad.add_probe(
                Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM, self._on_input
            )

    def _on_input(self, pad: Any, info: Any) -> Any:
        Gst = _gi.Gst()
        if info.type & Gst.PadProbeType.BUFFER:
            buffer = info.get_buffer()
            pts = buffer.pts
            if pts != Gst.CLOCK_TIME_NONE:
                with self._lock:
                    if self._relative and self._base is None:
                        self._base = stream_time(self._segment, pts)
                    if not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT):
                        self._keys[int(pts)] = None
                        while len(self._keys) > _MAX_KEYS:
                            self._keys.popitem(last=False)
            return Gst.PadProbeReturn.OK
        event = info.get_event()
        if event.type == Gst.EventType.SEGMENT:
            segment = event.parse_segment()
            with self._lock:
                self._segment = segment.copy()
        return Gst.PadProbeReturn.OK

    def is_key(self, pts: Optional[int]) -> bool:
        """True when the decoder received ``pts`` (a buffer timestamp) as a sync sample."""
        if pts is None:
            return False
        with self._lock:
            return self._keys.pop(int(pts), 0) is None


# GStreamer's words for "this is not media" or "the media is broken" (typefind, demuxers,
# parsers, decoders).
_INVALID_MEDIA_TEXT = (
    "Could not determine type of stream",
    "no suitable plugins found",
    "This file is corrupt",
    "This file is incomplete",
    "file is invalid",
    "Could not demultiplex stream",
    "Could not decode stream",
    "corrupt",
    "No valid frames",
    "contains no playable streams",
    "appears to be a text file",
    "Stream contains no data",  # typefind on an empty file
)

_INVALID_MEDIA_HINT = (
    "the file is not a media file GStreamer can read, is corrupt or truncated (or its format "
    "needs a plugin that is not installed); check it with: gst-discoverer-1.0 <file>"
)


def is_invalid_media(exc: PipelineError) -> bool:
    """True when a pipeline error says the input is not (valid) media."""
    text = f"{exc.message} {exc.debug or ''}"
    return any(words in text for words in _INVALID_MEDIA_TEXT)


def as_invalid_media(exc: PipelineError, filename: Optional[str]) -> InvalidMediaError:
    """The same error as an :class:`InvalidMediaError` (keeping element, debug and code)."""
    hint = exc.hint or _INVALID_MEDIA_HINT
    if filename is not None and _is_empty_file(filename):
        hint = f"{filename!r} is empty (0 bytes): nothing was written to it, or not yet"
    return InvalidMediaError(exc.message, filename=filename, **facts(exc), hint=hint)


def _is_empty_file(filename: str) -> bool:
    try:
        return os.stat(filename).st_size == 0
    except (OSError, ValueError):  # not a local path (a URI, a pipeline)
        return False


@contextlib.contextmanager
def invalid_media_as(filename: Optional[str]) -> Iterator[None]:
    """Inside it, a :class:`~gstreamer.PipelineError` that says the input is not (valid)
    media is raised as an :class:`~gstreamer.InvalidMediaError` for ``filename``."""
    try:
        yield
    except PipelineError as exc:
        if isinstance(exc, InvalidMediaError) or not is_invalid_media(exc):
            raise
        raise as_invalid_media(exc, filename) from None


def stalled_demuxer(bin: Any) -> Optional[str]:
    """The name of a demuxer inside ``bin`` whose reading task has stopped, if any.

    parsebin and decodebin drop an error that a demuxer posts while they are still bringing
    it up (it is "filtered" in case another demuxer is tried), so a truncated MP4 can leave
    the pipeline waiting forever with no error. A pull-mode demuxer whose task is no longer
    running and that exposed no stream has given up: the caller reports invalid media.
    """
    from .pipeline import iterate

    Gst = _gi.Gst()
    for element in iterate(bin.iterate_recurse()):
        factory = element.get_factory()
        klass = (factory.get_metadata("klass") or "") if factory is not None else ""
        if "Demux" not in klass:
            continue
        if element.numsrcpads > 0:
            continue  # it found streams (and may simply have read everything already)
        pad = element.get_static_pad("sink")
        if pad is None or pad.mode != Gst.PadMode.PULL:
            continue
        if pad.get_task_state() != Gst.TaskState.STARTED:
            return str(element.get_name())
    return None


class StallCheck:
    """Raises :class:`InvalidMediaError` once a demuxer is seen stalled twice, 0.1 s apart
    (one sighting could be the moment between pad activation and task start)."""

    def __init__(self, filename: Optional[str]) -> None:
        self.filename = filename
        self._seen: Optional[float] = None
        self._last = 0.0

    def check(self, bin: Any) -> None:
        import time

        now = time.monotonic()
        if bin is None or now - self._last < 0.05:
            return
        self._last = now
        name = stalled_demuxer(bin)
        if name is None:
            self._seen = None
        elif self._seen is None:
            self._seen = now
        elif now - self._seen >= 0.1:
            raise stalled_error(name, self.filename)


def stalled_error(name: str, filename: Optional[str]) -> InvalidMediaError:
    return InvalidMediaError(
        "the demuxer stopped before finding a stream: the file is corrupt, truncated or not "
        "a media file",
        filename=filename,
        element=name,
        hint=_INVALID_MEDIA_HINT,
    )
