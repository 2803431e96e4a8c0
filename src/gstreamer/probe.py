"""``probe``: what a media file or URI holds, without decoding a frame.

::

    info = gstreamer.probe("clip.mp4")
    info.duration, info.container            # 5.0, "mp4"
    info.video.width, info.video.fps         # 1280, Fraction(30, 1)
    info.video.frames, info.video.codec      # 150, "h264"

The source is opened with ``parsebin`` (demuxers and parsers only) and brought to PAUSED:
the parsers read the stream headers and one packet of each stream, which is where caps,
tags and the duration come from. No decoder element is created. MP4/MOV frame counts are
read from the sample table (``stsz``), so they are exact without reading the samples.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, BinaryIO, Optional, Union

from . import _gi
from ._timeline import StallCheck, invalid_media_as, is_decoder
from .errors import (
    ArgumentError,
    GstError,
    InvalidMediaError,
    PipelineError,
    TimeoutError,
    from_gerror,
)
from .index import ORIENTATIONS
from .pipeline import iterate, parse_launch, quote
from .reader import _classify

__all__ = ["AudioInfo", "MediaInfo", "StreamInfo", "VideoInfo", "describe", "probe"]

log = logging.getLogger("gstreamer.probe")

# caps name -> codec name (ffprobe's names, so the two can be compared)
_CODECS = {
    "video/x-h264": "h264",
    "video/x-h265": "hevc",
    "video/x-vp8": "vp8",
    "video/x-vp9": "vp9",
    "video/x-av1": "av1",
    "video/x-theora": "theora",
    "video/x-prores": "prores",
    "video/x-raw": "rawvideo",
    "video/x-divx": "mpeg4",
    "video/x-xvid": "mpeg4",
    "video/x-h263": "h263",
    "image/jpeg": "mjpeg",
    "image/png": "png",
    "audio/x-opus": "opus",
    "audio/x-vorbis": "vorbis",
    "audio/x-flac": "flac",
    "audio/x-ac3": "ac3",
    "audio/x-eac3": "eac3",
    "audio/x-alaw": "pcm_alaw",
    "audio/x-mulaw": "pcm_mulaw",
    "audio/x-raw": "pcm",
    "audio/x-wav": "pcm",
}

# demuxer input caps -> container name
_CONTAINERS = {
    "video/quicktime": "mp4",
    "video/x-matroska": "matroska",
    "video/webm": "webm",
    "video/mpegts": "mpegts",
    "video/mpeg": "mpeg",
    "video/x-msvideo": "avi",
    "video/x-flv": "flv",
    "application/ogg": "ogg",
    "audio/x-wav": "wav",
    "application/x-id3": "mp3",
}

_CHROMA = {"4:2:0": "yuv420p", "4:2:2": "yuv422p", "4:4:4": "yuv444p", "4:0:0": "gray"}


@dataclass(frozen=True)
class StreamInfo:
    """One elementary stream.

    Attributes
    ----------
    kind : str
        ``"video"``, ``"audio"``, ``"subtitle"`` or ``"other"``.
    codec : str or None
        ffprobe's name for the codec (``"h264"``, ``"hevc"``, ``"vp9"``, ``"aac"``, ...).
    caps : str
        GStreamer's caps of the parsed stream.
    tags : dict
        The stream's tags (language, bitrate, encoder, ...).
    """

    kind: str
    codec: Optional[str]
    caps: str
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VideoInfo(StreamInfo):
    """A video stream.

    Attributes
    ----------
    width, height : int
        The size as displayed: after the rotation tag is applied (a 1920x1080 stream
        tagged 90° is 1080x1920 here, as :class:`~gstreamer.Reader` gives its frames).
    fps : Fraction or None
        The nominal frame rate from the stream; None when unknown or variable (0/1).
    avg_fps : Fraction or None
        Frames divided by the duration, when the frame count is known.
    frames : int or None
        The exact frame count where the container indexes its samples (MP4, MOV); None
        elsewhere (use ``len(gstreamer.VideoFile(path))``, which indexes the packets).
    profile : str or None
    bit_depth : int or None
    pixel_format : str or None
        ffprobe's name (``"yuv420p"``, ``"yuv420p10le"``) when the caps say it.
    rotation : int
        Degrees clockwise the frames are turned to be displayed upright (from the
        ``image-orientation`` tag; ffprobe reports the same matrix counter-clockwise).
    colorimetry : str or None
        GStreamer's colorimetry string (``"bt709"``, ``"bt601"``, ...), when known.
    """

    width: int = 0
    height: int = 0
    fps: Optional[Fraction] = None
    avg_fps: Optional[Fraction] = None
    frames: Optional[int] = None
    profile: Optional[str] = None
    bit_depth: Optional[int] = None
    pixel_format: Optional[str] = None
    rotation: int = 0
    colorimetry: Optional[str] = None


@dataclass(frozen=True)
class AudioInfo(StreamInfo):
    """An audio stream: ``rate`` (Hz) and ``channels`` (None when the caps do not say)."""

    rate: Optional[int] = None
    channels: Optional[int] = None


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` found.

    Attributes
    ----------
    source : str
        The file or URI.
    duration : float or None
        Seconds; None when unknown (a live stream).
    container : str or None
        ``"mp4"``, ``"matroska"``, ``"webm"``, ``"mpegts"``, ``"avi"``, ... (None for an
        elementary stream without container).
    seekable : bool
    live : bool
    tags : dict
        Container-level tags (``container-format``, ``title``, ``encoder``, ...).
    streams : list of StreamInfo
        Every stream, in the order the demuxer exposed them.
    video : VideoInfo or None
        The first video stream.
    audio : list of AudioInfo
        The audio streams.
    """

    source: str
    duration: Optional[float]
    container: Optional[str]
    seekable: bool
    live: bool
    tags: dict[str, Any]
    streams: list[StreamInfo]
    video: Optional[VideoInfo]
    audio: list[AudioInfo]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (fractions as ``"30/1"`` strings)."""

        def plain(value: Any) -> Any:
            if isinstance(value, Fraction):
                return f"{value.numerator}/{value.denominator}"
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if isinstance(value, (StreamInfo, MediaInfo)):
                return {k: plain(v) for k, v in value.__dict__.items()}
            if value is None or isinstance(value, (str, int, float, bool)):
                return value
            return str(value)

        return dict(plain(self))


# -- MP4 sample tables -------------------------------------------------------------------


def _boxes(data: bytes, start: int = 0, end: Optional[int] = None) -> list[tuple[bytes, int, int]]:
    """``(type, payload_start, payload_end)`` of the boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    out = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        head = 8
        if size == 1:
            if pos + 16 > end:
                break
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            break
        out.append((kind, pos + head, pos + size))
        pos += size
    return out


