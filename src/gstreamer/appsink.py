"""Pulling arrays from an ``appsink``: one puller used by ``GstVideoSource`` and ``Reader``.

Samples are pulled in the caller's thread with ``try_pull_sample`` (the GIL is released
while GStreamer waits), so no Python runs in streaming threads.
"""

from __future__ import annotations

import queue
from typing import Any, Callable, Optional

from . import _gi
from .buffers import buffer_to_ndarray
from .caps import Layout, layout_from_caps
from .errors import CapsError, LifecycleError
from .frame import Frame, GstBuffer, clock_time
from .pipeline import GstPipeline

__all__ = ["AppSinkPuller", "GstBuffer", "GstVideoSource", "LeakyQueue"]


class AppSinkPuller:
    """Pulls samples from one appsink and turns them into :class:`Frame` objects.

    Parameters
    ----------
    appsink : GstApp.AppSink
    max_buffers : int
        appsink's queue (0 = unlimited).
    leaky : bool
        Drop the oldest queued buffer when full (latest-only for live sources).
    copy : bool
        Give owned copies instead of zero-copy views.
    """

    def __init__(
        self,
        appsink: Any,
        *,
        max_buffers: int = 16,
        leaky: bool = False,
        copy: bool = False,
        check: Optional[Callable[[], None]] = None,
    ) -> None:
        self.appsink = appsink
        self.copy = copy
        self._check = check
        self._caps_str: Optional[str] = None
        self.layout: Optional[Layout] = None
        self.pulled = 0
        appsink.set_property("emit-signals", False)
        appsink.set_property("max-buffers", max_buffers)
        appsink.set_property("drop", leaky)

    def pull(self, timeout: Optional[float]) -> Optional[Frame]:
        """The next frame; None at end of stream or when ``timeout`` seconds pass."""
        Gst = _gi.Gst()
        ns = Gst.CLOCK_TIME_NONE if timeout is None else int(timeout * Gst.SECOND)
        sample = self.appsink.try_pull_sample(ns)
        if sample is None:
            if self._check is not None:
                self._check()
            return None
        return self.to_frame(sample)

    @property
    def is_eos(self) -> bool:
        return bool(self.appsink.is_eos())

    def to_frame(self, sample: Any) -> Frame:
        Gst = _gi.Gst()
        buffer = sample.get_buffer()
        caps = sample.get_caps()
        caps_str = caps.to_string() if caps is not None else ""
        if caps_str != self._caps_str:
            self._caps_str = caps_str
            try:
                self.layout = layout_from_caps(caps)
            except CapsError:
                self.layout = None  # not raw: hand out bytes
        data = buffer_to_ndarray(buffer, self.layout, copy=self.copy)
        self.pulled += 1
        return Frame(
            data=data,
            pts=clock_time(buffer.pts),
            dts=clock_time(buffer.dts),
            duration=clock_time(buffer.duration),
            offset=None if buffer.offset == Gst.BUFFER_OFFSET_NONE else int(buffer.offset),
            keyframe=not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT),
            caps=caps_str,
        )


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

    def _on_pipeline_init(self) -> None:
        GstApp = _gi.GstApp()
        appsinks = self.get_by_cls(GstApp.AppSink)
        if len(appsinks) != 1:
            raise CapsError(
                f"{type(self).__name__} needs exactly one appsink in its pipeline, "
                f"found {len(appsinks)}: {self.command!r}"
            )
        self._sink = appsinks[0]
        self._puller = AppSinkPuller(
            self._sink,
            max_buffers=self._max_buffers,
            leaky=self._leaky,
            copy=self._copy,
            check=self.raise_for_error,
        )

    @property
    def total_buffers_count(self) -> int:
        """Frames popped so far."""
        return self._puller.pulled if self._puller else 0

    @property
    def queue_size(self) -> int:
        """Frames waiting in appsink."""
        if self._sink is None:
            return 0
        return int(self._sink.get_property("current-level-buffers") or 0)

    def pop(self, timeout: float = 0.1) -> Optional[Frame]:
        """The next frame, waiting while the pipeline runs; None once it ended.

        ``timeout`` is how long each wait lasts before the pipeline's state is checked again.
        A pipeline error is raised here.
        """
        puller = self._puller
        if puller is None:
            raise LifecycleError(f"{self} is not started (call startup() first)")
        while True:
            frame = puller.pull(timeout)
            if frame is not None:
                return frame
            if puller.is_eos or self.pipeline is None or self._end_stream_event.is_set():
                # drain what is still queued
                frame = puller.pull(0)
                if frame is None:
                    self.raise_for_error()
                return frame

    def shutdown(
        self, timeout: float = 10.0, eos: bool = False, *, raise_errors: bool = True
    ) -> None:
        """Stop the pipeline (an appsink pipeline needs no EOS to finalise anything)."""
        super().shutdown(timeout=timeout, eos=eos, raise_errors=raise_errors)
