"""Frame indices of a video file and reading frames by index (for the torch and Ray modules).

:func:`scan` demuxes a file without decoding it and returns the presentation timestamp of
every video frame (:class:`VideoIndex`). A :class:`Cursor` reads frames ``i, i+1, ...``
from a :class:`~gstreamer.Reader`, seeking (accurately, to the frame's timestamp) only when
asked for a frame that is not the next one.

Processes: a cursor belongs to the process that opened it. :class:`CursorCache` keeps one
per file and per process; after a fork the child leaves the parent's cursors alone (their
streaming threads do not exist in the child: stopping them would hang) and opens its own.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional, Union

import numpy as np

from . import _gi
from ._time import fps_fraction
from .errors import CapsError, PipelineError, TimeoutError
from .pipeline import GstPipeline, quote
from .reader import Reader, _existing_file

__all__ = ["Cursor", "CursorCache", "VideoIndex", "scan"]

_SECOND = 1_000_000_000


@dataclass(frozen=True)
class VideoIndex:
    """The video frames of one file, in presentation order.

    Attributes
    ----------
    path : str
    pts : numpy.ndarray
        int64 nanoseconds, sorted.
    durations : numpy.ndarray
        int64 nanoseconds (from the container; the gap to the next frame where it has none).
    """

    path: str
    pts: np.ndarray
    durations: np.ndarray
    declared_fps: Optional[Fraction] = None
    width: int = 0  # from the caps of the coded stream (0 when unknown)
    height: int = 0

    def __len__(self) -> int:
        return len(self.pts)

    @property
    def fps(self) -> Optional[Fraction]:
        """The container's frame rate, else the average (frames over their time span)."""
        if self.declared_fps:
            return self.declared_fps
        if len(self.pts) == 0:
            return None
        span = int(self.pts[-1] + self.durations[-1] - self.pts[0])
        if span <= 0:
            return None
        return Fraction(len(self.pts) * _SECOND, span).limit_denominator(1001000)

    def resampled(self, fps: Union[int, float, Fraction, str, None]) -> np.ndarray:
        """Source frame indices for ``fps`` (``None``: every frame).

        As torchvision's ``VideoClips``: frame ``k`` of the new rate is source frame
        ``floor(k * source_fps / fps)``.
        """
        n = len(self.pts)
        if fps is None:
            return np.arange(n, dtype=np.int64)
        source = self.fps
        if source is None:
            return np.arange(n, dtype=np.int64)
        target = fps_fraction(fps)
        if target is None:
            return np.arange(n, dtype=np.int64)
        total = int(n * target / source)
        return np.array([int(k * source / target) for k in range(total)], dtype=np.int64)