def _child(
    data: bytes, box: tuple[bytes, int, int], kind: bytes
) -> Optional[tuple[bytes, int, int]]:
    for child in _boxes(data, box[1], box[2]):
        if child[0] == kind:
            return child
    return None


def _read_moov(f: BinaryIO, size: int) -> Optional[bytes]:
    pos = 0
    while pos + 8 <= size:
        f.seek(pos)
        head = f.read(16)
        if len(head) < 8:
            return None
        box_size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if box_size == 1:
            box_size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif box_size == 0:
            box_size = size - pos
        if box_size < header:
            return None
        if kind == b"moov":
            if box_size > 512 * 1024 * 1024:
                return None
            f.seek(pos)
            return f.read(box_size)
        pos += box_size
    return None


def mp4_video_frames(path: str) -> Optional[int]:
    """Samples in the first video track's sample table (``stsz``), or None.

    None for fragmented files (their samples are listed in fragments, not in ``moov``)
    and for anything that is not an MP4/MOV.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            moov = _read_moov(f, size)
    except OSError:
        return None
    if moov is None:
        return None
    root = (b"moov", 8, len(moov))
    if _child(moov, root, b"mvex") is not None:
        return None
    for trak in _boxes(moov, 8):
        if trak[0] != b"trak":
            continue
        mdia = _child(moov, trak, b"mdia")
        hdlr = _child(moov, mdia, b"hdlr") if mdia else None
        if mdia is None or hdlr is None or moov[hdlr[1] + 8 : hdlr[1] + 12] != b"vide":
            continue
        minf = _child(moov, mdia, b"minf")
        stbl = _child(moov, minf, b"stbl") if minf else None
        if stbl is None:
            return None
        table = _child(moov, stbl, b"stsz") or _child(moov, stbl, b"stz2")
        if table is None or table[1] + 12 > table[2]:
            return None
        return int(struct.unpack(">I", moov[table[1] + 8 : table[1] + 12])[0])
    return None


# -- caps and tags -----------------------------------------------------------------------


def _tag_value(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    to_iso = getattr(value, "to_iso8601_string", None)
    if callable(to_iso):
        return to_iso()
    return str(value)


def _tags(taglist: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if taglist is None:
        return out
    for i in range(taglist.n_tags()):
        name = taglist.nth_tag_name(i)
        value = taglist.get_value_index(name, 0)
        if value is not None and name not in ("image", "preview-image"):  # pictures: skipped
            out[name] = _tag_value(value)
    return out


def _codec(structure: Any) -> Optional[str]:
    name = structure.get_name()
    if name == "video/mpeg":
        version = structure.get_int("mpegversion")[1]
        return {1: "mpeg1video", 2: "mpeg2video", 4: "mpeg4"}.get(version, "mpeg")
    if name == "audio/mpeg":
        version = structure.get_int("mpegversion")[1]
        if version == 1:
            layer = structure.get_int("layer")[1]
            return {1: "mp1", 2: "mp2", 3: "mp3"}.get(layer, "mp3")
        return "aac"
    return _CODECS.get(name, name.split("/", 1)[-1].removeprefix("x-") or None)


def _get_string(structure: Any, name: str) -> Optional[str]:
    value = structure.get_string(name)
    return str(value) if value else None


def _get_int(structure: Any, name: str) -> Optional[int]:
    if not structure.has_field(name):
        return None
    try:
        return int(structure.get_value(name))
    except (TypeError, ValueError):
        return None


def _pixel_format(structure: Any, codec: Optional[str], depth: Optional[int]) -> Optional[str]:
    chroma = _get_string(structure, "chroma-format")
    profile = _get_string(structure, "profile")
    if chroma is None and codec == "vp9" and profile in ("0", "2"):
        chroma = "4:2:0"  # VP9 profiles 0 and 2 are 4:2:0 by definition
    if chroma is None and codec == "vp9" and profile == "0":
        depth = depth or 8
    base = _CHROMA.get(chroma or "")
    if base is None:
        return None
    if depth and depth > 8:
        return f"{base}{depth}le"
    return base


def _stream(pad: Any, frames: Optional[int], duration: Optional[float]) -> Optional[StreamInfo]:
    Gst = _gi.Gst()
    caps = pad.get_current_caps()
    if caps is None or caps.get_size() == 0:
        return None
    s = caps.get_structure(0)
    name = s.get_name()
    tags: dict[str, Any] = {}
    i = 0
    while True:
        event = pad.get_sticky_event(Gst.EventType.TAG, i)
        if event is None:
            break
        tags.update(_tags(event.parse_tag()))
        i += 1
    codec = _codec(s)
    if name.startswith(("video/", "image/")):
        width = _get_int(s, "width") or 0
        height = _get_int(s, "height") or 0
        rotation = ORIENTATIONS.get(str(tags.get("image-orientation", "")), 0)
        if rotation in (90, 270):
            width, height = height, width
        fps: Optional[Fraction] = None
        ok, num, den = s.get_fraction("framerate")
        if ok and num > 0 and den > 0:
            fps = Fraction(num, den)
        depth = _get_int(s, "bit-depth-luma")
        avg = None
        if frames and duration:
            avg = Fraction(frames / duration).limit_denominator(1001)
        return VideoInfo(
            kind="video",
            codec=codec,
            caps=caps.to_string(),
            tags=tags,
            width=width,
            height=height,
            fps=fps,
            avg_fps=avg,
            frames=frames,
            profile=_get_string(s, "profile"),
            bit_depth=depth,
            pixel_format=_pixel_format(s, codec, depth),
            rotation=rotation,
            colorimetry=_get_string(s, "colorimetry"),
        )
    if name.startswith("audio/"):
        return AudioInfo(
            kind="audio",
            codec=codec,
            caps=caps.to_string(),
            tags=tags,
            rate=_get_int(s, "rate"),
            channels=_get_int(s, "channels"),
        )
    kind = "subtitle" if name.startswith(("text/", "subtitle/", "application/x-ssa")) else "other"
    return StreamInfo(kind=kind, codec=codec, caps=caps.to_string(), tags=tags)


# -- probing -----------------------------------------------------------------------------


class _Probe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pads: list[Any] = []
        self.decoders: list[str] = []

    def element_added(self, bin: Any, sub_bin: Any, element: Any) -> None:
        factory = element.get_factory()
        log.debug(
            "probe: element %s (%s)", element.get_name(), factory.get_name() if factory else "?"
        )
        if is_decoder(element):
            with self.lock:
                self.decoders.append(element.get_name())

    def pad_added(self, parsebin: Any, pad: Any) -> None:
        Gst = _gi.Gst()
        # A queue per stream: a prerolled sink blocks its thread, and the demuxer must
        # still reach the other streams' first packets.
        queue = Gst.ElementFactory.make("queue", None)
        queue.set_property("max-size-time", 0)
        queue.set_property("max-size-buffers", 0)
        sink = Gst.ElementFactory.make("fakesink", None)
        sink.set_property("sync", False)
        bin = parsebin.get_parent()
        bin.add(queue)
        bin.add(sink)
        queue.link(sink)
        sink.sync_state_with_parent()
        queue.sync_state_with_parent()
        pad.link(queue.get_static_pad("sink"))
        with self.lock:
            self.pads.append(pad)


def _bus_error(pipeline: Any) -> Optional[PipelineError]:
    Gst = _gi.Gst()
    message = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    if message is None:
        return None
    gerror, debug = message.parse_error()
    return from_gerror(gerror, debug, message.src.get_name() if message.src else None)


def probe(source: Union[str, os.PathLike[str]], *, timeout: float = 10.0) -> MediaInfo:
    """What ``source`` (a file path or a URI) holds: streams, codecs, duration, ...

    No frame is decoded: only demuxers and parsers run, up to the first packet of each
    stream (the pipeline goes to PAUSED, never to PLAYING).

    Raises
    ------
    SourceNotFoundError
        No such file.
    InvalidMediaError
        Not a media file, or corrupt.
    TimeoutError
        The source gave nothing within ``timeout`` seconds.
    """
    Gst = _gi.Gst()
    where, value = _classify(source)
    if where not in ("file", "uri"):
        raise ArgumentError(f"probe reads files and URIs, not pipelines: {value!r}")
    if where == "file":
        head = f"filesrc location={quote(value)}"
    else:
        head = f"urisourcebin uri={quote(value)}"
    state = _Probe()
    pipeline = parse_launch(f"{head} ! parsebin name=parse")
    parse = pipeline.get_by_name("parse")
    parse.connect("pad-added", state.pad_added)
    pipeline.connect("deep-element-added", state.element_added)
    with invalid_media_as(value):
        try:
            live = _wait_paused(pipeline, state, timeout, value)
            with state.lock:
                pads = list(state.pads)
            ok, duration_ns = pipeline.query_duration(Gst.Format.TIME)
            duration = duration_ns / 1e9 if ok and duration_ns >= 0 else None
            query = Gst.Query.new_seeking(Gst.Format.TIME)
            seekable = bool(pipeline.query(query) and query.parse_seeking()[1])
            if where == "file" and not live:
                seekable = True  # tsdemux answers no, yet seeks in files
            container, container_tags = _container(pipeline)
            frames = mp4_video_frames(value) if where == "file" and container == "mp4" else None
            streams = [s for s in (_stream(pad, frames, duration) for pad in pads) if s]
        finally:
            pipeline.set_state(Gst.State.NULL)
            pipeline.get_bus().set_flushing(True)
    if state.decoders:  # pragma: no cover - parsebin never plugs decoders
        log.warning("probe created decoders: %s", state.decoders)
    if not streams:
        raise InvalidMediaError(f"{value!r} has no audio or video stream", filename=value)
    if duration is None and not live and where == "file" and container in ("mpegts", "mpeg"):
        duration = _duration_from_index(value)
    video = next((s for s in streams if isinstance(s, VideoInfo)), None)
    audio = [s for s in streams if isinstance(s, AudioInfo)]
    return MediaInfo(
        source=value,
        duration=duration,
        container=container,
        seekable=seekable,
        live=live,
        tags=container_tags,
        streams=streams,
        video=video,
        audio=audio,
    )


def _duration_from_index(path: str) -> Optional[float]:
    """MPEG-TS/PS do not state a duration: take it from the packets' timestamps."""
    from .index import frame_index

    try:
        index = frame_index(path)
    except GstError:
        return None
    return (index.end_ns - int(index.time_ns[0])) / 1e9


