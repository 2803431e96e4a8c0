"""``Reader``: frames out of a file, a URI or any pipeline, as NumPy arrays.

::

    for frame in gstreamer.Reader("clip.mp4"):          # Frame: data, pts, duration, ...
        ...
    for rgb in gstreamer.read_frames("videotestsrc num-buffers=10"):
        ...

The source is one of

* a file path (``str`` or :class:`os.PathLike`) or a URI (``file://``, ``http://``, ...),
  decoded with ``decodebin`` / ``uridecodebin``;
* a complete pipeline description with an ``appsink`` (used as it is);
* the start of a pipeline (``"videotestsrc num-buffers=10"``), to which the converter,
  the caps for ``format`` and an ``appsink`` are appended.

End of stream ends iteration (:meth:`Reader.read` returns None); an error posted by any
element is raised at the next call (``next``, :meth:`Reader.read` or :meth:`Reader.close`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Iterator
from fractions import Fraction
from typing import Any, Optional, Union

import numpy as np

from . import _colour, _convert, _gi, _memory, _rotate, live
from ._lifecycle import ErrorSlot, Lifecycle, Readable, State, weak_method
from ._progress import ProgressCallback, finish, progress_hook, stream_duration
from ._timeline import (
    DecoderWatch,
    StallCheck,
    as_invalid_media,
    is_invalid_media,
    stream_time,
)
from .appsink import AppSinkPuller
from .caps import AUDIO_FORMATS, VIDEO_FORMATS, AudioLayout, Layout, VideoLayout, fps_str
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    CapsError,
    ClosedError,
    ConnectionLostError,
    InvalidMediaError,
    MissingElementError,
    NotSeekableError,
    ParseError,
    PipelineError,
    SourceNotFoundError,
    TimeoutError,
)
from .frame import Frame
from .live import ReaderStats, Reconnect
from .pipeline import (
    GstPipeline,
    _split_links,
    only_element,
    post_error,
    quote,
    shutdown_quietly,
    suggest_element,
)

__all__ = ["Reader", "read_frames"]

log = logging.getLogger("gstreamer.reader")

Source = Union[str, "os.PathLike[str]"]

# How long one wait inside a blocking call lasts before errors and close() are looked at.
_SLICE = 0.05

# Times within this many ns count as equal (containers' time bases rarely divide 1e9).
_TOLERANCE = 1000


def _seconds_to_ns(t: float, name: str) -> int:
    value = float(t)
    if not value >= 0:  # also rejects NaN
        raise ArgumentError(f"{name} must be a time in seconds >= 0, not {t!r}")
    return round(value * 1e9)


_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://\S*$")
_APPSINK_RE = re.compile(r"^\s*appsink(\s|$)")

_GARBAGE_HINT = (
    "the file is not a media file GStreamer can read (or its format needs a plugin that "
    "is not installed); check it with: gst-discoverer-1.0 <file>"
)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _supported_formats() -> str:
    return "video: " + ", ".join(VIDEO_FORMATS) + "; audio: " + ", ".join(AUDIO_FORMATS)


def _media_kind(format: str) -> str:
    """``"video"`` or ``"audio"`` for a format name, else :class:`CapsError`."""
    if format in VIDEO_FORMATS:
        return "video"
    if format in AUDIO_FORMATS:
        return "audio"
    raise CapsError(f"unsupported format {format!r}; supported formats: {_supported_formats()}")


def _has_appsink(description: str) -> bool:
    return any(_APPSINK_RE.match(description[a:b]) for a, b in _split_links(description))


def _looks_like_pipeline(text: str) -> bool:
    """True when ``text`` starts with an installed element's name (``"videotestsrc ..."``)."""
    if any(b < len(text) for _, b in _split_links(text)):
        return True  # has a "!" outside quotes
    first = text.split(None, 1)[0] if text.strip() else ""
    if not first or "=" in first or "/" in first or "." in first:
        return False
    Gst = _gi.Gst()
    if Gst.ElementFactory.find(first) is not None:
        return True
    # a misspelt element ("videotestsrcc num-buffers=10") is a pipeline, so the error names
    # the element (with a suggestion) instead of saying "no such file"
    words = text.split()[1:]
    return any("=" in w for w in words) or suggest_element(first) is not None


def _decoding_head(where: str, value: str) -> str:
    """The decoding start of a pipeline for a ``file`` or ``uri`` source (see _classify)."""
    if where == "uri":
        return f"uridecodebin uri={quote(value)}"
    return f"filesrc location={quote(value)} ! decodebin"


