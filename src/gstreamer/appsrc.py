"""Pushing arrays into an ``appsrc``: one feeder used by ``GstVideoSink`` and ``Writer``."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Optional, Union

import numpy as np

from . import _gi
from .buffers import ndarray_to_buffer
from .caps import AudioLayout, Layout, VideoLayout, layout_from_caps
from .errors import CapsError, ClosedError, LifecycleError
from .pipeline import GstPipeline

__all__ = ["BACKPRESSURE", "AppSrcFeeder", "GstVideoSink"]

BACKPRESSURE = ("block", "drop-oldest", "drop-newest")


def _ns(value: Union[int, float, None]) -> Optional[int]:
    """Timestamps: ints are nanoseconds; floats are seconds."""
    if value is None:
        return None
    if isinstance(value, float):
        return round(value * 1e9)
    return int(value)


class AppSrcFeeder:
    """Turns arrays into timestamped buffers and pushes them into one appsrc.

    Parameters
    ----------
    appsrc : GstApp.AppSrc
    layout : VideoLayout or AudioLayout, optional
        Checks each array before it is pushed; None pushes raw bytes.
    fps : Fraction, optional
        Frame rate for automatic timestamps (video).
    backpressure : {"block", "drop-oldest", "drop-newest"}
    max_buffers : int
        appsrc's internal queue size.
    """

    def __init__(
        self,
        appsrc: Any,
        layout: Optional[Layout] = None,
        *,
        fps: Optional[Fraction] = None,
        backpressure: str = "block",
        max_buffers: int = 4,
        check: Optional[Callable[[], None]] = None,
        live_clock: bool = False,
    ) -> None:
        if backpressure not in BACKPRESSURE:
            raise ValueError(f"backpressure must be one of {BACKPRESSURE}, got {backpressure!r}")
        Gst = _gi.Gst()
        GstApp = _gi.GstApp()
        self.appsrc = appsrc
        self.layout = layout
        self.fps = fps
        self.backpressure = backpressure
        self.max_buffers = max_buffers
        self._check = check
        self._live_clock = live_clock
        self.pushed = 0
        self.dropped = 0
        self._next_pts = 0
        appsrc.set_property("format", Gst.Format.TIME)
        appsrc.set_property("max-buffers", max_buffers)
        appsrc.set_property("max-bytes", 0)
        appsrc.set_property("max-time", 0)
        if backpressure == "block":
            appsrc.set_property("block", True)
            appsrc.set_property("leaky-type", GstApp.AppLeakyType.NONE)
        else:
            appsrc.set_property("block", False)
            leaky = (
                GstApp.AppLeakyType.DOWNSTREAM
                if backpressure == "drop-oldest"
                else GstApp.AppLeakyType.UPSTREAM
            )
            appsrc.set_property("leaky-type", leaky)
        if layout is not None:
            appsrc.set_property("caps", Gst.Caps.from_string(layout.caps_string))

    def _auto_duration(self, array: np.ndarray) -> Optional[int]:
        layout = self.layout
        if isinstance(layout, AudioLayout):
            samples = array.shape[0] if layout.interleaved else array.shape[1]
            return int(samples) * 1_000_000_000 // int(layout.rate)
        if self.fps:
            return round(1_000_000_000 / self.fps)
        return None

    def push(
        self,
        data: Any,
        pts: Union[int, float, None] = None,
        duration: Union[int, float, None] = None,
        dts: Union[int, float, None] = None,
        offset: Optional[int] = None,
    ) -> bool:
        """Push one frame; returns False when it was dropped (drop-* backpressure).

        ``pts``/``duration``/``dts`` in nanoseconds (int) or seconds (float); ``pts=None``
        continues from the previous frame (``0, 1/fps, 2/fps, ...``); an explicit ``0`` is 0.
        """
        Gst = _gi.Gst()
        if self._check is not None:
            self._check()
        if isinstance(data, Gst.Buffer):
            buf = data
            array = None
        else:
            buf = ndarray_to_buffer(data, self.layout)
            array = data if isinstance(data, np.ndarray) else None
        pts_ns = _ns(pts)
        dur_ns = _ns(duration)
        if dur_ns is None and array is not None:
            dur_ns = self._auto_duration(array)
        if pts_ns is None:
            pts_ns = self._running_time() if self._live_clock else self._next_pts
        buf.pts = pts_ns if pts_ns is not None else Gst.CLOCK_TIME_NONE
        if dur_ns is not None:
            buf.duration = dur_ns
        dts_ns = _ns(dts)
        if dts_ns is not None:
            buf.dts = dts_ns
        if offset is not None:
            buf.offset = offset
        elif isinstance(self.layout, VideoLayout):
            buf.offset = self.pushed + self.dropped
        if pts_ns is not None:
            self._next_pts = pts_ns + (dur_ns or 0)
        if self.backpressure == "drop-newest" and self._queue_full():
            self.dropped += 1
            return False
        if self.backpressure == "drop-oldest" and self._queue_full():
            self.dropped += 1
        ret = self.appsrc.emit("push-buffer", buf)
        if ret != Gst.FlowReturn.OK:
            if self._check is not None:
                self._check()
            if ret == Gst.FlowReturn.FLUSHING:
                raise ClosedError("the pipeline is no longer running (appsrc is flushing)")
            if ret == Gst.FlowReturn.EOS:
                raise ClosedError("end-of-stream was already sent; cannot push more frames")
            raise LifecycleError(f"push-buffer returned {ret.value_nick}")
        self.pushed += 1
        return True

    def _queue_full(self) -> bool:
        level = self.appsrc.get_property("current-level-buffers")
        return bool(self.max_buffers) and level >= self.max_buffers

    def _running_time(self) -> Optional[int]:
        clock = self.appsrc.get_clock()
        if clock is None:
            return self._next_pts
        return int(clock.get_time() - self.appsrc.get_base_time())

    def end_of_stream(self) -> None:
        self.appsrc.emit("end-of-stream")


class GstVideoSink(GstPipeline):
    """The seed's appsrc pipeline: ``push(array)`` frames of a fixed size and format.

    Parameters
    ----------
    command : str
        A description with exactly one ``appsrc``.
    width, height : int
    fps : Fraction or int
    video_frmt : GstVideo.VideoFormat or str
        Format of the pushed arrays (default RGB).
    """

    def __init__(
        self,
        command: str,
        *,
        width: int,
        height: int,
        fps: Union[Fraction, int, float] = Fraction(30),
        video_type: Any = None,
        video_frmt: Any = None,
        backpressure: str = "block",
        max_buffers: int = 4,
    ) -> None:
        super().__init__(command)
        self._fps = Fraction(fps).limit_denominator(1001000)
        self._width = width
        self._height = height
        self._video_type = video_type
        if video_frmt is None:
            fmt = "RGB"
        elif isinstance(video_frmt, str):
            fmt = video_frmt
        else:
            GstVideo = _gi.GstVideo()
            fmt = GstVideo.VideoFormat.to_string(video_frmt)
        self._format = fmt
        self._backpressure = backpressure
        self._max_buffers = max_buffers
        self._src: Any = None
        self._feeder: Optional[AppSrcFeeder] = None

    @property
    def video_frmt(self) -> Any:
        return _gi.GstVideo().VideoFormat.from_string(self._format)

    @property
    def layout(self) -> Optional[Layout]:
        return self._feeder.layout if self._feeder else None

    def _caps_string(self) -> str:
        media = "video/x-raw"
        if self._video_type is not None:
            media = getattr(self._video_type, "value", str(self._video_type))
        rate = f"{self._fps.numerator}/{self._fps.denominator}"
        return (
            f"{media},format={self._format},width={self._width},height={self._height},"
            f"framerate={rate}"
        )

    def _on_pipeline_init(self) -> None:
        GstApp = _gi.GstApp()
        appsrcs = self.get_by_cls(GstApp.AppSrc)
        if len(appsrcs) != 1:
            raise CapsError(
                f"{type(self).__name__} needs exactly one appsrc in its pipeline, "
                f"found {len(appsrcs)}: {self.command!r}"
            )
        self._src = appsrcs[0]
        layout = layout_from_caps(self._caps_string())
        self._feeder = AppSrcFeeder(
            self._src,
            layout,
            fps=self._fps,
            backpressure=self._backpressure,
            max_buffers=self._max_buffers,
            check=self._check_running,
        )

    def _check_running(self) -> None:
        self.raise_for_error()
        if self.pipeline is None or self.is_done:
            raise ClosedError(f"{self} is not running; cannot push")

    @staticmethod
    def to_gst_buffer(
        buffer: Any,
        *,
        pts: Union[int, float, None] = None,
        dts: Union[int, float, None] = None,
        offset: Optional[int] = None,
        duration: Union[int, float, None] = None,
    ) -> Any:
        """Seed helper: a Gst.Buffer for ``buffer`` with the given fields.

        Times are nanoseconds (floats are truncated, as the seed did); None leaves a field
        unset, and an explicit 0 is 0.
        """
        Gst = _gi.Gst()
        buf = buffer if isinstance(buffer, Gst.Buffer) else ndarray_to_buffer(buffer)
        none = Gst.CLOCK_TIME_NONE
        buf.pts = none if pts is None else int(pts)
        buf.dts = none if dts is None else int(dts)
        buf.offset = Gst.BUFFER_OFFSET_NONE if offset is None else offset
        buf.duration = none if duration is None else int(duration)
        return buf

    def push(
        self,
        buffer: Any,
        pts: Union[int, float, None] = None,
        dts: Union[int, float, None] = None,
        duration: Union[int, float, None] = None,
        *,
        offset: Optional[int] = None,
    ) -> None:
        """Push one frame (array or Gst.Buffer).

        Parameters
        ----------
        buffer : numpy.ndarray or Gst.Buffer
            An array must match the sink's width, height and format (checked before it is
            pushed: :class:`~gstreamer.CapsError` otherwise).
        pts, dts, duration : int or float, optional
            Nanoseconds, as in the seed (a float is truncated). ``pts=None`` continues at the
            frame rate from the previous frame; an explicit ``0`` is respected.
        offset : int, optional
            Buffer offset (defaults to the frame number).

        Raises
        ------
        PipelineError
            The pipeline reported an error (for example :class:`~gstreamer.NegotiationError`).
        ClosedError, LifecycleError
            The pipeline is not running.
        """
        if self._feeder is None:
            raise LifecycleError(f"{self} is not started (call startup() first)")
        self._feeder.push(
            buffer,
            pts=None if pts is None else int(pts),
            duration=None if duration is None else int(duration),
            dts=None if dts is None else int(dts),
            offset=offset,
        )

    @property
    def total_buffers_count(self) -> int:
        """Frames pushed so far."""
        return self._feeder.pushed if self._feeder else 0

    def shutdown(
        self, timeout: float = 10.0, eos: bool = True, *, raise_errors: bool = True
    ) -> None:
        super().shutdown(timeout=timeout, eos=eos, raise_errors=raise_errors)
        self._feeder = None
