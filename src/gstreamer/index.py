"""The frame index of a video file: every frame's timestamp and sync flag, without decoding.

One pass through the demuxer and parser (``filesrc ! parsebin``) reads the timestamps and
sync-sample flags of the first video stream's packets. The result is cached per file (path,
size and modification time), so a :class:`~gstreamer.VideoFile` opened twice reads it once.

Times follow :mod:`gstreamer._timeline`: stream time (an MP4 edit list applied), MPEG-TS/PS
relative to the first frame.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import _gi
from ._timeline import (
    StallCheck,
    invalid_media_as,
    is_ts_demuxer,
    stream_time,
)
from .errors import InvalidMediaError, NotSeekableError, TimeoutError
from .pipeline import GstPipeline, quote

__all__ = ["FrameIndex", "clear_index_cache", "frame_index"]

_CACHE_SIZE = 32
_cache: OrderedDict[tuple[str, int, int], FrameIndex] = OrderedDict()
_cache_lock = threading.Lock()

# Rotation tag values (GStreamer's image-orientation) -> degrees clockwise.
ORIENTATIONS = {
    "rotate-0": 0,
    "rotate-90": 90,
    "rotate-180": 180,
    "rotate-270": 270,
    "flip-rotate-0": 0,
    "flip-rotate-90": 90,
    "flip-rotate-180": 180,
    "flip-rotate-270": 270,
}


@dataclass(frozen=True)
class FrameIndex:
    """Timestamps and sync flags of every frame of a file's first video stream.

    Attributes
    ----------
    path : str
        The file.
    buffer_pts : numpy.ndarray
        int64 buffer timestamps (ns) as GStreamer's demuxer gives them, in presentation
        order; decoded frames carry the same values.
    time_ns : numpy.ndarray
        int64 presentation times (ns) as players and ffprobe show them.
    keyframes : numpy.ndarray
        int64 indices of the sync frames.
    caps : str
        The parsed stream's caps.
    rotation : int
        Clockwise rotation (degrees) of the stream's orientation tag.
    end_ns : int
        The end of the last frame (its time plus its duration), ns.
    droppable : numpy.ndarray
        bool per frame: a non-reference picture (H.264/HEVC), which no other frame needs.
    offset_ns : int
        What was subtracted from stream times to make the first frame 0 (MPEG-TS/PS only;
        else 0). Seeks are made at ``time_ns + offset_ns``.
    """

    path: str
    buffer_pts: np.ndarray
    time_ns: np.ndarray
    keyframes: np.ndarray
    caps: str
    rotation: int
    end_ns: int
    offset_ns: int = 0
    droppable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    _position: dict[int, int] = field(repr=False, compare=False, default_factory=dict)

    def __len__(self) -> int:
        return int(self.buffer_pts.shape[0])

    @property
    def times(self) -> np.ndarray:
        """float64 presentation times in seconds."""
        return self.time_ns / 1e9

    def position(self, buffer_pts: int) -> Optional[int]:
        """The frame index of a decoded buffer's timestamp (None if it is not in the file)."""
        return self._position.get(int(buffer_pts))

    def keyframe_before(self, index: int) -> int:
        """The last sync frame at or before ``index`` (0 when there is none)."""
        k = int(np.searchsorted(self.keyframes, index, side="right")) - 1
        return int(self.keyframes[k]) if k >= 0 else 0


def clear_index_cache() -> None:
    """Forget every cached index."""
    with _cache_lock:
        _cache.clear()


def local_file(path: str) -> str:
    """Check that ``path`` is a regular local file (seekable); return it.

    Raises
    ------
    SourceNotFoundError
        No such file.
    NotSeekableError
        A pipe, a device or a socket.
    """
    from .reader import _existing_file

    name = _existing_file(path)
    mode = os.stat(name).st_mode
    if not stat.S_ISREG(mode):
        raise NotSeekableError(
            f"{name!r} is not a regular file (a pipe, device or socket cannot seek); read it "
            "in order with gstreamer.Reader instead"
        )
    return name


