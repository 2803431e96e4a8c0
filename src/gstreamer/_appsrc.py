"""The one appsrc feeder: caps, timestamps, bounded backpressure and timeouts.

:class:`AppSrcFeeder` turns arrays into timestamped buffers and pushes them into one
``appsrc``. Every push path uses it: :class:`~gstreamer.Writer`, :class:`~gstreamer.AudioWriter`,
:class:`~gstreamer.MuxWriter` (one per input), the RTSP server (one per client media), the
CLI and the seed's :class:`~gstreamer.GstVideoSink`.

A push never blocks without a deadline: appsrc's own blocking push has no timeout, so the
feeder keeps appsrc non-blocking and waits for room in its queue itself (the GIL is released
while it waits), raising :class:`~gstreamer.TimeoutError` after ``timeout`` seconds.
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any, Callable, Optional

import numpy as np

from . import _convert, _gi
from ._time import SECOND, FrameRate, Timestamp, fps_fraction, to_ns
from .buffers import _has_array_protocol, buffer_to_ndarray, ndarray_to_buffer
from .caps import AudioLayout, Layout, VideoLayout, audio_caps, layout_from_caps, video_caps
from .errors import ArgumentError, CapsError, ClosedError, LifecycleError, TimeoutError
from .frame import Frame

__all__ = ["BACKPRESSURE", "RGB_FORMATS", "AppSrcFeeder", "as_array", "unpack"]

BACKPRESSURE = ("block", "drop-oldest", "drop-newest")

RGB_FORMATS = frozenset(
    ["RGB", "BGR", "RGBA", "BGRA", "ARGB", "ABGR", "RGBx", "BGRx", "xRGB", "xBGR"]
)

Check = Callable[[], None]


def _no_check() -> None:
    return None


def as_array(data: Any, kind: str) -> Any:
    """``data`` as an array (lists of planes and ``Gst.Buffer`` objects pass through)."""
    if isinstance(data, (np.ndarray, list)):
        return data
    Gst = _gi.Gst()
    if isinstance(data, Gst.Buffer):
        return data
    try:
        if hasattr(data, "__dlpack__") and not _has_array_protocol(data):
            return np.from_dlpack(data)  # zero-copy; CPU memory only
        return np.asarray(data)
    except Exception as exc:
        raise CapsError(
            f"cannot make a {kind} array from {type(data).__name__}: {exc} (arrays must be in "
            "CPU memory, e.g. tensor.cpu(); tensors that require grad need .detach())"
        ) from exc


def unpack(
    frame: Any, pts: Timestamp = None, duration: Timestamp = None
) -> tuple[Any, Optional[int], Optional[int]]:
    """``(data, pts_ns, duration_ns)``: ``pts`` and ``duration`` given to a push (seconds,
    see :mod:`gstreamer._time`), else a :class:`~gstreamer.Frame`'s own times."""
    data, pts_ns, duration_ns = (
        (frame.data, frame.pts, frame.duration) if isinstance(frame, Frame) else (frame, None, None)
    )
    if pts is not None:
        pts_ns = to_ns(pts)
    if duration is not None:
        duration_ns = to_ns(duration, name="duration")
    return data, pts_ns, duration_ns


