"""``VideoFile``: frame-exact random access to one video stream of a local file.

::

    with gstreamer.VideoFile("clip.mp4") as vf:
        len(vf)                      # exact frame count
        vf[10].data                  # the 11th frame (a Frame), vf[-1] the last
        vf.get_batch([5, 3, 3, 90])  # (4, H, W, 3) array, in the order asked
        vf.frames_at([0.5, 1.0])     # the frames displayed at those times

How: a demux-only pass lists every frame's timestamp and sync flag
(:mod:`gstreamer.index`, cached per file). A request is served by seeking to the keyframe at
or before the wanted frame and decoding forward; a decoded frame is recognised by comparing
its timestamp with the index (never by counting, never by a time seek that could land one
frame off). Frames before the wanted one are dropped before colour conversion. Wanted frames
close together are decoded in one pass, and the pipeline stays open, so a request for a
frame a little ahead of the last one continues decoding instead of seeking.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from . import _colour, _convert, _gi, _rotate
from ._lifecycle import Lifecycle, State
from ._timeline import is_decoder
from .appsink import AppSinkPuller
from .errors import (
    ArgumentTypeError,
    CapsError,
    NotSeekableError,
    PipelineError,
    TimeoutError,
)
from .frame import Frame
from .index import FrameIndex, frame_index
from .pipeline import GstPipeline, quote, shutdown_quietly
from .reader import (
    _CONVERT,
    _URI_RE,
    _check_rotate,
    _converts,
    _cores,
    _media_kind,
    _tune_decoder,
)

if TYPE_CHECKING:
    from .probe import MediaInfo

__all__ = ["VideoFile"]

log = logging.getLogger("gstreamer.videofile")

# Continue decoding instead of seeking when the wanted frame's keyframe is at most this many
# frames past the current position (a flushing seek costs about as much as decoding these).
_SEEK_COST = 12
_SLICE = 0.05

Index = Union[int, np.integer]


class _Gate:
    """Pad probe that drops decoded frames before the wanted one, before colour conversion.

    A separate object (not a VideoFile method), so the pipeline holds no reference back to
    the VideoFile and an abandoned one can be collected.
    """

    def __init__(self) -> None:
        self.pts = -1  # frames with an earlier buffer timestamp are dropped
        # buffer timestamps of non-reference pictures that are not wanted: dropped before
        # the decoder (nothing else refers to them, so nothing else changes)
        self.skip: frozenset[int] = frozenset()

    def probe(self, pad: Any, info: Any) -> Any:
        Gst = _gi.Gst()
        pts = info.get_buffer().pts
        if pts != Gst.CLOCK_TIME_NONE and pts < self.pts:
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def decoder_input(self, pad: Any, info: Any) -> Any:
        Gst = _gi.Gst()
        if info.get_buffer().pts in self.skip:
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def element_added(self, bin: Any, sub_bin: Any, element: Any) -> None:
        if is_decoder(element):
            Gst = _gi.Gst()
            pad = element.get_static_pad("sink")
            pad.add_probe(Gst.PadProbeType.BUFFER, self.decoder_input)


def _path_of(source: Union[str, os.PathLike[str]]) -> str:
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    if not isinstance(source, str):
        raise ArgumentTypeError(f"source must be a file path, not {source!r}")
    if _URI_RE.match(source.strip()):
        if source.lower().startswith("file://"):
            Gst = _gi.Gst()
            name = Gst.uri_get_location(source) if Gst.uri_is_valid(source) else None
            if name:
                return str(name)
        raise NotSeekableError(
            f"VideoFile needs a local file, not {source!r}; download it first, or read it in "
            "order with gstreamer.Reader"
        )
    return source


class VideoFile(Lifecycle):
    """A random-access view of the first video stream of a local file.

    Parameters
    ----------
    source : str or os.PathLike
        A local file (or a ``file://`` URI).
    format : str
        A raw video format whose frames are one array (``"RGB"``, ``"BGR"``, ``"RGBA"``,
        ``"GRAY8"``, ...).
    width, height : int, optional
        Scale frames to this size.
    rotate : {"auto", None}
        ``"auto"`` turns frames upright according to the stream's rotation tag; None keeps
        the stored orientation.
    timeout : float
        Seconds a blocking step may take (indexing, a decode) before
        :class:`~gstreamer.TimeoutError`.

    Raises
    ------
    SourceNotFoundError
        No such file.
    NotSeekableError
        A pipe, device, socket, or a non-file URI.
    InvalidMediaError
        Not a media file, corrupt, or without a video stream.

    Notes
    -----
    Indices are presentation order (the order frames are shown); ``len(vf)`` is what
    ``ffprobe -count_frames`` reports. Times are seconds of stream time (an MP4's edit list
    applied; MPEG-TS relative to its first frame). A VideoFile is not thread-safe; calls
    from several threads are serialised.
    """

    def __init__(
        self,
        source: Union[str, os.PathLike[str]],
        format: str = "RGB",
        width: Optional[int] = None,
        height: Optional[int] = None,
        rotate: Optional[str] = "auto",
        *,
        timeout: float = 10.0,
    ) -> None:
        if _media_kind(format) != "video":
            raise CapsError(f"VideoFile reads video; {format!r} is an audio format")
        _check_rotate(rotate)
        self.format = format
        self.timeout = float(timeout)
        self._path = _path_of(source)
        self._index: FrameIndex = frame_index(self._path, timeout=max(30.0, self.timeout))
        self._index_path = self._index.path
        fields = ""
        if width is not None:
            fields += f",width={int(width)}"
        if height is not None:
            fields += f",height={int(height)}"
        if width is not None or height is not None:
            fields += ",pixel-aspect-ratio=1/1"  # one size given: keep the aspect ratio
        # as the Reader: RGB-like formats are converted from the decoder's YUV with
        # libswscale when a wanted frame is pulled (FFmpeg's colours, a third of the CPU)
        self._convert_to = format if _converts(format) else None
        caps = _convert.appsink_caps(format, fields)
        n = _cores()
        parts = [
            f"filesrc location={quote(self._index_path)} ! decodebin name=dec",
            "video/x-raw(ANY)",
            "identity name=gate silent=true",
        ]
        # rotate="auto": videoflip is inserted after the gate for rotated streams (_rotate)
        self._rotate = rotate
        parts.append(f"videoconvert name={_CONVERT} n-threads={n}")
        if width is not None or height is not None:
            parts.append(f"videoscale n-threads={n}")
        parts += [caps, "appsink name=sink sync=false enable-last-sample=false"]
        self.description = " ! ".join(parts)
        self._lock = threading.RLock()
        self._state = State.OPEN
        self._pipeline: Optional[GstPipeline] = None
        self._puller: Optional[AppSinkPuller] = None
        self._finalizer: Optional[weakref.finalize[Any, Any]] = None
        self._pos = -1  # index of the last frame pulled since the last seek (-1: none)
        self._eos = False
        self._gate = _Gate()
        self._shape: Optional[tuple[int, ...]] = None
        self._dtype: Any = None
        self._info: Optional[MediaInfo] = None

    # -- facts from the index ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index)

    @property
    def path(self) -> str:
        """The file this object reads."""
        return self._index_path

    @property
    def pts(self) -> np.ndarray:
        """Presentation times of every frame, float64 seconds, in index order."""
        return self._index.times

    @property
    def keyframes(self) -> np.ndarray:
        """Indices of the keyframes (sync frames), int64."""
        return self._index.keyframes.copy()

    @property
    def duration(self) -> float:
        """Seconds from the first frame's time to the end of the last frame."""
        return (self._index.end_ns - int(self._index.time_ns[0])) / 1e9

    @property
    def info(self) -> MediaInfo:
        """The file's :class:`~gstreamer.MediaInfo` (from :func:`gstreamer.probe`)."""
        if self._info is None:
            from .probe import probe

            self._info = probe(self._index_path)
        return self._info

    # -- access --------------------------------------------------------------------------

    def _normalise(self, i: Index) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ArgumentTypeError(f"frame indices are integers, not {i!r}")
        n = len(self._index)
        j = int(i)
        if j < 0:
            j += n
        if not 0 <= j < n:
            raise IndexError(f"frame index {int(i)} out of range for {n} frames")
        return j

    def __getitem__(self, key: Union[Index, slice]) -> Any:
        """``vf[i]`` is a :class:`Frame`; ``vf[a:b:s]`` an array of frames."""
        if isinstance(key, slice):
            return self.get_batch(range(*key.indices(len(self._index))))
        i = self._normalise(key)
        got: list[np.ndarray] = []
        # a converted frame is already a new array of its own; a mapped buffer is copied
        self._decode([i], lambda _, data: got.append(data if data.flags.writeable else data.copy()))
        data = got[0]
        ns = int(self._index.time_ns[i])
        nxt = int(self._index.time_ns[i + 1]) if i + 1 < len(self._index) else self._index.end_ns
        return Frame(
            data=data,
            pts=ns,
            duration=nxt - ns,
            offset=i,
            keyframe=bool(np.isin(i, self._index.keyframes)),
            caps=self._caps_str,
        )

    def __iter__(self) -> Any:
        for i in range(len(self._index)):
            yield self[i]

    def get_batch(self, indices: Iterable[Index]) -> np.ndarray:
        """The frames at ``indices`` as one contiguous ``(N, H, W[, C])`` array.

        Any order, repeats and negative indices are allowed; the result follows the order
        asked.

        Raises
        ------
        IndexError
            An index is out of range (nothing is decoded then).
        """
        wanted = [self._normalise(i) for i in indices]
        if not wanted:
            shape = self._frame_shape()
            return np.empty((0, *shape), dtype=self._dtype)
        rows: dict[int, list[int]] = {}
        for k, i in enumerate(wanted):
            rows.setdefault(i, []).append(k)
        batch: list[np.ndarray] = []

        def deliver(i: int, data: np.ndarray) -> None:
            if not batch:
                batch.append(np.empty((len(wanted), *data.shape), dtype=data.dtype))
            out = batch[0]
            for k in rows[i]:
                out[k] = data  # the one copy, straight from the decoded buffer

        self._decode(sorted(rows), deliver)
        return batch[0]

    def index_at(self, t: float) -> int:
        """The index of the frame displayed at ``t`` seconds (the last one whose time is
        at or before ``t``, within 1 µs).

        Raises
        ------
        IndexError
            ``t`` is before the first frame or at/after the end of the last one.
        """
        ns = float(t) * 1e9
        index = self._index
        if not ns + 1000 >= index.time_ns[0] or ns >= index.end_ns:
            raise IndexError(
                f"time {t} s is outside the video ({index.time_ns[0] / 1e9} s to "
                f"{index.end_ns / 1e9} s)"
            )
        return int(np.searchsorted(index.time_ns, ns + 1000, side="right")) - 1

    def frames_at(self, times: Iterable[float]) -> np.ndarray:
        """The frames displayed at ``times`` (seconds), as one ``(N, H, W[, C])`` array."""
        return self.get_batch([self.index_at(t) for t in times])

    # -- decoding ------------------------------------------------------------------------

    @property
    def _caps_str(self) -> str:
        puller = self._puller
        if puller is None:
            return ""
        layout = puller.layout  # the converted frames' layout when the puller converts
        return layout.caps_string if layout is not None else puller._caps_str or ""

    def _frame_shape(self) -> tuple[int, ...]:
        if self._shape is None:
            self._decode([0], lambda i, data: None)
        assert self._shape is not None
        return self._shape

    def _start(self) -> None:
        GstApp = _gi.GstApp()
        gate = self._gate  # the callback must not hold self: no cycle through the pipeline
        convert_to = self._convert_to
        rotate = self._rotate
        pullers: list[AppSinkPuller] = []

        def configure(pipeline: GstPipeline) -> None:
            if rotate == "auto":
                dec = pipeline.get_by_name("dec")
                dec.connect("pad-added", _rotate.InsertAfter("gate"))
            pipeline.pipeline.connect("deep-element-added", _tune_decoder)
            pipeline.pipeline.connect("deep-element-added", gate.element_added)
            # the Reader's colours: the stream's own tags, untagged read as FFmpeg reads it
            pipeline.pipeline.connect("deep-element-added", _colour.prefer_stream_tags)
            _colour.pin_colorimetry(pipeline.get_by_name(_CONVERT).get_static_pad("sink"), None)
            Gst = _gi.Gst()
            pad = pipeline.get_by_name("gate").get_static_pad("src")
            pad.add_probe(Gst.PadProbeType.BUFFER, gate.probe)
            sink = pipeline.get_by_cls(GstApp.AppSink)[0]
            pullers.append(AppSinkPuller(sink, max_buffers=2, copy=False, convert_to=convert_to))

        pipeline = GstPipeline(self.description, on_init=configure)
        pipeline.startup()
        self._puller = pullers[-1]
        self._pipeline = pipeline
        self._finalizer = weakref.finalize(self, shutdown_quietly, pipeline)
        self._pos, self._eos = -1, False
        self._wait_started()

    def _wait_started(self) -> None:
        Gst = _gi.Gst()
        pipeline = self._pipeline
        assert pipeline is not None
        deadline = time.monotonic() + self.timeout
        while True:
            ret, _, _ = pipeline.pipeline.get_state(int(_SLICE * Gst.SECOND))
            self._check_error()
            if ret == Gst.StateChangeReturn.SUCCESS:
                return
            if ret == Gst.StateChangeReturn.FAILURE:
                raise PipelineError(f"the pipeline failed to start: {self.description!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the pipeline did not start within {self.timeout} s")

    def _check_error(self) -> None:
        pipeline = self._pipeline
        if pipeline is not None and pipeline.error is not None:
            error = pipeline.error
            with contextlib.suppress(PipelineError):
                pipeline.raise_for_error()
            self._stop()
            raise error

    def _seek(self, index: int, back: int = 0) -> None:
        """Flushing seek to the keyframe of frame ``index`` (``back`` keyframes earlier)."""
        Gst = _gi.Gst()
        pipeline = self._pipeline
        assert pipeline is not None
        ix = self._index
        k = max(0, int(np.searchsorted(ix.keyframes, ix.keyframe_before(index))) - back)
        key = int(ix.keyframes[k]) if ix.keyframes.size else 0
        position = 0 if key == 0 else int(ix.time_ns[key]) + ix.offset_ns + 1000
        flags = Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT | Gst.SeekFlags.SNAP_BEFORE
        if not pipeline.pipeline.seek_simple(Gst.Format.TIME, flags, position):
            raise NotSeekableError(f"{self._index_path!r}: the demuxer refused to seek")
        self._pos, self._eos = -1, False

    def _pull(self) -> Optional[tuple[int, np.ndarray]]:
        """The next decoded frame that passed the gate: (index, array), None at EOS."""
        puller = self._puller
        assert puller is not None
        deadline = time.monotonic() + self.timeout
        while True:
            self._check_error()
            frame = puller.pull(_SLICE)
            if frame is not None:
                data = frame.data
                if not isinstance(data, np.ndarray):
                    raise CapsError(
                        f"format {self.format!r} gives planes, not one array; use a packed "
                        "format such as 'RGB', 'BGR', 'RGBA' or 'GRAY8'"
                    )
                pos = self._index.position(frame.pts) if frame.pts is not None else None
                if pos is None:
                    raise PipelineError(
                        f"{self._index_path!r}: a decoded frame has a timestamp ({frame.pts}) "
                        "that the index does not list"
                    )
                if self._shape is None:
                    self._shape, self._dtype = tuple(data.shape), data.dtype
                return pos, data
            if puller.is_eos:
                self._eos = True
                return None
            if time.monotonic() > deadline:
                raise TimeoutError(f"no frame decoded within {self.timeout} s")

    def _decode(self, wanted: Sequence[int], deliver: Callable[[int, np.ndarray], None]) -> None:
        """Decode the ascending, unique ``wanted`` indices; ``deliver(index, view)`` gets
        each once (the view is only valid during the call)."""
        with self._lock:
            self._require_not_closed()
            done: set[int] = set()
            wanted_set = set(wanted)
            if self._puller is None or self._pipeline is None:
                self._gate.pts = -1  # let the first frames through, so the pipeline prerolls
                self._start()
            ix = self._index
            self._gate.skip = self._skippable(wanted)
            for n, j in enumerate(wanted):
                if j in done:
                    continue
                self._gate.pts = int(ix.buffer_pts[j])
                ahead = j > self._pos and not self._eos
                if not (ahead and ix.keyframe_before(j) - self._pos <= _SEEK_COST):
                    self._seek(j)
                back = 0
                while True:
                    got = self._pull()
                    if got is None or got[0] > j:
                        # EOS before j, or the demuxer started after j (an imprecise index):
                        # start from an earlier keyframe
                        back += 1
                        if back > 3:
                            raise PipelineError(
                                f"{self._index_path!r}: frame {j} was not decoded (the "
                                "demuxer did not seek where the index says)"
                            )
                        self._seek(j, back=back if back < 3 else len(ix.keyframes))
                        continue
                    pos, data = got
                    self._pos = pos
                    if pos in wanted_set and pos not in done:
                        done.add(pos)
                        deliver(pos, data)
                    if pos == j:
                        # let only the next wanted frame through the colour conversion
                        if n + 1 < len(wanted):
                            self._gate.pts = int(ix.buffer_pts[wanted[n + 1]])
                        break

    def _skippable(self, wanted: Sequence[int]) -> frozenset[int]:
        """Timestamps of the non-reference frames this request decodes past without
        wanting them (from the first wanted frame's keyframe to the last wanted frame)."""
        ix = self._index
        if not ix.droppable.any():
            return frozenset()
        lo, hi = ix.keyframe_before(wanted[0]), wanted[-1]
        span = np.arange(lo, hi)
        mask = ix.droppable[lo:hi] & ~np.isin(span, np.asarray(wanted))
        return frozenset(int(p) for p in ix.buffer_pts[lo:hi][mask])

    # -- lifecycle -----------------------------------------------------------------------

    def _stop(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        puller, self._puller = self._puller, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if pipeline is not None:
            pipeline.shutdown(timeout=self.timeout, eos=False, raise_errors=False)
        if puller is not None:
            puller.close()  # frees its libswscale context

    def close(self) -> None:
        """Stop the decoding pipeline; idempotent. Later frame requests raise ClosedError."""
        with self._lock:
            if self._state is State.CLOSED:
                return
            self._state = State.CLOSED
            self._stop()

    def __repr__(self) -> str:
        return f"<VideoFile {self._state} {self._index_path!r} frames={len(self._index)}>"