def _wait_paused(pipeline: Any, state: _Probe, timeout: float, source: str) -> bool:
    """PAUSED with every stream's pad exposed and prerolled; True when the source is live.

    parsebin exposes pads one by one once their caps are known; each new fakesink makes
    the pipeline preroll again (ASYNC_DONE). Done when the pads cover the stream collection
    the demuxer announced (or, without one, when no pad came for a short while).
    """
    Gst = _gi.Gst()
    deadline = time.monotonic() + timeout
    ret = pipeline.set_state(Gst.State.PAUSED)
    if ret == Gst.StateChangeReturn.FAILURE:
        error = _bus_error(pipeline)
        raise error or InvalidMediaError(f"{source!r} could not be opened", filename=source)
    live = ret == Gst.StateChangeReturn.NO_PREROLL
    bus = pipeline.get_bus()
    wanted = Gst.MessageType.ERROR | Gst.MessageType.ASYNC_DONE
    wanted |= Gst.MessageType.STREAM_COLLECTION
    streams: Optional[int] = None
    prerolled_at: Optional[float] = None
    stall = StallCheck(source)
    while True:
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(f"probing {source!r} took more than {timeout} s")
        message = bus.timed_pop_filtered(20 * Gst.MSECOND, wanted)
        if message is not None:
            if message.type == Gst.MessageType.ERROR:
                gerror, debug = message.parse_error()
                raise from_gerror(gerror, debug, message.src.get_name() if message.src else None)
            if message.type == Gst.MessageType.STREAM_COLLECTION:
                streams = message.parse_stream_collection().get_size()
            elif message.type == Gst.MessageType.ASYNC_DONE:
                prerolled_at = time.monotonic()
        with state.lock:
            pads = len(state.pads)
        if not pads:
            stall.check(pipeline)
        caps_known = pads and all(p.get_current_caps() is not None for p in state.pads)
        if live and caps_known and (streams is None or pads >= streams):
            return True
        if prerolled_at is None or not pads:
            continue
        ret, _, _ = pipeline.get_state(0)
        if ret != Gst.StateChangeReturn.SUCCESS:
            continue
        if (streams is not None and pads >= streams) or time.monotonic() - prerolled_at > 0.2:
            return bool(live)


