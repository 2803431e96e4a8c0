"""``thumbnails``: a few frames spread over a video, decoding keyframes only.

::

    for frame in gstreamer.thumbnails("movie.mp4", n=10, width=320):
        frame.data, frame.time               # (180, 320, 3) RGB, the keyframe's time

For each time, one key-unit seek with ``TRICKMODE_KEY_UNITS`` lands on the keyframe at or
before it; the demuxer sends that keyframe alone (the seek's stop is the asked time), so the
decoder decodes one frame and drains. Nothing between keyframes is decoded, which is what
makes this fast on long files.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable
from typing import Optional, Union

import numpy as np

from . import _colour, _convert, _gi, _rotate
from ._timeline import (
    DecoderWatch,
    StallCheck,
    invalid_media_as,
    stream_time,
)
from .appsink import AppSinkPuller
from .errors import (
    ArgumentError,
    CapsError,
    InvalidMediaError,
    NotSeekableError,
    TimeoutError,
)
from .frame import Frame
from .pipeline import GstPipeline
from .reader import _CONVERT, _check_rotate, _classify, _converts, _decoding_head, _media_kind

__all__ = ["thumbnails"]

_SLICE = 0.05


def thumbnails(
    source: Union[str, os.PathLike[str]],
    n: int = 10,
    *,
    times: Optional[Iterable[float]] = None,
    width: Optional[int] = None,
    height: Optional[int] = None,
    format: str = "RGB",
    rotate: Optional[str] = "auto",
    timeout: float = 10.0,
) -> list[Frame]:
    """Keyframes at ``n`` evenly spaced times, or at ``times``.

    Parameters
    ----------
    source : str or os.PathLike
        A file or a URI that can seek.
    n : int
        How many; the times are the middles of ``n`` equal parts of the duration.
    times : iterable of float, optional
        The times (seconds) instead; each gives the keyframe at or before it.
    width, height : int, optional
        Scale to this size; with only one given, the other keeps the aspect ratio.
    format : str
        A packed raw video format (``"RGB"``, ``"BGR"``, ``"GRAY8"``, ...).
    rotate : {"auto", None}
        Turn frames upright from the rotation tag (default), or keep them as stored.
    timeout : float
        Seconds each step may take.

    Returns
    -------
    list of Frame
        Owned arrays; ``Frame.pts`` is the time of the keyframe shown (ns), which can be
        earlier than the time asked.

    Raises
    ------
    NotSeekableError
        The source cannot seek (a pipe, a live stream).
    InvalidMediaError
        Not a media file, or no video stream.
    """
    if _media_kind(format) != "video":
        raise CapsError(f"thumbnails are video; {format!r} is an audio format")
    _check_rotate(rotate)
    where, value = _classify(source)
    if where not in ("file", "uri"):
        raise NotSeekableError(f"thumbnails need a file or a URI that can seek, not {value!r}")
    head = _decoding_head(where, value)
    fields = ""
    if width is not None:
        fields += f",width={int(width)}"
    if height is not None:
        fields += f",height={int(height)}"
    parts = [head, "video/x-raw(ANY)"]  # rotate="auto": videoflip inserted when tagged
    parts.append(f"videoconvert name={_CONVERT}")
    if width is not None or height is not None:
        parts.append("videoscale")
        fields += ",pixel-aspect-ratio=1/1"
    # as the Reader: RGB-like formats come from the decoder's YUV through libswscale
    parts += [
        _convert.appsink_caps(format, fields),
        "appsink name=sink sync=false enable-last-sample=false",
    ]
    convert_to = format if _converts(format) else None
    watch = DecoderWatch()
    puller: Optional[AppSinkPuller] = None

    def configure(pipeline: GstPipeline) -> None:
        nonlocal puller
        pipeline.pipeline.connect("deep-element-added", watch.element_added)
        if rotate == "auto":
            Gst = _gi.Gst()
            for element in pipeline.get_by_cls(Gst.Bin):
                factory = element.get_factory()
                if factory is not None and factory.get_name() in ("decodebin", "uridecodebin"):
                    element.connect("pad-added", _rotate.pad_added)
        # the Reader's colours: the stream's own tags, untagged read as FFmpeg reads it
        pipeline.pipeline.connect("deep-element-added", _colour.prefer_stream_tags)
        _colour.pin_colorimetry(pipeline.get_by_name(_CONVERT).get_static_pad("sink"), None)
        GstApp = _gi.GstApp()
        sink = pipeline.get_by_cls(GstApp.AppSink)[0]
        puller = AppSinkPuller(sink, max_buffers=2, copy=True, convert_to=convert_to)
        puller.keep_segment = True

    pipeline = GstPipeline(" ! ".join(parts), on_init=configure)
    with invalid_media_as(value):
        try:
            pipeline.startup()
            _wait_prerolled(pipeline, timeout, value)
            assert puller is not None
            wanted = _times(pipeline, value, n) if times is None else [float(t) for t in times]
            return [_keyframe_at(pipeline, puller, watch, t, timeout) for t in wanted]
        finally:
            pipeline.shutdown(eos=False, raise_errors=False)
            if puller is not None:
                puller.close()


def _wait_prerolled(pipeline: GstPipeline, timeout: float, source: str) -> None:
    Gst = _gi.Gst()
    deadline = time.monotonic() + timeout
    stall = StallCheck(source)
    while True:
        ret, _, _ = pipeline.pipeline.get_state(int(_SLICE * Gst.SECOND))
        pipeline.raise_for_error()
        if ret == Gst.StateChangeReturn.ASYNC:
            stall.check(pipeline.pipeline)
        if ret == Gst.StateChangeReturn.SUCCESS:
            return
        if ret == Gst.StateChangeReturn.NO_PREROLL:
            raise NotSeekableError("the source is live; thumbnails need a file that can seek")
        if ret == Gst.StateChangeReturn.FAILURE:
            pipeline.raise_for_error()
            raise InvalidMediaError(f"{source!r} could not be opened", filename=source)
        if time.monotonic() > deadline:
            raise TimeoutError(f"the pipeline did not start within {timeout} s")


def _times(pipeline: GstPipeline, source: str, n: int) -> list[float]:
    if n < 0:
        raise ArgumentError(f"n must be >= 0, not {n}")
    Gst = _gi.Gst()
    ok, duration = pipeline.pipeline.query_duration(Gst.Format.TIME)
    seconds = duration / 1e9 if ok and duration > 0 else None
    if seconds is None:
        from .probe import probe

        seconds = probe(source).duration
    if seconds is None:
        raise NotSeekableError("the duration is unknown; pass times=[...]")
    return [seconds * (k + 0.5) / n for k in range(n)]


def _keyframe_at(
    pipeline: GstPipeline, puller: AppSinkPuller, watch: DecoderWatch, t: float, timeout: float
) -> Frame:
    if not t >= 0:
        raise ArgumentError(f"times must be >= 0 seconds, not {t!r}")
    target = round(t * 1e9)
    # A demuxer can snap to the keyframe *after* t: qtdemux looks samples up by decode time,
    # and with B-frames the next keyframe can be decoded before t. Then seek again earlier.
    back = 0
    while True:
        start = max(0, target - back)
        frame = _last_keyframe(pipeline, puller, watch, start, target, timeout)
        if frame is not None:
            return frame
        if start == 0:
            raise InvalidMediaError(f"no keyframe at or before {t} s", filename=None)
        back = max(2 * back, 500_000_000)


def _last_keyframe(
    pipeline: GstPipeline,
    puller: AppSinkPuller,
    watch: DecoderWatch,
    start: int,
    target: int,
    timeout: float,
) -> Optional[Frame]:
    """Seek to the keyframe at or before ``start`` with stop just after ``target``; the
    last keyframe decoded at or before ``target``, or None when there was none."""
    Gst = _gi.Gst()
    flags = (
        Gst.SeekFlags.FLUSH
        | Gst.SeekFlags.KEY_UNIT
        | Gst.SeekFlags.SNAP_BEFORE
        | Gst.SeekFlags.TRICKMODE
        | Gst.SeekFlags.TRICKMODE_KEY_UNITS
    )
    if not pipeline.pipeline.seek(
        1.0,
        Gst.Format.TIME,
        flags,
        Gst.SeekType.SET,
        start + watch.base,
        Gst.SeekType.SET,
        target + watch.base + 1_000_000,
    ):
        raise NotSeekableError(f"the source refused to seek to {target / 1e9} s")
    deadline = time.monotonic() + timeout
    best: Optional[Frame] = None
    while True:
        pipeline.raise_for_error()
        frame = puller.pull(_SLICE)
        if frame is not None:
            # Demuxers that ignore TRICKMODE_KEY_UNITS (matroskademux) or seek imprecisely
            # (tsdemux) send the frames in between too: keep the last keyframe <= target.
            key = watch.is_key(frame.pts)
            pts = stream_time(puller.segment, frame.pts)
            if key and pts is not None and pts - watch.base <= target + 1000:
                best = dataclasses.replace(
                    frame, pts=pts - watch.base, dts=None, duration=None, keyframe=True
                )
            continue  # to EOS, so the next seek starts clean
        if puller.is_eos:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"no keyframe decoded within {timeout} s for t={target / 1e9}")
    first = best
    if first is not None and not isinstance(first.data, np.ndarray):
        raise CapsError(f"format {first.caps!r} gives planes; use a packed format such as RGB")
    return first