def frame_index(path: str, *, timeout: float = 30.0) -> FrameIndex:
    """The :class:`FrameIndex` of ``path`` (from the cache when the file did not change).

    Raises
    ------
    InvalidMediaError
        Not a media file, corrupt, no video stream, or frames without timestamps.
    NotSeekableError
        Not a regular file.
    """
    name = local_file(path)
    st = os.stat(name)
    key = (os.path.realpath(name), st.st_size, st.st_mtime_ns)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    index = _scan(name, timeout)
    with _cache_lock:
        _cache[key] = index
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return index


class _NalFormat:
    """Reads whether an H.264/HEVC access unit is a non-reference picture.

    No other frame is predicted from a non-reference picture, so a decoder can skip it
    when it is not wanted (VideoFile drops such frames before the decoder).
    """

    def __init__(self, codec: str, length_size: int) -> None:
        self.codec = codec
        self.length_size = length_size  # 0: Annex B byte-stream (start codes)

    @classmethod
    def from_caps(cls, structure: Any) -> Optional[_NalFormat]:
        name = structure.get_name()
        if name not in ("video/x-h264", "video/x-h265"):
            return None
        codec = "h264" if name == "video/x-h264" else "h265"
        stream_format = structure.get_string("stream-format") or ""
        if stream_format in ("avc", "avc3", "hvc1", "hev1"):
            codec_data = structure.get_value("codec_data")
            if codec_data is None:
                return None
            data = codec_data.extract_dup(0, codec_data.get_size())
            at = 4 if codec == "h264" else 21
            if len(data) <= at:
                return None
            return cls(codec, (data[at] & 3) + 1)
        if stream_format == "byte-stream":
            return cls(codec, 0)
        return None

    def _headers(self, buffer: Any) -> list[int]:
        """First byte(s) of each NAL unit: H.264 one byte, HEVC the first of two."""
        size = buffer.get_size()
        heads: list[int] = []
        if self.length_size:
            offset, n = 0, self.length_size
            while offset + n < size and len(heads) < 64:
                chunk = buffer.extract_dup(offset, n + 1)
                length = int.from_bytes(chunk[:n], "big")
                heads.append(chunk[n])
                offset += n + length
            return heads
        data = buffer.extract_dup(0, min(size, 4096))
        start = data.find(b"\x00\x00\x01")
        while start >= 0 and start + 3 < len(data):
            heads.append(data[start + 3])
            start = data.find(b"\x00\x00\x01", start + 3)
        return heads

    def droppable(self, buffer: Any) -> bool:
        """True when every picture NAL unit of ``buffer`` is a non-reference one."""
        slices = 0
        for head in self._headers(buffer):
            if self.codec == "h264":
                kind, ref = head & 0x1F, (head >> 5) & 3
                if kind in (1, 5):
                    slices += 1
                    if ref != 0:
                        return False
            else:
                kind = (head >> 1) & 0x3F
                if kind < 32:  # a picture (VCL) NAL unit
                    slices += 1
                    # TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N, RSV_VCL_N10/12/14
                    if kind > 14 or kind % 2 == 1:
                        return False
        return slices > 0