def _classify(source: Source) -> tuple[str, str]:
    """``(kind, value)`` with kind one of ``file``, ``uri``, ``pipeline``, ``fragment``.

    Raises
    ------
    SourceNotFoundError
        ``source`` names a local file that does not exist.
    """
    if isinstance(source, os.PathLike):
        text = os.fspath(source)
        if not isinstance(text, str):
            text = os.fsdecode(text)
        return "file", _existing_file(text)
    if not isinstance(source, str):
        raise ArgumentTypeError(
            f"source must be a path, a URI or a pipeline description, not {source!r}"
        )
    text = source.strip()
    if not text:
        raise ArgumentError("source is empty")
    if _URI_RE.match(text):
        if text.lower().startswith("file://"):
            Gst = _gi.Gst()
            filename = Gst.uri_get_location(text) if Gst.uri_is_valid(text) else None
            if filename is None:
                raise SourceNotFoundError(f"not a valid file URI: {text!r}", filename=text)
            _existing_file(filename)
        return "uri", text
    if os.path.exists(text):
        return "file", _existing_file(text)
    if _looks_like_pipeline(text):
        return ("pipeline" if _has_appsink(text) else "fragment"), text
    return "file", _existing_file(text)


def _existing_file(name: str) -> str:
    # os.path, not pathlib: the Reader's imports stay small (pathlib brings urllib.parse
    # and ipaddress along)
    path = os.path.expanduser(name)
    if not os.path.exists(path):
        raise SourceNotFoundError(f"no such file: {name!r}", filename=name)
    if os.path.isdir(path):
        raise SourceNotFoundError(f"{name!r} is a directory, not a media file", filename=name)
    return path


def _converts(format: str) -> bool:
    """Whether the Reader's appsink takes YUV and converts to ``format`` with libswscale.

    Decoded video is YUV; ``videoconvert`` costs about three times as much CPU as
    libswscale for the step to RGB (and its colours differ from FFmpeg's by a few levels),
    so RGB-like formats are converted in the reading thread (see :mod:`gstreamer._convert`).
    """
    return format in _convert.OUTPUT_FORMATS and _convert.available()


def _caps_for(
    kind: str,
    format: str,
    width: Optional[int],
    height: Optional[int],
    fps: Union[int, float, Fraction, str, None],
    rate: Optional[int],
    channels: Optional[int],
) -> str:
    if kind == "video":
        fields = ""
        if width is not None:
            fields += f",width={int(width)}"
        if height is not None:
            fields += f",height={int(height)}"
        if fps is not None:
            fields += f",framerate={fps_str(fps)}"
        # first choice: the format itself (sources that make RGB stay untouched); else
        # the decoder's YUV, converted to RGB with libswscale in the reading thread
        return _convert.appsink_caps(format, fields)
    caps = f"audio/x-raw,format={format},layout=interleaved"
    if rate is not None:
        caps += f",rate={int(rate)}"
    if channels is not None:
        caps += f",channels={int(channels)}"
    return caps


_CONVERT = "gstreamer_reader_convert"

_ROTATIONS = ("auto", None)


def _check_rotate(rotate: Optional[str]) -> None:
    if rotate not in _ROTATIONS:
        raise ArgumentError(f"rotate must be 'auto' or None, not {rotate!r}")


def _tail(kind: str, caps: str, scale: bool, retime: bool) -> str:
    """Converters, caps and appsink appended after a decoder or a pipeline fragment.

    Rotation (``rotate="auto"``) is not here: :func:`gstreamer._rotate.pad_added` inserts
    it after the decoder when the stream is tagged as rotated.
    """
    if kind == "video":
        n = _cores()
        parts = []
        # named: the Reader pins the colorimetry on its sink pad (see _colour)
        parts.append(f"videoconvert name={_CONVERT} n-threads={n}")
        if scale:
            parts.append(f"videoscale n-threads={n}")
        if retime:
            parts.append("videorate")
    else:
        parts = ["audioconvert", "audioresample"]
    parts.append(caps)
    parts.append("appsink name=sink sync=false enable-last-sample=false")
    return " ! ".join(parts)


def build_description(
    source: Source,
    *,
    format: str = "RGB",
    width: Optional[int] = None,
    height: Optional[int] = None,
    fps: Union[int, float, Fraction, str, None] = None,
    rate: Optional[int] = None,
    channels: Optional[int] = None,
    rotate: Optional[str] = "auto",
) -> str:
    """The pipeline description :class:`Reader` runs for ``source``.

    Raises
    ------
    SourceNotFoundError
        A local file that does not exist.
    CapsError
        ``format`` is not a supported raw video or audio format.
    ValueError
        Size, rate or channels given for a complete pipeline (whose appsink caps rule).
    """
    return _build(source, format, width, height, fps, rate, channels, rotate)[1]


def _build(
    source: Source,
    format: str,
    width: Optional[int],
    height: Optional[int],
    fps: Union[int, float, Fraction, str, None],
    rate: Optional[int],
    channels: Optional[int],
    rotate: Optional[str] = "auto",
) -> tuple[str, str]:
    """``(where, description)``: the kind of source (see :func:`_classify`) and pipeline."""
    kind = _media_kind(format)
    _check_rotate(rotate)
    where, value = _classify(source)
    if kind == "audio" and (width is not None or height is not None or fps is not None):
        raise ArgumentError("width, height and fps apply to video formats, not to audio")
    if kind == "video" and (rate is not None or channels is not None):
        raise ArgumentError("rate and channels apply to audio formats, not to video")
    if where == "pipeline":
        if any(v is not None for v in (width, height, fps, rate, channels)):
            raise ArgumentError(
                "width/height/fps/rate/channels only apply when the Reader builds the end of "
                "the pipeline; put them in the caps before your appsink instead"
            )
        return where, value
    caps = _caps_for(kind, format, width, height, fps, rate, channels)
    scale = width is not None or height is not None
    if where == "fragment":
        return where, f"{value} ! {_tail(kind, caps, scale, fps is not None)}"
    tail = _tail(kind, caps, scale, fps is not None)
    # Only pads of the wanted media type link to the filtered branch.
    wanted = f"{kind}/x-raw(ANY)"
    head = _decoding_head(where, value)
    return where, f"{head} ! {wanted} ! {_decoded_queue(kind, format)}{tail}"