def scan(path: str, *, timeout: float = 60.0) -> VideoIndex:
    """Demux ``path`` (no decoding) and return the timestamps of its first video stream.

    Raises
    ------
    SourceNotFoundError
        No such file.
    PipelineError
        The file could not be demuxed, or has no video stream.
    """
    Gst = _gi.Gst()
    GstApp = _gi.GstApp()
    path = _existing_file(os.fspath(path))
    linked = threading.Event()

    def on_init(pipeline: GstPipeline) -> None:
        parse = pipeline.get_by_name("parse")
        sink = pipeline.get_by_name("sink")

        def pad_added(element: Any, pad: Any) -> None:
            caps = pad.get_current_caps() or pad.query_caps(None)
            name = caps.get_structure(0).get_name() if caps and caps.get_size() else ""
            if linked.is_set() or not name.startswith(("video/", "image/")):
                return
            if pad.link(sink.get_static_pad("sink")) == Gst.PadLinkReturn.OK:
                linked.set()

        def no_more_pads(element: Any) -> None:
            if not linked.is_set():
                GLib = _gi.GLib()
                error = GLib.Error.new_literal(
                    Gst.stream_error_quark(),
                    f"{path!r} has no video stream",
                    int(Gst.StreamError.WRONG_TYPE),
                )
                element.post_message(Gst.Message.new_error(element, error, "no video pad"))

        parse.connect("pad-added", pad_added)
        parse.connect("no-more-pads", no_more_pads)

    pipeline = GstPipeline(
        f"filesrc location={quote(path)} ! parsebin name=parse "
        "appsink name=sink sync=false async=false enable-last-sample=false",
        on_init=on_init,
    )
    pts: list[int] = []
    durations: list[int] = []
    declared: Optional[Fraction] = None
    size = (0, 0)
    pipeline.startup()
    try:
        sink = pipeline.get_by_name("sink")
        assert isinstance(sink, GstApp.AppSink)
        deadline = time.monotonic() + timeout
        while True:
            sample = sink.try_pull_sample(50_000_000)
            if sample is not None:
                if declared is None:
                    declared = _framerate(sample.get_caps())
                    size = _size(sample.get_caps())
                buffer = sample.get_buffer()
                if buffer.pts != Gst.CLOCK_TIME_NONE:
                    pts.append(int(buffer.pts))
                    durations.append(
                        -1 if buffer.duration == Gst.CLOCK_TIME_NONE else int(buffer.duration)
                    )
                continue
            pipeline.raise_for_error()
            if sink.is_eos() or pipeline.is_done:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"scanning {path!r} took more than {timeout} s")
    finally:
        pipeline.shutdown(eos=False, raise_errors=False)
    pipeline.raise_for_error()
    if not pts:
        raise PipelineError(f"{path!r} has no video frames")
    order = np.argsort(np.array(pts, dtype=np.int64), kind="stable")
    pts_arr = np.array(pts, dtype=np.int64)[order]
    dur_arr = np.array(durations, dtype=np.int64)[order]
    gaps = np.diff(pts_arr, append=pts_arr[-1] + (pts_arr[-1] - pts_arr[-2] if len(pts) > 1 else 0))
    dur_arr = np.where(dur_arr > 0, dur_arr, gaps)
    return VideoIndex(
        path=path,
        pts=pts_arr,
        durations=dur_arr,
        declared_fps=declared or None,
        width=size[0],
        height=size[1],
    )


def _size(caps: Any) -> tuple[int, int]:
    """``(width, height)`` from caps, ``(0, 0)`` when absent."""
    if caps is None or caps.get_size() == 0:
        return (0, 0)
    structure = caps.get_structure(0)
    ok_w, width = structure.get_int("width")
    ok_h, height = structure.get_int("height")
    return (width, height) if ok_w and ok_h else (0, 0)


def _framerate(caps: Any) -> Fraction:
    """The caps' ``framerate`` (0 when absent or variable)."""
    if caps is None or caps.get_size() == 0:
        return Fraction(0)
    ok, num, den = caps.get_structure(0).get_fraction("framerate")
    return Fraction(num, den) if ok and den else Fraction(0)