class _Scan:
    """Pad-probe bookkeeping of one demux-only pass."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.video_pad: Any = None
        self.pts: list[int] = []
        self.keys: list[int] = []
        self.durations: list[int] = []
        self.missing_pts = 0
        self.segment: Any = None
        self.caps = ""
        self.orientation: Optional[str] = None
        self.relative = False
        self.nal: Optional[_NalFormat] = None
        self.droppable: list[bool] = []

    def element_added(self, bin: Any, sub_bin: Any, element: Any) -> None:
        if is_ts_demuxer(element):
            self.relative = True

    def pad_added(self, parsebin: Any, pad: Any) -> None:
        Gst = _gi.Gst()
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name() if caps and caps.get_size() else ""
        sink = Gst.ElementFactory.make("fakesink", None)
        sink.set_property("sync", False)
        sink.set_property("async", False)
        bin = parsebin.get_parent()
        bin.add(sink)
        sink.sync_state_with_parent()
        with self.lock:
            take = self.video_pad is None and name.startswith(("video/", "image/"))
            if take:
                self.video_pad = pad
        if take:
            pad.add_probe(
                Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM, self.on_probe
            )
        pad.link(sink.get_static_pad("sink"))

    def on_probe(self, pad: Any, info: Any) -> Any:
        Gst = _gi.Gst()
        if info.type & Gst.PadProbeType.BUFFER:
            buffer = info.get_buffer()
            if buffer.pts == Gst.CLOCK_TIME_NONE:
                self.missing_pts += 1
            else:
                n = len(self.pts)
                self.pts.append(int(buffer.pts))
                if not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT):
                    self.keys.append(n)
                self.droppable.append(self.nal is not None and self.nal.droppable(buffer))
                d = buffer.duration
                self.durations.append(-1 if d == Gst.CLOCK_TIME_NONE else int(d))
            return Gst.PadProbeReturn.OK
        event = info.get_event()
        if event.type == Gst.EventType.SEGMENT and self.segment is None:
            self.segment = event.parse_segment().copy()
        elif event.type == Gst.EventType.CAPS:
            caps = event.parse_caps()
            self.caps = caps.to_string()
            self.nal = _NalFormat.from_caps(caps.get_structure(0))
        elif event.type == Gst.EventType.TAG:
            ok, value = event.parse_tag().get_string("image-orientation")
            if ok:
                self.orientation = value
        return Gst.PadProbeReturn.OK


def _scan(path: str, timeout: float) -> FrameIndex:
    scan = _Scan()

    def configure(pipeline: GstPipeline) -> None:
        parse = pipeline.get_by_name("parse")
        parse.connect("pad-added", scan.pad_added)
        parse.connect("deep-element-added", scan.element_added)

    pipeline = GstPipeline(
        f"filesrc location={quote(path)} ! parsebin name=parse", on_init=configure
    )
    with invalid_media_as(path):
        try:
            pipeline.startup()
            deadline = time.monotonic() + timeout
            stall = StallCheck(path)
            while not pipeline.is_done:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"indexing {path!r} took more than {timeout} s")
                pipeline._end_stream_event.wait(0.05)
                if not scan.pts and scan.video_pad is None and not pipeline.is_done:
                    stall.check(pipeline.pipeline)
            pipeline.raise_for_error()
        finally:
            pipeline.shutdown(eos=False, raise_errors=False)
    return _build(path, scan)


def _build(path: str, scan: _Scan) -> FrameIndex:
    if scan.video_pad is None:
        raise InvalidMediaError(f"{path!r} has no video stream", filename=path)
    if not scan.pts:
        raise InvalidMediaError(f"{path!r}: the video stream has no frames", filename=path)
    if scan.missing_pts:
        raise InvalidMediaError(
            f"{path!r}: {scan.missing_pts} frames have no timestamp, so frames cannot be "
            "addressed by index; read it in order with gstreamer.Reader",
            filename=path,
        )
    raw = np.asarray(scan.pts, dtype=np.int64)
    order = np.argsort(raw, kind="stable")
    pts = raw[order]
    if pts.size > 1 and np.any(np.diff(pts) == 0):
        raise InvalidMediaError(
            f"{path!r}: several frames share a timestamp, so frames cannot be addressed by "
            "index; read it in order with gstreamer.Reader",
            filename=path,
        )
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    keys = np.sort(rank[np.asarray(scan.keys, dtype=np.int64)]) if scan.keys else np.zeros(0)
    stream = np.array([stream_time(scan.segment, int(p)) or 0 for p in pts], dtype=np.int64)
    offset = int(stream[0]) if scan.relative else 0
    stream -= offset
    durations = np.asarray(scan.durations, dtype=np.int64)[order]
    droppable = np.asarray(scan.droppable, dtype=bool)[order]
    last = int(durations[-1])
    if last <= 0:
        last = int(np.median(np.diff(stream))) if stream.size > 1 else 0
    return FrameIndex(
        path=path,
        buffer_pts=pts,
        time_ns=stream,
        keyframes=keys.astype(np.int64),
        caps=scan.caps,
        rotation=ORIENTATIONS.get(scan.orientation or "", 0),
        end_ns=int(stream[-1]) + last,
        offset_ns=offset,
        droppable=droppable,
        _position={int(p): i for i, p in enumerate(pts)},
    )