def _decoded_queue(kind: str, format: str) -> str:
    """The queue between the decoder and the converter (with its trailing ``" ! "``).

    When the appsink takes the decoder's YUV (:func:`_converts`), nothing runs between
    decoder and appsink, so a queue would only hold more decoded frames (10 MB of them at
    720p): there is none. When ``videoconvert`` converts, a queue of three frames lets it
    run in its own thread while the decoder goes on.
    """
    if kind != "video":
        return "queue ! "
    if _converts(format):
        return ""
    return "queue max-size-buffers=3 max-size-bytes=0 max-size-time=0 ! "


def _tune_decoder(bin: Any, sub_bin: Any, element: Any) -> None:
    """``deep-element-added`` handler: let libav decoders use every core (local files only).

    gst-libav's automatic threading leaves a core idle on some streams (measured on 2 cores:
    a 720p High 4:4:4 10-bit H.264 clip decoded in 2.97 s with the defaults, 1.53 s with
    frame threads); on ordinary 4:2:0 streams it makes no measurable difference. Frame
    threads add a frame of latency per thread, which only matters for live sources.

    One frame thread per core, not more: each thread holds its own decoded pictures, and a
    third thread on 2 cores added 8 MiB of peak RSS on a 720p H.264 file (24 MiB on the
    4:4:4 10-bit one) without decoding faster.

    Frames libav flags as corrupt (decoded without their reference frames, as after a
    key-unit seek into an MPEG-TS that lands between keyframes) are dropped, as FFmpeg
    itself and its users do: gst-libav hands them out by default, grey or smeared.
    """
    factory = element.get_factory()
    if factory is None or not factory.get_name().startswith("avdec_"):
        return
    if element.find_property("max-threads") is not None:
        element.set_property("max-threads", _cores())
    if element.find_property("thread-type") is not None:
        element.set_property("thread-type", 1)  # frame threads (GstLibAVVidDecThreadType)
    if element.find_property("output-corrupt") is not None:
        element.set_property("output-corrupt", False)


def _single_stream_multipart(bin: Any, sub_bin: Any, element: Any) -> None:
    """``deep-element-added`` handler: an MJPEG stream (``multipart/x-mixed-replace``, as
    from IP cameras and :class:`~gstreamer.streaming.MjpegServer`) is one stream.

    ``multipartdemux`` cannot know that another part type will not follow, so it never
    says "no more pads", and ``decodebin`` exposes the stream only when its queue fills:
    with 160x120 frames that took over a minute (2 MB), a Reader of ``http://.../stream.mjpg``
    timed out. ``single-stream`` makes the demuxer say it after the first part.
    """
    factory = element.get_factory()
    if factory is not None and factory.get_name() == "multipartdemux":
        element.set_property("single-stream", True)


class _StreamCheck:
    """Posts an error when a decodebin has exposed all its pads and none is of ``kind``.

    Without it, a file without the wanted stream (video from a WAV file) can end with the
    stream silently unlinked and the reader waiting for frames that never come.
    """

    def __init__(self, kind: str, format: str) -> None:
        self.kind = kind
        self.format = format
        self.found = False

    def pad_added(self, element: Any, pad: Any) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        if caps is not None and caps.get_size() > 0:
            self.found |= caps.get_structure(0).get_name().startswith(self.kind + "/")

    def no_more_pads(self, element: Any) -> None:
        if self.found:
            return
        Gst = _gi.Gst()
        post_error(
            element,
            Gst.stream_error_quark(),
            Gst.StreamError.WRONG_TYPE,
            f"the source has no {self.kind} stream (format={self.format!r} asks for {self.kind})",
            "no pad of the wanted kind",
        )


