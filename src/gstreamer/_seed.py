"""The seed library's classes, as thin adapters over the new core.

``GstVideoSink`` pushes through the one appsrc feeder (:mod:`gstreamer._appsrc`) and
``GstVideoSource`` pulls through the one appsink puller (:mod:`gstreamer.appsink`), as
imageio's legacy wrapper serves its v2 API from the v3 plugins. They keep the seed's names
and meanings (nanosecond ``pts``, ``total_buffers_count``, ``pop()``); new code in this
package never builds on them.
"""

from __future__ import annotations

import queue
import weakref
from fractions import Fraction
from typing import Any, Callable, Optional, Union

from . import _gi
from ._appsrc import AppSrcFeeder
from ._time import fps_fraction, seed_ns
from .appsink import AppSinkPuller
from .buffers import ndarray_to_buffer
from .caps import Layout
from .errors import ClosedError, LifecycleError
from .frame import Frame
from .pipeline import GstPipeline, only_element

__all__ = ["GstVideoSink", "GstVideoSource", "LeakyQueue"]


class LeakyQueue(queue.Queue):  # type: ignore[type-arg]
    """A bounded queue that drops its oldest item when full (the seed's ``LeakyQueue``).

    :class:`GstVideoSource` no longer needs it (``leaky=True`` lets appsink drop the oldest
    buffers); it is kept for code that used it directly.

    Parameters
    ----------
    maxsize : int
        Items kept; 0 means unbounded (then nothing is dropped).
    on_drop : callable, optional
        Called as ``on_drop(queue, item)`` for every dropped item.
    """

    def __init__(
        self,
        maxsize: int = 100,
        *,
        on_drop: Optional[Callable[[LeakyQueue, Any], None]] = None,
    ) -> None:
        super().__init__(maxsize=maxsize)
        self._dropped = 0
        self._on_drop = on_drop

    @property
    def dropped(self) -> int:
        """Items dropped so far."""
        return self._dropped

    def put(self, item: Any, block: bool = False, timeout: Optional[float] = None) -> None:
        """Add ``item``, dropping the oldest one if the queue is full (never blocks)."""
        with self.mutex:
            dropped = None
            if self.maxsize > 0 and self._qsize() >= self.maxsize:
                dropped = self._get()
                self._dropped += 1
            self._put(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()
        if dropped is not None and self._on_drop is not None:
            self._on_drop(self, dropped)


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
    backpressure, max_buffers
        As for :class:`~gstreamer.Writer`.
    timeout : float
        Seconds a :meth:`push` may wait for room in the appsrc queue before
        :class:`~gstreamer.TimeoutError` (the seed's push could block forever).
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
        timeout: float = 10.0,
    ) -> None:
        super().__init__(command)
        self._fps = fps_fraction(fps) or Fraction(30)
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
        self.timeout = float(timeout)

    @property
    def video_frmt(self) -> Any:
        """The frame format as a ``GstVideo.VideoFormat`` (seed API)."""
        return _gi.GstVideo().VideoFormat.from_string(self._format)

    @property
    def layout(self) -> Optional[Layout]:
        """Shape, dtype and caps of the frames (None before startup)."""
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
        self._src = only_element(self, _gi.GstApp().AppSrc, "appsrc", type(self).__name__)
        feeder = AppSrcFeeder(
            "video",
            caps=self._caps_string(),
            fps=self._fps,
            backpressure=self._backpressure,
            max_buffers=self._max_buffers,
        )
        feeder.attach(self._src, self._check_running)
        self._feeder = feeder

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
        pts, dts, duration = seed_ns(pts), seed_ns(dts), seed_ns(duration)
        buf.pts = none if pts is None else pts
        buf.dts = none if dts is None else dts
        buf.offset = Gst.BUFFER_OFFSET_NONE if offset is None else offset
        buf.duration = none if duration is None else duration
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
            seed_ns(pts),
            seed_ns(duration),
            dts=seed_ns(dts),
            offset=offset,
            timeout=self.timeout,
        )

    @property
    def total_buffers_count(self) -> int:
        """Frames pushed so far."""
        return self._feeder.frames_written if self._feeder else 0

    def shutdown(
        self, timeout: float = 10.0, eos: bool = True, *, raise_errors: bool = True
    ) -> None:
        """Send end-of-stream after the queued frames, wait for it, stop (as
        ``GstPipeline.shutdown``)."""
        super().shutdown(timeout=timeout, eos=eos, raise_errors=raise_errors)
        self._feeder = None


