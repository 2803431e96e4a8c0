"""Recording to many files: :class:`SegmentWriter` (splitmuxsink) and :class:`HlsWriter`
(hlssink2).

Both are :class:`~gstreamer.Writer` objects (same ``write``, ``close``, ``with``, counters)
whose pipeline ends in a multi-file sink instead of one file:

* :class:`SegmentWriter` cuts the stream into files of ``every`` seconds, each starting with
  a keyframe and playable on its own; ``max_files`` keeps only the newest files (a dashcam's
  ring buffer). Finished segments are listed in :attr:`SegmentWriter.segments` and handed to
  ``on_segment``.
* :class:`HlsWriter` writes an HLS stream (MPEG-TS segments and ``playlist.m3u8``) into a
  folder, for any HLS player; ``gstreamer serve hls FOLDER`` serves it over HTTP.

Keyframes are forced at every cut: the encoder is asked for one every ``every`` (or
``segment``) seconds, and the sink requests one at each cut as well.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

from . import _gi
from ._durable import DiskSync
from ._lifecycle import weak_method
from ._time import FrameRate, fps_fraction
from .encoders import EncoderChoice, describe, parser_for
from .errors import ArgumentError, TargetDirectoryError
from .pipeline import GstPipeline, quote
from .writer import (
    CrashSafe,
    Writer,
    _check_directory,
    _encoder_for,
    _video_convert,
    crash_safe_seconds,
)

if TYPE_CHECKING:
    from typing import Unpack

    from .writer import VideoWriterOptions

__all__ = ["HlsWriter", "Segment", "SegmentWriter"]

log = logging.getLogger("gstreamer.writer")

_SECOND = 1_000_000_000

# container of a segment pattern's extension -> splitmuxsink muxer factory
_SEGMENT_MUXERS = {
    ".mp4": "mp4mux",
    ".m4v": "mp4mux",
    ".mov": "qtmux",
    ".mkv": "matroskamux",
    ".ts": "mpegtsmux",
}


@dataclass(frozen=True)
class Segment:
    """One finished segment file.

    Attributes
    ----------
    path : str
        The file.
    index : int
        Its number in the pattern (wraps around with ``max_files``).
    start, end : float
        Stream time in seconds of its first frame and of its end.
    """

    path: str
    index: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        """Seconds of media in the segment."""
        return self.end - self.start


def _check_pattern(pattern: str) -> str:
    if len(re.findall(r"%0?\d*d", pattern)) != 1 or pattern.count("%") != 1:
        raise ArgumentError(
            f"pattern must hold exactly one %d (for example 'seg%05d.mp4'), not {pattern!r}"
        )
    _check_directory(pattern)
    return pattern


def _keyframe_encoder(encoder: EncoderChoice, fps: FrameRate, every: float) -> str:
    """The encoder fragment with a keyframe every ``every`` seconds when it can be told."""
    text = describe(encoder)
    rate = fps_fraction(fps)
    if rate and encoder.name == "x264enc":
        text += f" key-int-max={max(1, round(float(rate) * every))}"
    return text


class _H264FilesWriter(Writer):
    """A :class:`~gstreamer.Writer` whose H.264 stream ends in a multi-file sink, with a
    keyframe forced at every cut."""

    def __init__(
        self,
        target: Union[str, os.PathLike[str]],
        fps: FrameRate,
        options: VideoWriterOptions,
        *,
        crash_safe: CrashSafe,
        durable: bool = True,
    ) -> None:
        self._fps_for_keyframes = fps
        super().__init__(target, fps=fps, crash_safe=crash_safe, durable=durable, **options)

    def _h264_into(self, sink: str, every: float, encoder: str) -> str:
        """``appsrc ! convert ! H.264 encoder (a keyframe every ``every`` s) ! parser ! sink``."""
        self._encoder = _encoder_for("h264", encoder)
        parts = [
            "appsrc name=src",
            _video_convert(),
            _keyframe_encoder(self._encoder, self._fps_for_keyframes, every),
            parser_for(self._encoder.description) if self._encoder.name else "",
            sink,
        ]
        return " ! ".join(p for p in parts if p)


class SegmentWriter(_H264FilesWriter):
    """Write video frames into a series of files of ``every`` seconds (``splitmuxsink``).

    Parameters
    ----------
    pattern : str or os.PathLike
        File names with one ``%d`` for the segment number (``"seg%05d.mp4"``); the extension
        picks the container: ``.mp4``, ``.mov``, ``.mkv`` or ``.ts`` (H.264).
    fps : int, float or Fraction
        Frame rate (as for :class:`~gstreamer.Writer`).
    every : float
        Seconds per segment. A keyframe is forced at every cut, so each segment starts with
        a keyframe and plays on its own.
    max_files : int, optional
        Keep only the newest ``max_files`` segments on disk (the numbers wrap around and old
        files are overwritten): a ring buffer.
    on_segment : callable, optional
        ``on_segment(segment)`` with a :class:`Segment` for each finished file. It is called
        in the writing thread, from :meth:`write` or :meth:`close`.
    crash_safe : bool or float
        MP4/MOV segments: the segment being written plays after a crash (as for
        :class:`~gstreamer.Writer`).
    durable : bool
        Crash-safe MP4/MOV segments: each is synced to the disk at every fragment and when
        it is finished (as for :class:`~gstreamer.Writer`).
    **options
        ``format``, ``caps``, ``encoder``, ``backpressure``, ``max_buffers``, ``live``,
        ``timeout``, ``copy``: as for :class:`~gstreamer.Writer`
        (:class:`~gstreamer.writer.VideoWriterOptions`).

    Attributes
    ----------
    segments : list of Segment
        The finished segments still on disk, oldest first.
    """

    def __init__(
        self,
        pattern: Union[str, os.PathLike[str]],
        *,
        fps: FrameRate = 30,
        every: float = 10.0,
        max_files: Optional[int] = None,
        on_segment: Optional[Callable[[Segment], Any]] = None,
        crash_safe: CrashSafe = True,
        durable: bool = True,
        **options: Unpack[VideoWriterOptions],
    ) -> None:
        if not every > 0:
            raise ArgumentError(f"every must be seconds > 0, not {every!r}")
        if max_files is not None and max_files < 1:
            raise ArgumentError(f"max_files must be None or at least 1, not {max_files!r}")
        self.every = float(every)
        self.max_files = max_files
        self.on_segment = on_segment
        self.segments: list[Segment] = []
        self._pending: list[Segment] = []
        self._segment_lock = threading.Lock()
        self._last_end = 0.0
        self._closed = 0
        super().__init__(pattern, fps, options, crash_safe=crash_safe, durable=durable)

    def _describe(self, target: Union[str, os.PathLike[str]], encoder: str) -> str:
        pattern = _check_pattern(os.fspath(target))
        ext = os.path.splitext(pattern)[1].lower()
        muxer = _SEGMENT_MUXERS.get(ext)
        if muxer is None:
            raise ArgumentError(
                f"{pattern!r}: segments are {', '.join(_SEGMENT_MUXERS)} files (H.264)"
            )
        split = (
            f"splitmuxsink name=split location={quote(pattern)} "
            f"max-size-time={round(self.every * _SECOND)} send-keyframe-requests=true"
        )
        if self.max_files is not None:
            split += f" max-files={int(self.max_files)}"
        self._split_muxer: tuple[str, dict[str, str]] = (muxer, {})
        self._split_sink: dict[str, str] = {}
        seconds = crash_safe_seconds(self._crash_safe)
        if seconds > 0 and muxer in ("mp4mux", "qtmux"):
            self._split_muxer = (
                muxer,
                {
                    "fragment-duration": str(max(1, round(seconds * 1000))),
                    "fragment-mode": "first-moov-then-finalise",
                },
            )
            self._split_sink = {"buffer-mode": "unbuffered"}
            if self._durable:
                self._disk_sync = DiskSync()
        return self._h264_into(split, self.every, encoder)

    def _attach_feeders(self, pipeline: GstPipeline) -> None:
        """``on_init``: the appsrc, splitmuxsink's muxer and sink, and the segment messages."""
        super()._attach_feeders(pipeline)
        Gst = _gi.Gst()
        split = pipeline.get_by_name("split")
        factory, properties = self._split_muxer
        muxer = Gst.ElementFactory.make(factory, None)
        for key, value in properties.items():
            Gst.util_set_object_arg(muxer, key, value)
        split.set_property("muxer", muxer)
        if self._split_sink:
            sink = Gst.ElementFactory.make("filesink", None)
            for key, value in self._split_sink.items():
                Gst.util_set_object_arg(sink, key, value)
            split.set_property("sink", sink)
            if self._disk_sync is not None:
                self._disk_sync.attach(sink)
        pipeline.add_message_callback(weak_method(self._on_message))

    def _attach_disk_sync(self, pipeline: GstPipeline, disk_sync: DiskSync) -> None:
        """The segments' sink is made in :meth:`_attach_feeders`, which attaches it."""

    def _on_message(self, message: Any) -> None:
        """Streaming thread: note each closed fragment (reported in the writer's thread)."""
        Gst = _gi.Gst()
        if message.type != Gst.MessageType.ELEMENT:
            return
        structure = message.get_structure()
        if structure is None or structure.get_name() != "splitmuxsink-fragment-closed":
            return
        path = structure.get_string("location")
        ok, running = structure.get_uint64("running-time")
        end = running / _SECOND if ok else math.nan
        with self._segment_lock:
            count = self._closed
            self._closed += 1
            index = count % self.max_files if self.max_files else count
            segment = Segment(path or "", index, self._last_end, end)
            self._last_end = end
            self._pending.append(segment)

    def _report(self) -> None:
        """Move finished segments to :attr:`segments` and call ``on_segment``."""
        with self._segment_lock:
            pending, self._pending = self._pending, []
        for segment in pending:
            # a ring buffer overwrites a file: the older entry for it is gone
            self.segments = [s for s in self.segments if s.path != segment.path]
            self.segments.append(segment)
            if self.on_segment is not None:
                self.on_segment(segment)

    def write(self, frame: Any, pts: Any = None, duration: Any = None) -> bool:
        """Write one frame (see :meth:`gstreamer.Writer.write`); reports finished segments."""
        sent = super().write(frame, pts, duration)
        if self._pending:
            self._report()
        return sent

    def close(self, timeout: Optional[float] = None) -> None:
        """Finish the last segment (see :meth:`gstreamer.Writer.close`); reports it."""
        try:
            super().close(timeout)
        finally:
            self._report()