class Reader(Lifecycle, Readable[Frame]):
    """Frames from a file, URI or pipeline.

    Parameters
    ----------
    source : str or os.PathLike
        A file path, a URI, a complete pipeline ending in an ``appsink``, or the start of a
        pipeline (``"videotestsrc num-buffers=10"``).
    format : str
        A raw video format (``"RGB"``, ``"GRAY8"``, ``"I420"``, ...) or a raw audio format
        (``"S16LE"``, ``"F32LE"``, ...). Ignored for complete pipelines (their caps rule).
    width, height : int, optional
        Scale video to this size.
    fps : int, float, Fraction or str, optional
        Change the video frame rate (frames are dropped or duplicated).
    rate, channels : int, optional
        Resample / remix audio.
    latest_only : bool
        Keep only the newest frame (for live sources): the appsink holds one buffer and
        drops older ones, and does not sync to the clock.
    copy : bool
        Give owned, writable copies instead of zero-copy read-only views.
    max_buffers : int
        Frames queued in the appsink before the pipeline waits for the reader. Four keep
        the decoder busy while the reader works on a frame; more only hold more memory.
    timeout : float
        Seconds any blocking call waits (for a frame, or for the pipeline to stop).
    rotate : {"auto", None}
        ``"auto"`` turns video from files and URIs upright according to the stream's
        rotation tag (an MP4 display matrix, EXIF orientation); None keeps the stored
        orientation.
    start, end : float, optional
        Read only the frames from ``start`` (the frame displayed at that time, see
        :meth:`seek`) up to ``end`` (frames whose time is below ``end``), in seconds.
        Files and URIs only.
    colorimetry : str, optional
        The YUV matrix and range to convert decoded frames with (``"bt601"``,
        ``"bt709"``, ``"1:4:5:4"`` ...), whatever the file says. By default a tagged
        stream uses its tags and an untagged one limited-range BT.601, as FFmpeg does
        (see :mod:`gstreamer._colour`). Not used for complete pipelines.
    reconnect : bool or Reconnect
        Live sources only (``rtsp://``, ``srt://``, ``http(s)://``, the
        :mod:`gstreamer.streaming` ``*_source`` parts): rebuild the pipeline after an error,
        an end of stream or ``stall`` seconds without a frame, and go on reading (see
        :mod:`gstreamer.live`). ``True`` is ``Reconnect()``: for ever, 1 s backoff.
        Without it, a live source that goes away raises
        :class:`~gstreamer.ConnectionLostError`.

    Attributes
    ----------
    description : str
        The pipeline that runs.

    Notes
    -----
    Iterating yields :class:`~gstreamer.frame.Frame`. For files and URIs, ``Frame.pts`` is
    the presentation time ffprobe and players show (an MP4's edit list applied, so its first
    frame is at 0; MPEG-TS times relative to the first frame) and ``Frame.keyframe`` is True
    exactly for the samples the container marks as sync samples. Video frames are ``(height, width,
    channels)`` (``(height, width)`` for gray formats, ``(height * 3 // 2, width)`` for
    I420/NV12 or a list of planes when the planes cannot form one array); audio buffers are
    ``(samples, channels)``. Views stay valid after :meth:`close`.
    """

    def __init__(
        self,
        source: Source,
        *,
        format: str = "RGB",
        width: Optional[int] = None,
        height: Optional[int] = None,
        fps: Union[int, float, Fraction, str, None] = None,
        rate: Optional[int] = None,
        channels: Optional[int] = None,
        latest_only: bool = False,
        copy: bool = False,
        max_buffers: int = 4,
        timeout: float = 10.0,
        rotate: Optional[str] = "auto",
        start: Optional[float] = None,
        end: Optional[float] = None,
        colorimetry: Optional[str] = None,
        reconnect: Union[bool, Reconnect, None] = None,
    ) -> None:
        if colorimetry is not None:
            _colour.check_colorimetry(colorimetry)
        self.colorimetry = colorimetry
        if timeout is None or timeout < 0:
            raise ArgumentError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
        if start is not None and end is not None and end <= start:
            raise ArgumentError(f"end ({end}) must be after start ({start})")
        self.source = source
        self.format = format
        self._rotate = rotate
        self.timeout = float(timeout)
        self.latest_only = latest_only
        self._max_buffers = int(max_buffers)
        self._copy = bool(copy)
        where, self.description = _build(source, format, width, height, fps, rate, channels, rotate)
        self._convert_to = format if where != "pipeline" and _converts(format) else None
        self._decodes_file = where in ("file", "uri")
        if (start is not None or end is not None) and not self._decodes_file:
            raise NotSeekableError(
                "start= and end= need a file or URI source; a pipeline is read as it comes"
            )
        self._watch: Optional[DecoderWatch] = DecoderWatch() if self._decodes_file else None
        self._video = _media_kind(format) == "video"
        self._end_ns: Optional[int] = None if end is None else _seconds_to_ns(end, "end")
        self._target: Optional[int] = None  # stream time a seek must reach
        self._exact = True  # the last seek asked for the frame at the target, not a keyframe
        self._seek_from = 0  # stream time the last seek started from
        self._pending: Optional[Frame] = None  # read past while finding the seek target
        self._local_file = where == "file" or self.description.startswith('uridecodebin uri="file:')
        # a demuxer that gave up without an error (see StallCheck): local files only
        self._stall = StallCheck(os.fspath(source)) if self._local_file else None
        self._lock = threading.RLock()
        self._state = State.OPEN
        self._ended = False
        self._errors = ErrorSlot("Reader")
        self._frames = 0
        self._memory = _memory.FrameTracker()  # memory back to the system (see _memory)
        self._layout: Optional[Layout] = None
        self._caps: Optional[str] = None
        self._pipeline: Optional[GstPipeline] = None
        self._puller: Optional[AppSinkPuller] = None
        self._last_frame: Optional[float] = None
        healing = live.policy(reconnect)
        self._live = live.live_source(where, str(source), healing is not None)
        if healing is not None and self._live is None:
            raise ArgumentError(
                "reconnect= applies to live sources (rtsp://, srt://, http(s)://, or a "
                f"pipeline with {', '.join(live.LIVE_ELEMENTS)}), not to {source!r}"
            )
        self._healer = (
            live.Healer(healing, str(source), connectionless=self._live.what == "udpsrc")
            if healing is not None and self._live is not None
            else None
        )
        try:
            self._open()
        except (ParseError, MissingElementError):
            raise
        except PipelineError as exc:
            if self._healer is None:
                raise
            self._healer.stalled_at_start(self, exc)
        if start is not None or end is not None:
            try:
                self._wait_prerolled()
                self.seek(0.0 if start is None else start)
            except BaseException:
                self._stop(raise_errors=False)
                raise

    def _open(self) -> None:
        """Build and start a pipeline for :attr:`description` (also the reconnect hook)."""
        # a weak callback: no reference cycle back to this reader
        pipeline = GstPipeline(self.description, on_init=weak_method(self._configure))
        self._pipeline = pipeline
        log.debug("starting reader: %s", self.description)
        try:
            pipeline.startup()
        except PipelineError as exc:
            self._pipeline = None
            raise self._explain(exc) from None
        self._finalizer = weakref.finalize(self, shutdown_quietly, pipeline)
        if self._state is State.CLOSED:  # closed by another thread while reconnecting
            self._stop(raise_errors=False)
            raise ClosedError("Reader was closed while reconnecting")

    # -- set-up --------------------------------------------------------------------------

    def _configure(self, pipeline: GstPipeline) -> None:
        sink = only_element(pipeline, _gi.GstApp().AppSink, "appsink", "a Reader")
        # the Reader never asks for the last sample: do not let the sink keep a frame
        sink.set_property("enable-last-sample", False)
        if self._decodes_file:
            if self._local_file and not self.latest_only:
                pipeline.pipeline.connect("deep-element-added", _tune_decoder)
            if self._watch is not None:
                pipeline.pipeline.connect("deep-element-added", self._watch.element_added)
            pipeline.pipeline.connect("deep-element-added", _colour.prefer_stream_tags)
            pipeline.pipeline.connect("deep-element-added", _single_stream_multipart)
            check = _StreamCheck(_media_kind(self.format), self.format)
            for element in pipeline.get_by_cls(_gi.Gst().Bin):
                factory = element.get_factory()
                if factory is not None and factory.get_name() in ("decodebin", "uridecodebin"):
                    element.connect("pad-added", check.pad_added)
                    if self._rotate == "auto" and self._video:
                        # videoflip only for streams tagged as rotated (see _rotate)
                        element.connect("pad-added", _rotate.pad_added)
                    element.connect("no-more-pads", check.no_more_pads)
        if self._live is not None:
            live.own_reconnects(pipeline)
        convert = pipeline.get_by_name(_CONVERT)
        if convert is not None:
            _colour.pin_colorimetry(convert.get_static_pad("sink"), self.colorimetry)
        if self.latest_only:
            sink.set_property("sync", False)
        self._puller = AppSinkPuller(
            sink,
            max_buffers=1 if self.latest_only else self._max_buffers,
            leaky=self.latest_only,
            copy=self._copy,
            check=None,
            convert_to=self._convert_to,
            # the next frame converts while the caller works on this one; not for the
            # latest frame of a live source (it would hold an older one)
            prefetch=self._decodes_file and self._healer is None and not self.latest_only,
        )
        self._puller.keep_segment = self._decodes_file

    # -- errors --------------------------------------------------------------------------

    def _explain(self, exc: PipelineError) -> PipelineError:
        """Add a hint to errors whose GStreamer text does not say what to do."""
        text = f"{exc.message} {exc.debug or ''}"
        if self._decodes_file and not isinstance(exc, InvalidMediaError) and is_invalid_media(exc):
            exc = as_invalid_media(exc, os.fspath(self.source))
        if exc.hint is not None:
            return exc
        if "Could not determine type of stream" in text or "no suitable plugins found" in text:
            exc.hint = _GARBAGE_HINT
        elif "missing a plug-in" in text or "missing-plugin" in text:
            exc.hint = (
                "a decoder or demuxer for this file is not installed; try: sudo apt-get "
                "install gstreamer1.0-libav gstreamer1.0-plugins-good gstreamer1.0-plugins-bad "
                "gstreamer1.0-plugins-ugly"
            )
        elif self._decodes_file and ("not-linked" in text or " stream (format=" in text):
            kind = _media_kind(self.format)
            other = (
                "audio, pass an audio format (format='S16LE', 'F32LE', ...)"
                if kind == "video"
                else "video, pass a video format (format='RGB', 'GRAY8', ...)"
            )
            exc.hint = f"format={self.format!r} reads the {kind} stream; to read {other}"
        return exc

    def _fail(self, exc: PipelineError) -> PipelineError:
        """Remember ``exc`` (raised again by later reads) and stop the pipeline."""
        exc = self._explain(exc)
        self._errors.keep(exc)
        self._errors.mark_raised()  # the caller raises it now
        self._stop(raise_errors=False)
        return exc

    def _stop(self, *, raise_errors: bool, timeout: Optional[float] = None) -> None:
        with self._lock:
            pipeline, self._pipeline = self._pipeline, None
            if pipeline is None:
                return
            finalizer = getattr(self, "_finalizer", None)
            if finalizer is not None:
                finalizer.detach()
            try:
                limit = self.timeout if timeout is None else float(timeout)
                pipeline.shutdown(timeout=limit, eos=False, raise_errors=raise_errors)
            finally:
                # the appsink (and through it the decoder's buffer pool) would keep every
                # frame's memory alive while this reader is referenced
                puller, self._puller = self._puller, None
                if puller is not None:
                    puller.close()
                self._memory.stopped()

    # -- reading -------------------------------------------------------------------------

    def read(self, timeout: Optional[float] = None) -> Optional[Frame]:
        """The next frame, or None at end of stream.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait for the frame; the reader's ``timeout`` when None.

        Raises
        ------
        PipelineError
            An element reported an error (raised again by every later read).
        ConnectionLostError
            A live source went away (without ``reconnect``), or the reconnect attempts ran
            out.
        TimeoutError
            No frame and no end of stream within ``timeout``.
        ClosedError
            The reader was closed.
        """
        pending = self._pending
        if pending is not None:
            self._pending = None
            return pending
        target, self._target = self._target, None
        frame = self._pull(timeout)
        if target is None:
            return frame
        # A demuxer can snap to the keyframe *after* the target (qtdemux looks samples up by
        # decode time; with B-frames the next keyframe can decode before it): start earlier.
        back = 0
        while frame is not None and frame.pts is not None and frame.pts > target:
            if self._seek_from <= 0:
                break
            back = max(2 * back, 500_000_000)
            self._seek_to(max(0, self._seek_from - back))
            frame = self._pull(timeout)
        if not self._exact:
            return frame
        # After a seek: the last frame whose time is <= target (one frame of look-ahead;
        # the seek started at the keyframe before it).
        while frame is not None and frame.pts is not None and frame.pts <= target:
            after = self._pull(timeout)
            if after is None or after.pts is None or after.pts > target:
                self._pending = after
                return frame
            frame = after
        return frame

    def _pull(self, timeout: Optional[float]) -> Optional[Frame]:
        self._require_not_closed()
        if self._errors.error is not None:
            raise self._errors.error  # every later read raises it again
        if self._ended:
            return None
        limit = self.timeout if timeout is None else float(timeout)
        if self._healer is not None:  # a live source that reconnects (gstreamer.live)
            try:
                return self._healer.read(self, limit)
            except ConnectionLostError as exc:
                raise self._fail(exc) from exc.__cause__
        pipeline, puller = self._running()
        deadline = time.monotonic() + limit
        stall = self._stall if self._frames == 0 else None
        while True:
            error = pipeline.error
            if error is not None:
                with contextlib.suppress(PipelineError):
                    pipeline.raise_for_error()  # marks it raised, so close() stays quiet
                if (
                    self._live is not None
                    and (self._live.eos_is_loss or live.endless_stream(pipeline))
                    and live.is_connection_error(error)
                ):
                    error = live.connection_lost(str(self.source), "error", error)
                raise self._fail(error)
            remaining = deadline - time.monotonic()
            frame = puller.pull(min(max(remaining, 0.0), _SLICE))
            if frame is not None:
                return self._deliver(frame)
            if self.closed:  # by another thread
                raise ClosedError("Reader was closed while reading")
            if puller.is_eos:
                if (
                    pipeline.error is None
                    and self._live is not None
                    and (self._live.eos_is_loss or live.endless_stream(pipeline))
                ):
                    raise self._fail(live.connection_lost(str(self.source), "end of stream"))
                if pipeline.error is None:
                    self._ended = True
                    if not self._decodes_file:  # a file's pipeline stays, for seek()
                        self._stop(raise_errors=False)
                    return None
                continue
            if stall is not None and pipeline.pipeline is not None:
                try:
                    stall.check(pipeline.pipeline)
                except InvalidMediaError as exc:
                    raise self._fail(exc) from None
            if remaining <= 0:
                raise TimeoutError(
                    f"no frame within {limit} s from {self.description!r}; the source may be "
                    "stalled or live without data (pass a larger timeout=)"
                )

    def _deliver(self, frame: Frame) -> Frame:
        self._frames += 1
        self._memory.track(frame.data)
        self._last_frame = time.monotonic()
        puller = self._puller
        if puller is not None and puller.layout is not self._layout:
            self._layout = puller.layout
        self._caps = frame.caps
        watch = self._watch
        if watch is not None and puller is not None:
            segment, base = puller.segment, watch.base
            pts = stream_time(segment, frame.pts)
            dts = stream_time(segment, frame.dts)
            frame = dataclasses.replace(
                frame,
                pts=None if pts is None else pts - base,
                dts=None if dts is None else dts - base,
                keyframe=watch.is_key(frame.pts) if self._video else frame.keyframe,
            )
        return frame

    # -- seeking -------------------------------------------------------------------------

    def _wait_prerolled(self) -> None:
        Gst = _gi.Gst()
        pipeline = self._started()
        deadline = time.monotonic() + self.timeout
        while True:
            ret, _, _ = pipeline.pipeline.get_state(int(_SLICE * Gst.SECOND))
            if pipeline.error is not None:
                with contextlib.suppress(PipelineError):
                    pipeline.raise_for_error()
                raise self._fail(pipeline.error)
            if ret in (Gst.StateChangeReturn.SUCCESS, Gst.StateChangeReturn.NO_PREROLL):
                return
            if ret == Gst.StateChangeReturn.FAILURE:
                raise InvalidMediaError(
                    f"the pipeline failed to start: {self.description!r}",
                    filename=os.fspath(self.source),
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"the pipeline did not start within {self.timeout} s")

    def seek(self, t: float, *, exact: bool = True) -> None:
        """Continue reading from time ``t`` (seconds).

        Parameters
        ----------
        t : float
            The time in the stream (as ``Frame.pts`` gives it, in seconds).
        exact : bool
            True: the next frame is the one displayed at ``t`` (the last frame whose time
            is at or below ``t``, within 1 µs), decoded from the keyframe before it.
            False: the next frame is the keyframe at or before ``t`` (fast, no decoding
            of the frames in between).

        Raises
        ------
        NotSeekableError
            The source is a pipeline, a live stream or a pipe, which cannot seek.
        ClosedError
            The reader was closed or reached the end of the stream.
        """
        self._require_not_closed()
        if self._errors.error is not None:
            raise self._errors.error
        if not self._decodes_file:
            raise NotSeekableError(
                f"a Reader over a pipeline cannot seek ({self.description!r}); open a file "
                "or URI instead"
            )
        pipeline = self._started()
        Gst = _gi.Gst()
        target = _seconds_to_ns(t, "t")
        self._wait_prerolled()
        # tsdemux answers "not seekable" to the query yet seeks in local files: only
        # other sources are refused on the query's word.
        query = Gst.Query.new_seeking(Gst.Format.TIME)
        answered = pipeline.pipeline.query(query)
        if not self._local_file and (not answered or not query.parse_seeking()[1]):
            raise NotSeekableError(f"the source cannot seek: {self.description!r}")
        self._pending = None
        self._target = None
        ok, duration = pipeline.pipeline.query_duration(Gst.Format.TIME)
        if ok and 0 < duration <= target:
            self._ended = True  # past the end: the next read() gives None
            return
        self._seek_to(target + _TOLERANCE)
        self._exact = exact
        self._target = target + _TOLERANCE

    def _seek_to(self, position: int) -> None:
        """Flushing key-unit seek to the keyframe at or before ``position`` (stream ns).

        Always from a keyframe: an ACCURATE seek would make the decoder clip the frame
        displayed at the target and rewrite its timestamp. read() drops the frames before
        the target.
        """
        Gst = _gi.Gst()
        pipeline = self._started()
        watch = self._watch
        base = watch.base if watch is not None else 0
        puller = self._puller
        if puller is not None:
            puller.discard()  # a frame prefetched before the seek must not come out after it
        flags = Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT | Gst.SeekFlags.SNAP_BEFORE
        stop_type, stop = Gst.SeekType.NONE, -1
        if self._end_ns is not None:
            stop_type, stop = Gst.SeekType.SET, self._end_ns + base
        if not pipeline.pipeline.seek(
            1.0, Gst.Format.TIME, flags, Gst.SeekType.SET, position + base, stop_type, stop
        ):
            raise NotSeekableError(
                f"the source refused to seek to {position / 1e9} s: {self.description!r}"
            )
        self._seek_from = position
        self._ended = False

    # -- what is known after the first frame ---------------------------------------------

    @property
    def frames_read(self) -> int:
        """Frames returned so far."""
        return self._frames

    @property
    def stats(self) -> ReaderStats:
        """:class:`~gstreamer.live.ReaderStats`: frames, dropped, reconnects, last frame age."""
        healer = self._healer
        last = self._last_frame
        return ReaderStats(
            frames=self._frames,
            dropped=(healer.dropped if healer is not None else 0) + self._unread(),
            reconnects=healer.reconnects if healer is not None else 0,
            last_frame_age=None if last is None else time.monotonic() - last,
        )

    # -- the pipeline in use (also for live.Healer, which reconnects) -----------------------

    def _running(self) -> tuple[GstPipeline, AppSinkPuller]:
        """The current pipeline and its puller; ClosedError when there is none."""
        pipeline, puller = self._pipeline, self._puller
        if pipeline is None or puller is None:
            raise ClosedError("Reader is closed")
        return pipeline, puller

    def _started(self) -> GstPipeline:
        """The current pipeline, started; ClosedError when there is none."""
        pipeline = self._pipeline
        if pipeline is None or pipeline.pipeline is None:
            raise ClosedError("Reader is closed")
        return pipeline

    def _drop_pipeline(self) -> int:
        """Tear the current pipeline down (its source was lost; :meth:`_open` builds the next
        one) and return how many frames it took in that were never read."""
        unread = self._unread()
        self._stop(raise_errors=False)
        return unread

    def _unread(self) -> int:
        """Frames the current appsink took in that were not returned (dropped or queued)."""
        puller = self._puller
        if puller is None:
            return 0
        try:
            stats = puller.appsink.get_property("stats")
            ok, rendered = stats.get_uint64("rendered")
        except Exception:  # pragma: no cover - an appsink without basesink stats
            return 0
        return max(0, int(rendered) - puller.pulled) if ok else 0

    @property
    def layout(self) -> Optional[Layout]:
        """Shape, dtype and strides of the frames (after the first frame)."""
        return self._layout

    @property
    def caps(self) -> Optional[str]:
        """The caps of the last frame (None before the first frame)."""
        return self._caps

    @property
    def width(self) -> Optional[int]:
        """Frame width in pixels (None before the first frame, and for audio)."""
        layout = self._layout
        return layout.width if isinstance(layout, VideoLayout) else None

    @property
    def height(self) -> Optional[int]:
        """Frame height in pixels (None before the first frame, and for audio)."""
        layout = self._layout
        return layout.height if isinstance(layout, VideoLayout) else None

    @property
    def fps(self) -> Optional[Fraction]:
        """Frame rate from the caps (None for audio, unknown or variable rate ``0/1``)."""
        layout = self._layout
        if isinstance(layout, VideoLayout) and layout.fps:
            return layout.fps
        return None

    @property
    def rate(self) -> Optional[int]:
        """Audio sample rate."""
        layout = self._layout
        return layout.rate if isinstance(layout, AudioLayout) else None

    @property
    def channels(self) -> Optional[int]:
        """Audio channels."""
        layout = self._layout
        return layout.channels if isinstance(layout, AudioLayout) else None

    @property
    def pipeline(self) -> Optional[GstPipeline]:
        """The :class:`~gstreamer.GstPipeline` (None once closed, or once a pipeline source ended;
        a file or URI Reader keeps it after the end of the stream, for :meth:`seek`)."""
        return self._pipeline

    # -- lifecycle -----------------------------------------------------------------------

    def close(self, timeout: Optional[float] = None) -> None:
        """Stop the pipeline; idempotent.

        Parameters
        ----------
        timeout : float, optional
            Seconds the stop may take (default: the reader's ``timeout``); a pipeline
            stuck inside an element is left to stop in the background after it.

        Raises
        ------
        PipelineError
            An error the pipeline reported that no earlier call raised.
        TimeoutError
            The pipeline did not stop within ``timeout``.
        """
        with self._lock:
            if self._state is State.CLOSED:
                return
            self._state = State.CLOSED
            pipeline = self._pipeline
            before = pipeline.error if pipeline is not None else None
        try:
            self._stop(raise_errors=self._errors.error is None, timeout=timeout)
        except PipelineError as exc:
            # A connection lost while the reader closes is the close's own doing, not an
            # error of the stream: rtspsrc's TEARDOWN to a server that already hung up
            # ("Could not send message. (Received end-of-file)"). A healing reader would
            # only have reconnected, whenever its connection went.
            if not live.is_connection_error(exc) or (exc is before and self._healer is None):
                raise
            log.debug("%r: connection error while closing: %s", self, exc)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("ended" if self._ended else "open")
        return f"<Reader {state} {self.description!r}>"