def _container(pipeline: Any) -> tuple[Optional[str], dict[str, Any]]:
    """The demuxer's input format and the container-level tags."""
    Gst = _gi.Gst()
    container: Optional[str] = None
    tags: dict[str, Any] = {}
    for element in iterate(pipeline.iterate_recurse()):
        factory = element.get_factory()
        klass = factory.get_metadata("klass") if factory is not None else ""
        if "Demux" not in (klass or ""):
            continue
        pad = element.get_static_pad("sink")
        caps = pad.get_current_caps() if pad is not None else None
        if caps is None:  # pull mode: no caps event, ask the typefinder
            typefind = pipeline.get_by_name("parse").get_by_name("typefind")
            caps = typefind.get_property("caps") if typefind is not None else None
        if caps is not None and caps.get_size():
            s = caps.get_structure(0)
            name = s.get_name()
            container = _CONTAINERS.get(name, name.split("/", 1)[-1])
            if name == "video/quicktime" and _get_string(s, "variant") == "apple":
                container = "mov"
        for src in iterate(element.iterate_src_pads()):
            i = 0
            while True:
                event = src.get_sticky_event(Gst.EventType.TAG, i)
                if event is None:
                    break
                taglist = event.parse_tag()
                if taglist.get_scope() == Gst.TagScope.GLOBAL:
                    tags.update(_tags(taglist))
                i += 1
        break
    return container, tags