class HlsWriter(_H264FilesWriter):
    """Write video frames as an HLS stream: MPEG-TS segments and ``playlist.m3u8``.

    Parameters
    ----------
    folder : str or os.PathLike
        An existing folder; the writer puts ``playlist.m3u8`` and ``segment00000.ts``... in
        it.
    fps : int, float or Fraction
        Frame rate.
    segment : float
        Target seconds per segment (whole seconds: hlssink2 counts in seconds); a keyframe is
        forced at every cut.
    window : int, optional
        None: the playlist lists every segment and all files stay (a recording, ended with
        ``#EXT-X-ENDLIST`` by :meth:`close`). N: a live sliding window of the newest N
        segments; older files are deleted (a few more than N are kept for slow clients).
    **options
        ``format``, ``caps``, ``encoder``, ``backpressure``, ``max_buffers``, ``live``,
        ``timeout``, ``copy``: as for :class:`~gstreamer.Writer`
        (:class:`~gstreamer.writer.VideoWriterOptions`).

    Attributes
    ----------
    playlist : str
        Path of ``playlist.m3u8``.
    """

    PLAYLIST = "playlist.m3u8"
    SEGMENTS = "segment%05d.ts"

    def __init__(
        self,
        folder: Union[str, os.PathLike[str]],
        *,
        fps: FrameRate = 30,
        segment: float = 2.0,
        window: Optional[int] = None,
        **options: Unpack[VideoWriterOptions],
    ) -> None:
        if not segment >= 1:
            raise ArgumentError(f"segment must be at least 1 second, not {segment!r}")
        if window is not None and window < 1:
            raise ArgumentError(f"window must be None or at least 1, not {window!r}")
        self.folder = os.fspath(folder)
        if not os.path.isdir(self.folder):
            raise TargetDirectoryError(
                f"cannot write HLS into {self.folder!r}: not an existing folder",
                filename=self.folder,
            )
        self.segment = float(segment)
        self.window = window
        self.playlist = os.path.join(self.folder, self.PLAYLIST)
        super().__init__(self.folder, fps, options, crash_safe=False)

    def _describe(self, target: Union[str, os.PathLike[str]], encoder: str) -> str:
        seconds = max(1, round(self.segment))
        window = self.window
        sink = (
            f"hlssink2 name=hls location={quote(os.path.join(self.folder, self.SEGMENTS))} "
            f"playlist-location={quote(self.playlist)} target-duration={seconds} "
            f"playlist-length={0 if window is None else int(window)} "
            f"max-files={0 if window is None else int(window) + 3}"
        )
        return self._h264_into(sink, seconds, encoder)