def read_frames(
    source: Source,
    format: str = "RGB",
    *,
    progress: bool = False,
    on_progress: Optional[ProgressCallback] = None,
    **kwargs: Any,
) -> Iterator[np.ndarray]:
    """Yield every frame of ``source`` as an array (see :class:`Reader` for arguments).

    The pipeline stops when the generator is exhausted or closed.

    Parameters
    ----------
    source : str or os.PathLike
        A file, a URI or a pipeline (see :class:`Reader`).
    format : str
        The raw format of the arrays (``"RGB"``).
    progress : bool
        Draw a progress bar on stderr (frames read out of the expected count, when the
        source knows its duration).
    on_progress : callable, optional
        Called as ``on_progress(frames_read, total)`` after each frame instead of the bar;
        ``total`` is the expected frame count, or None when unknown.
    **kwargs
        Passed to :class:`Reader`.
    """
    hook = progress_hook(progress, on_progress)
    with Reader(source, format=format, **kwargs) as reader:
        total: Optional[int] = None
        for count, frame in enumerate(reader, 1):
            data = frame.data
            if hook is not None:
                if count == 1:
                    total = _expected_frames(reader)
                hook(count, total)
            yield (
                data
                if isinstance(data, np.ndarray)
                else np.concatenate([p.reshape(-1) for p in data])
            )
    finish(hook)


def _expected_frames(reader: Reader) -> Optional[int]:
    """Frames in the stream (duration x frame rate), when both are known."""
    pipeline = reader.pipeline
    duration = stream_duration(pipeline.pipeline if pipeline is not None else None)
    if duration is None or not reader.fps:
        return None
    return round(duration * reader.fps / 1_000_000_000)