def describe(info: MediaInfo) -> str:
    """A few human-readable lines about ``info`` (what ``gstreamer probe FILE`` prints)."""
    duration = "unknown" if info.duration is None else f"{info.duration:.3f} s"
    flags = ", ".join(f for f, on in (("seekable", info.seekable), ("live", info.live)) if on)
    lines = [
        f"{info.source}: {info.container or 'no container'}, {duration}"
        + (f" ({flags})" if flags else "")
    ]
    for stream in info.streams:
        if isinstance(stream, VideoInfo):
            fps = "variable/unknown fps" if stream.fps is None else f"{stream.fps} fps"
            extra = [stream.profile, stream.pixel_format, stream.colorimetry]
            text = (
                f"  video: {stream.codec} {stream.width}x{stream.height} {fps}, "
                f"{'?' if stream.frames is None else stream.frames} frames"
            )
            details = ", ".join(str(e) for e in extra if e)
            if details:
                text += f" ({details})"
            if stream.rotation:
                text += f", rotated {stream.rotation} deg"
        elif isinstance(stream, AudioInfo):
            text = f"  audio: {stream.codec} {stream.rate} Hz, {stream.channels} channels"
        else:
            text = f"  {stream.kind}: {stream.codec}"
        lines.append(text)
    for name, value in info.tags.items():
        lines.append(f"  {name}: {value}")
    return "\n".join(lines)