class Cursor:
    """Reads frames of one file by index, through one :class:`~gstreamer.Reader`.

    Parameters
    ----------
    index : VideoIndex
    size : (int, int), optional
        ``(width, height)`` to scale to.
    format : str
    """

    def __init__(
        self,
        index: VideoIndex,
        *,
        size: Optional[tuple[int, int]] = None,
        format: str = "RGB",
        timeout: float = 30.0,
    ) -> None:
        self.index = index
        self.size = size
        self.format = format
        self.timeout = timeout
        self._reader: Optional[Reader] = None
        self._next = 0  # the source frame index the reader gives next
        self.seeks = 0
        self.pid = os.getpid()

    def _open(self) -> Reader:
        width, height = self.size if self.size is not None else (None, None)
        reader = Reader(
            self.index.path,
            format=self.format,
            width=width,
            height=height,
            timeout=self.timeout,
            max_buffers=4,
        )
        self._reader = reader
        self._next = 0
        return reader

    def read(self, first: int, count: int = 1) -> list[np.ndarray]:
        """Source frames ``first .. first + count - 1`` as owned arrays."""
        n = len(self.index)
        if first < 0 or count < 1 or first + count > n:
            raise IndexError(f"frames {first}..{first + count - 1} of a {n}-frame video")
        reader = self._reader if self._reader is not None else self._open()
        near = self._next <= first <= self._next + 8  # then read on, skipping a few
        if not near and not self._seek(reader, first) and first < self._next:
            reader.close()  # cannot seek back: start again
            reader = self._open()
        frames: list[np.ndarray] = []
        while len(frames) < count:
            frame = reader.read()
            if frame is None:
                raise PipelineError(
                    f"{self.index.path!r} ended at frame {self._next} (index says {n} frames)"
                )
            position = self._position(frame.pts)
            if position < first:  # before the wanted frame (after a seek, or skipping)
                self._next = position + 1
                continue
            data = frame.data
            if not isinstance(data, np.ndarray):
                raise CapsError(f"format {self.format!r} gives planes; use RGB, GRAY8, ...")
            frames.append(np.array(data, copy=True))
            self._next = position + 1
        return frames

    def _position(self, pts: Optional[int]) -> int:
        """The index of the frame shown at ``pts`` (the last frame starting at or before it)."""
        if pts is None:
            return self._next
        return max(0, int(np.searchsorted(self.index.pts, pts, side="right")) - 1)

    def _tolerance(self) -> int:
        return int(min(1_000_000, int(self.index.durations.min()) // 4))

    def _seek(self, reader: Reader, first: int) -> bool:
        """Flushing, accurate seek to frame ``first``'s timestamp; False if it failed."""
        Gst = _gi.Gst()
        pipeline = reader.pipeline
        if pipeline is None or pipeline.pipeline is None:
            return False  # ended: the reader has stopped
        element = pipeline.pipeline
        element.get_state(int(self.timeout * Gst.SECOND))  # the seek needs a prerolled pipeline
        # just after the frame's start: the frame before, whose end may be rounded a little
        # past it (Matroska's millisecond timestamps), is then wholly before the segment and
        # dropped; the frame itself comes out with its start clipped to ``target``
        target = int(self.index.pts[first]) + self._tolerance()
        flags = Gst.SeekFlags.FLUSH | Gst.SeekFlags.ACCURATE
        if not element.seek_simple(Gst.Format.TIME, flags, target):
            return False
        self._next = first
        self.seeks += 1
        return True

    def close(self) -> None:
        """Stop the reader (only in the process that opened it); idempotent."""
        reader, self._reader = self._reader, None
        if reader is not None and os.getpid() == self.pid:
            reader.close()


_orphans: list[Any] = []  # cursors inherited through fork: never stopped, never collected


class CursorCache:
    """One :class:`Cursor` per file, per process (see the module documentation)."""

    def __init__(self, size: Optional[tuple[int, int]], format: str) -> None:
        self.size = size
        self.format = format
        self._pid = os.getpid()
        self._cursors: dict[str, Cursor] = {}

    def get(self, index: VideoIndex) -> Cursor:
        if os.getpid() != self._pid:
            self._forget_inherited()
        cursor = self._cursors.get(index.path)
        if cursor is None:
            cursor = Cursor(index, size=self.size, format=self.format)
            self._cursors[index.path] = cursor
        return cursor

    def _forget_inherited(self) -> None:
        for cursor in self._cursors.values():
            reader = cursor._reader
            if reader is not None:
                finalizer = getattr(reader, "_finalizer", None)
                if finalizer is not None:
                    finalizer.detach()
                _orphans.append(reader)
        self._cursors = {}
        self._pid = os.getpid()

    def close(self) -> None:
        if os.getpid() != self._pid:
            self._forget_inherited()
            return
        for cursor in self._cursors.values():
            cursor.close()
        self._cursors = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"size": self.size, "format": self.format}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["size"], state["format"])  # type: ignore[misc]