class GstVideoSource(GstPipeline):
    """The seed's appsink pipeline: :meth:`pop` frames with their timestamps.

    Parameters
    ----------
    command : str
        A description with exactly one ``appsink``.
    leaky : bool
        Keep only the newest ``max_buffers_size`` frames (drop the oldest).
    max_buffers_size : int
        Frames queued before backpressure (or dropping, with ``leaky``).
    copy : bool
        Owned copies instead of zero-copy views (views stay valid after shutdown either way).
    """

    def __init__(
        self,
        command: str,
        leaky: bool = False,
        max_buffers_size: int = 100,
        *,
        copy: bool = False,
    ) -> None:
        super().__init__(command)
        self._leaky = leaky
        self._max_buffers = max_buffers_size
        self._copy = copy
        self._sink: Any = None
        self._puller: Optional[AppSinkPuller] = None
        self._queued_left: Optional[int] = None  # once ended: the queued frames still to hand out
        self._arrived = 0  # buffers that reached the appsink (GStreamer < 1.24)

    def _on_pipeline_init(self) -> None:
        self._queued_left = None
        self._arrived = 0
        self._sink = only_element(self, _gi.GstApp().AppSink, "appsink", type(self).__name__)
        self._puller = AppSinkPuller(
            self._sink,
            max_buffers=self._max_buffers,
            leaky=self._leaky,
            copy=self._copy,
            check=self.raise_for_error,
        )
        if self._sink.find_property("current-level-buffers") is None:
            # GStreamer < 1.24: appsink does not say how many buffers it holds; count them
            Gst = _gi.Gst()
            pad = self._sink.get_static_pad("sink")
            pad.add_probe(Gst.PadProbeType.BUFFER, _count_arrival, weakref.ref(self))

    @property
    def total_buffers_count(self) -> int:
        """Frames popped so far."""
        return self._puller.pulled if self._puller else 0

    @property
    def queue_size(self) -> int:
        """Frames waiting in appsink."""
        if self._sink is None:
            return 0
        if self._sink.find_property("current-level-buffers") is not None:
            return int(self._sink.get_property("current-level-buffers") or 0)
        waiting = self._arrived - self.total_buffers_count
        if self._max_buffers > 0:  # a leaky appsink dropped the others
            waiting = min(waiting, self._max_buffers)
        return max(0, waiting)

    def pop(self, timeout: float = 0.1) -> Optional[Frame]:
        """The next frame, waiting while the pipeline runs; None once it ended.

        ``timeout`` is how long each wait lasts before the pipeline's state is checked again.
        A pipeline error is raised here, once the frames queued when it came are handed out
        (a live source that goes on producing after an error does not postpone it).
        """
        puller = self._puller
        if puller is None:
            raise LifecycleError(f"{self} is not started (call startup() first)")
        while True:
            if self._queued_left is None and self._ended(puller):
                # hand out the frames queued now, then end: a live source that goes on
                # producing after an error does not postpone it
                self._queued_left = self.queue_size
            if self._queued_left is not None:
                # (a buffer counted on its way in may still wait for its clock time)
                frame = puller.pull(timeout) if self._queued_left > 0 else None
                if frame is not None:
                    self._queued_left -= 1
                    return frame
                self.raise_for_error()
                return None
            frame = puller.pull(timeout)
            if frame is not None:
                return frame

    def _ended(self, puller: AppSinkPuller) -> bool:
        return bool(puller.is_eos or self.pipeline is None or self._end_stream_event.is_set())

    def shutdown(
        self, timeout: float = 10.0, eos: bool = False, *, raise_errors: bool = True
    ) -> None:
        """Stop the pipeline (an appsink pipeline needs no EOS to finalise anything)."""
        super().shutdown(timeout=timeout, eos=eos, raise_errors=raise_errors)


def _count_arrival(pad: Any, info: Any, source: weakref.ref[GstVideoSource]) -> Any:
    """Pad probe: one more buffer reached the appsink of ``source``."""
    owner = source()
    if owner is not None:
        owner._arrived += 1
    return _gi.Gst().PadProbeReturn.OK