class AppSrcFeeder:
    """Feeds one appsrc from Python.

    Parameters
    ----------
    kind : {"video", "audio"}
    name : str
        The appsrc's name in the pipeline (used in messages).
    fps : int, float, Fraction or str, optional
        Video frame rate: automatic timestamps and the caps' framerate.
    rate, channels, format : optional
        Audio sample rate and channel count; raw format when the array's shape and dtype
        leave a choice (``"BGR"``, ``"S16LE"``...).
    caps : str or Gst.Caps, optional
        The stream's caps; otherwise they come from the first array (:meth:`caps_for`).
    backpressure : {"block", "drop-oldest", "drop-newest"}
        When appsrc's queue holds ``max_buffers``: wait (up to the push's timeout), drop the
        oldest queued buffer, or drop the new one. Dropped buffers are counted.
    max_buffers : int
        appsrc's queue size.
    live : bool
        Stamp buffers with the pipeline's running time (and make the appsrc live).
    copy : bool
        Copy each array before pushing it (otherwise the pipeline reads the caller's memory).
    """

    def __init__(
        self,
        kind: str = "video",
        *,
        name: str = "src",
        fps: FrameRate = None,
        rate: Optional[int] = None,
        channels: Optional[int] = None,
        format: Optional[str] = None,
        caps: Any = None,
        backpressure: str = "block",
        max_buffers: int = 4,
        live: bool = False,
        copy: bool = False,
    ) -> None:
        if kind not in ("video", "audio"):
            raise ArgumentError(f"kind must be 'video' or 'audio', got {kind!r}")
        if backpressure not in BACKPRESSURE:
            raise ArgumentError(f"backpressure must be one of {BACKPRESSURE}, got {backpressure!r}")
        if max_buffers < 1:
            raise ArgumentError(f"max_buffers must be at least 1, got {max_buffers}")
        self.kind = kind
        self.name = name
        self.fps = fps_fraction(fps)
        self.rate = rate
        self.channels = channels
        self.format = format
        self.backpressure = backpressure
        self.max_buffers = max_buffers
        self.live = live
        self.copy = copy
        self.layout: Optional[Layout] = None
        self.appsrc: Any = None
        self.frames_written = 0
        self.dropped = 0
        self._check: Check = _no_check
        self._next = Fraction(0)
        self._last_pts: Optional[int] = None
        # set before attach() when the element after appsrc wants I420 (an encoder):
        # RGB-like frames are then converted here with libyuv (see gstreamer._convert)
        self.to_i420 = False
        self._converter: Optional[_convert.RgbToI420] = None
        if caps is not None:
            self.layout = self._layout_from(caps)

    # -- caps ----------------------------------------------------------------------------

    def _layout_from(self, caps: Any) -> Layout:
        text = caps if isinstance(caps, str) else caps.to_string()
        layout = layout_from_caps(text)
        if layout.kind != self.kind:
            raise CapsError(f"{self.name} input needs {self.kind} caps, got {text!r}")
        if isinstance(layout, VideoLayout):
            if layout.fps is None and self.fps is not None:
                rate = f"{self.fps.numerator}/{self.fps.denominator}"
                layout = layout_from_caps(f"{text},framerate=(fraction){rate}")
            if isinstance(layout, VideoLayout) and layout.fps:
                self.fps = layout.fps
        return layout

    def caps_for(self, array: np.ndarray) -> Layout:
        """The layout of a stream whose first array is ``array`` (nothing is changed)."""
        if self.kind == "video":
            fps = self.fps if self.fps is not None else Fraction(0)
            text = video_caps(array.shape, array.dtype, format=self.format, fps=fps)
            fmt = text.split("format=", 1)[1].split(",", 1)[0]
            if fmt in RGB_FORMATS:
                # arrays hold sRGB; saying so gives the converter a fixed, correct matrix
                text += ",colorimetry=sRGB"
            return self._layout_from(text)
        if array.ndim == 1:
            channels = self.channels or 1
        elif array.ndim == 2:
            channels = array.shape[1]
        else:
            raise CapsError(
                f"audio arrays are (samples, channels) or (samples,), got shape {array.shape}"
            )
        if self.channels is not None and channels != self.channels:
            raise CapsError(
                f"audio array of shape {array.shape} has {channels} channels, "
                f"expected channels={self.channels}"
            )
        if self.format is not None:
            text = f"audio/x-raw,format={self.format},rate={self.rate},channels={channels}"
            text += ",layout=interleaved"
        else:
            text = audio_caps(array.dtype, channels, int(self.rate or 48000))
        return self._layout_from(text)

    def set_caps_from(self, array: Any) -> None:
        """Fix the stream's caps from its first array (no-op when they are known)."""
        if self.layout is not None:
            return
        if isinstance(array, list):
            raise CapsError("a list of planes needs caps= to know the format")
        if not isinstance(array, np.ndarray):
            raise CapsError("a Gst.Buffer needs caps= to know the format")
        layout = self.caps_for(array)
        layout.check_array(array)  # a frame the stream would reject fails before it starts
        self.layout = layout

    @property
    def caps(self) -> Optional[str]:
        """The stream's caps string (None until known)."""
        return self.layout.caps_string if self.layout is not None else None

    # -- attaching -----------------------------------------------------------------------

    def attach(self, appsrc: Any, check: Optional[Check] = None) -> None:
        """Configure ``appsrc`` (before PLAYING) and push into it from now on.

        ``check`` is called before every push and while waiting; it raises the pipeline's
        error, or :class:`~gstreamer.ClosedError` when the pipeline stopped.
        """
        Gst = _gi.Gst()
        GstApp = _gi.GstApp()
        self.appsrc = appsrc
        self._check = check or _no_check
        appsrc.set_property("format", Gst.Format.TIME)
        appsrc.set_property("max-buffers", self.max_buffers)
        appsrc.set_property("max-bytes", 0)
        appsrc.set_property("max-time", 0)
        # the feeder waits for room itself (wait_for_room), so no push blocks without a
        # deadline; drop-* let appsrc drop the oldest queued buffer or the new one
        appsrc.set_property("block", False)
        leaky = {
            "block": GstApp.AppLeakyType.NONE,
            "drop-oldest": GstApp.AppLeakyType.DOWNSTREAM,
            "drop-newest": GstApp.AppLeakyType.UPSTREAM,
        }[self.backpressure]
        appsrc.set_property("leaky-type", leaky)
        layout = self.layout
        if (
            self.to_i420
            and isinstance(layout, VideoLayout)
            and layout.format in _convert.RGB_TO_I420
            and layout.width % 2 == 0
            and layout.height % 2 == 0  # odd sizes are encoded 4:4:4 (Writer._fit_odd_sizes)
            and _convert.i420_available()
        ):
            self._converter = _convert.RgbToI420(layout)
            appsrc.set_property("caps", Gst.Caps.from_string(self._converter.caps))
        elif layout is not None:
            appsrc.set_property("caps", Gst.Caps.from_string(layout.caps_string))
        if self.live:
            appsrc.set_property("is-live", True)

    # -- timestamps ----------------------------------------------------------------------

    def _step(self, array: Any) -> Optional[Fraction]:
        """Duration of ``array`` in ns: its sample count for audio, 1/fps for video."""
        layout = self.layout
        if isinstance(layout, AudioLayout):
            if not isinstance(array, np.ndarray) or array.ndim == 0:
                return None
            samples = array.shape[0] if layout.interleaved or array.ndim == 1 else array.shape[1]
            return Fraction(int(samples) * SECOND, layout.rate)
        if self.fps:
            return SECOND / self.fps
        return None

    def timestamps(
        self, array: Any, pts: Optional[int], duration: Optional[int]
    ) -> tuple[Optional[int], Optional[int]]:
        """``(pts, duration)`` in ns for the next buffer.

        Given ones are kept; automatic ones continue from the previous buffer in exact
        fractions (no drift at 30000/1001); live feeders leave pts to the pipeline clock.
        With a variable frame rate and no duration given, a buffer lasts as long as the gap
        before it (the first one has none).
        """
        step = self._step(array)
        if self.live and pts is None:
            if duration is None and step is not None:
                duration = round(step)
            return None, duration
        if pts is None:
            if step is None:
                raise CapsError("with a variable frame rate (fps=None) every frame needs pts=")
            start = self._next
            pts = round(start)
            end = start + step
            if duration is None:
                duration = round(end) - pts
                self._next = end
            else:
                self._next = Fraction(pts + duration)
        else:
            if duration is None and step is not None:
                duration = round(step)
            if duration is None and self._last_pts is not None and pts > self._last_pts:
                # variable frame rate: the gap since the previous frame, so that the last
                # frame has a duration too (mp4mux drops a last sample without one)
                duration = pts - self._last_pts
            self._next = Fraction(pts + (duration or 0))
        self._last_pts = pts
        return pts, duration

    def _running_time(self) -> Optional[int]:
        """The pipeline's running time now; the previous pts + duration until appsrc plays.

        An element's base time is only right once it is PLAYING: going to PLAYING, the
        pipeline hands its clock to every element first, then sets each one's base time
        just before that element's own state change, sinks first and sources last. A frame
        stamped in between got the clock time minus a stale base time (0 in a new pipeline:
        hours ahead), and a syncing sink downstream (the RTSP server's) waited for it for
        ever, stalling the whole stream.
        """
        appsrc = self.appsrc
        clock = appsrc.get_clock()
        if clock is None or appsrc.current_state != _gi.Gst().State.PLAYING:
            return round(self._next)
        return int(clock.get_time() - appsrc.get_base_time())

    # -- pushing -------------------------------------------------------------------------

    def _queue_full(self) -> bool:
        level = int(self.appsrc.get_property("current-level-buffers"))
        return level >= self.max_buffers

    def wait_for_room(self, timeout: float) -> None:
        """Block until appsrc's queue has room; raise pipeline errors and TimeoutError."""
        if not self._queue_full():
            return
        deadline = time.monotonic() + timeout
        delay = 0.0002
        while True:
            self._check()
            if not self._queue_full():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the pipeline took no {self.kind} data for {timeout} s (appsrc queue "
                    f"full): a sink may be waiting for its clock or a muxer for another "
                    "input; interleave the inputs of a MuxWriter, raise timeout=, or use "
                    "backpressure='drop-oldest' for live output"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.005)

    def push(
        self,
        data: Any,
        pts: Optional[int] = None,
        duration: Optional[int] = None,
        *,
        timeout: float = 10.0,
        dts: Optional[int] = None,
        offset: Optional[int] = None,
    ) -> bool:
        """Push one array (or ``Gst.Buffer``); False when it was dropped.

        Parameters
        ----------
        data : numpy.ndarray, list of planes or Gst.Buffer
            Checked against the caps before anything is pushed.
        pts, duration, dts : int, optional
            Nanoseconds (callers convert with :func:`gstreamer._time.to_ns`); ``pts=None``
            continues from the previous buffer, an explicit 0 is 0.
        timeout : float
            Seconds to wait for room with ``backpressure="block"``.
        offset : int, optional
            Buffer offset (video: the frame number by default).

        Raises
        ------
        CapsError, PipelineError, ClosedError, TimeoutError, LifecycleError
        """
        if self.appsrc is None:
            raise LifecycleError(f"{self.name}: the feeder is not attached to an appsrc")
        Gst = _gi.Gst()
        self._check()
        if self._converter is not None:
            frame = data
            if isinstance(frame, Gst.Buffer):
                frame = buffer_to_ndarray(frame, self.layout)
            if isinstance(frame, list) and len(frame) == 1:
                frame = frame[0]
            buf = ndarray_to_buffer(self._converter.convert(as_array(frame, self.kind)))
        elif isinstance(data, Gst.Buffer):
            buf = data
        else:
            if self.copy and isinstance(data, np.ndarray):
                data = np.array(data, copy=True)
            buf = ndarray_to_buffer(data, self.layout)
        pts, duration = self.timestamps(data, pts, duration)
        if self.backpressure == "block":
            self.wait_for_room(timeout)
        if pts is None:  # live: the pipeline's running time now
            pts = self._running_time()
            if pts is not None:
                self._next = Fraction(pts + (duration or 0))
        buf.pts = pts if pts is not None else Gst.CLOCK_TIME_NONE
        if duration is not None:
            buf.duration = duration
        if dts is not None:
            buf.dts = dts
        if offset is not None:
            buf.offset = offset
        elif isinstance(self.layout, VideoLayout):
            buf.offset = self.frames_written + self.dropped
        if self.backpressure == "drop-newest" and self._queue_full():
            self.dropped += 1
            return False
        if self.backpressure == "drop-oldest" and self._queue_full():
            self.dropped += 1
        ret = self.appsrc.emit("push-buffer", buf)
        if ret != Gst.FlowReturn.OK:
            self._check()
            if ret == Gst.FlowReturn.FLUSHING:
                raise ClosedError("the pipeline is no longer running (appsrc is flushing)")
            if ret == Gst.FlowReturn.EOS:
                raise ClosedError("end-of-stream was already sent; cannot push more frames")
            raise LifecycleError(f"push-buffer returned {ret.value_nick}")
        self.frames_written += 1
        return True

    def end_of_stream(self) -> None:
        """Send end-of-stream after the queued buffers."""
        if self.appsrc is not None:
            self.appsrc.emit("end-of-stream")
