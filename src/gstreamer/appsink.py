"""Pulling arrays from an ``appsink``: the one puller used by ``Reader``, the servers and
the seed's ``GstVideoSource``.

Samples are pulled in the caller's thread with ``try_pull_sample`` (the GIL is released
while GStreamer waits), so no Python runs in streaming threads.

With ``prefetch=True`` a puller that converts (``convert_to``) pulls and converts the *next*
frame in a helper thread while the caller works on the one it was handed: libswscale runs
without the GIL, so the conversion overlaps the caller's own work instead of adding to it.
One frame at most is prefetched, and only after the caller took the previous one, so
:meth:`AppSinkPuller.discard` (before a seek) leaves nothing from before the seek behind.

Prefetching pays only when the caller is away longer than a conversion takes: a caller
that asks for the next frame at once (a decode-only loop) would only wait for the helper
thread, and each hand-over between the threads costs CPU (about 0.08 CPU-s per 900 frames
at 720p). So the next frame is converted ahead only when the caller's last absence (from a
frame handed out to the next :meth:`~AppSinkPuller.pull`) was longer than the last
conversion's CPU time; otherwise the caller's own thread converts it.

When it does, the helper pulls the next sample at once but allocates and fills its array
only once the caller has let go of the frame *before* the one it was just handed (or asks
for the next frame, or :data:`_HOLD` seconds pass): in a loop (``for frame in reader``)
that happens as soon as the loop variable moves on, so the conversion still overlaps the
caller's work, yet two converted frames exist at a time (the caller's and the next one)
instead of three. At 720p RGB that is 2.6 MiB less peak memory (5.9 MiB at 1080p); a
caller that keeps the previous frame while it works gets the next one converted when it
asks for it.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any, Callable, Optional

import numpy as np

from . import _convert, _gi
from .buffers import FrameViews
from .caps import Layout, VideoLayout, layout_from_caps
from .errors import CapsError
from .frame import Frame, clock_time

__all__ = ["AppSinkPuller"]

# One prefetching pull waits this long for a sample before it reports "none yet".
_SLICE = 0.05
# A prefetch thread with nothing to do for this long exits (and drops its references); the
# next prefetch starts a new one.
_IDLE = 0.5
# A prefetch waits at most this long for the caller to release the frame before the one it
# holds (see the module notes); then it converts all the same.
_HOLD = 0.5

_Result = tuple[Optional[Frame], Any, Optional[Layout]]


class _Prefetch:
    """One helper thread that runs one job at a time for an :class:`AppSinkPuller`.

    States: idle (no job), running, done (a result or an error waits to be collected).
    """

    def __init__(self, job: Callable[[], _Result]) -> None:
        self._job = job
        self._cond = threading.Condition()
        self._running = False
        self._done = False
        self._result: Optional[_Result] = None
        self._error: Optional[BaseException] = None
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        # the caller's frame before the last one: the job fills a new array once it is gone
        self._gate: Optional[weakref.ref[Any]] = None
        self._urgent = False  # the caller waits for the result: do not hold it back

    @property
    def busy(self) -> bool:
        """A job was submitted and its result not yet collected."""
        return self._running or self._done

    def submit(self, gate: Any = None, give_back: Optional[Callable[[], Any]] = None) -> None:
        """Run the job; :meth:`hold` in it waits for ``gate`` (an array, or None) to be freed
        (and for ``give_back``, if given, to have returned its memory for reuse)."""
        with self._cond:
            if self._closed or self._running or self._done:
                return
            self._gate = _released_ref(gate, self._cond, give_back)
            self._urgent = False
            self._running = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="gstreamer-prefetch", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def collect(self, timeout: Optional[float]) -> tuple[bool, Optional[_Result]]:
        """``(True, result)`` once the job is done (raising its error), else ``(False, None)``."""
        with self._cond:
            self._urgent = True
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._done or not self._running, timeout):
                return False, None
            if not self._done:
                return False, None
            result, error = self._result, self._error
            self._done, self._result, self._error = False, None, None
        if error is not None:
            raise error
        return True, result

    def hold(self) -> None:
        """In the job: wait (at most :data:`_HOLD` s) until the gate array given to
        :meth:`submit` is freed, the caller asks for the result, or the helper closes."""
        with self._cond:
            self._cond.wait_for(self._may_go, _HOLD)
            self._gate = None

    def _may_go(self) -> bool:
        gate = self._gate
        return gate is None or gate() is None or self._urgent or self._closed

    def discard(self, timeout: float = 5.0) -> None:
        """Wait for a running job (bounded) and drop its result."""
        with self._cond:
            self._urgent = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: not self._running, timeout)
            self._done, self._result, self._error = False, None, None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        with self._cond:
            self._done, self._result, self._error = False, None, None

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._running or self._closed, _IDLE):
                    self._thread = None  # idle: the next submit starts a new thread
                    return
                if self._closed:
                    self._running = False
                    self._thread = None
                    self._cond.notify_all()
                    return
            result: Optional[_Result] = None
            error: Optional[BaseException] = None
            try:
                result = self._job()
            except BaseException as exc:  # re-raised in the caller by collect()
                error = exc
            with self._cond:
                self._running = False
                self._done = True
                self._result, self._error = result, error
                self._cond.notify_all()


def _released_ref(
    array: Any, cond: threading.Condition, give_back: Optional[Callable[[], Any]] = None
) -> Optional[weakref.ref[Any]]:
    """A weak reference to the memory behind ``array`` that wakes ``cond``'s waiters when it
    is freed, after calling ``give_back`` (None when there is nothing to watch)."""
    if not isinstance(array, np.ndarray):
        return None  # a list of planes, bytes: nothing to wait for
    root = _convert.memory_root(array)

    def released(_: Any) -> None:  # runs in the thread that drops the last reference
        if give_back is not None:
            give_back()  # the memory is free for the job before the job is woken
        with cond:
            cond.notify_all()

    return weakref.ref(root, released)


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
    convert_to : str, optional
        A video format (``"RGB"``, ``"BGRx"``, ...): YUV frames that arrive are converted to
        it with libswscale in the pulling thread (see :mod:`gstreamer._convert`), as new
        owned arrays; frames already in it are handed out as usual.
    prefetch : bool
        While converting, pull and convert the next frame in a helper thread as soon as
        the caller took one (see the module notes). Call :meth:`discard` before a seek and
        :meth:`close` at the end.
    """

    def __init__(
        self,
        appsink: Any,
        *,
        max_buffers: int = 16,
        leaky: bool = False,
        copy: bool = False,
        check: Optional[Callable[[], None]] = None,
        convert_to: Optional[str] = None,
        prefetch: bool = False,
    ) -> None:
        self.appsink = appsink
        self.copy = copy
        self.convert_to = convert_to
        self._converter: Optional[_convert.YuvToRgb] = None
        self._check = check
        self._caps_str: Optional[str] = None
        self.layout: Optional[Layout] = None
        self.pulled = 0
        self.prefetched = 0  # frames pulled and converted ahead, in the prefetch thread
        # keep_segment: remember the segment of the last sample (to compute stream times)
        self.keep_segment = False
        self.segment: Any = None
        # what to_frame() last saw; handed to `layout`/`segment` with the frame it belongs to
        self._sample_layout: Optional[Layout] = None
        self._sample_segment: Any = None
        self._views = FrameViews(None)
        self._prefetch: Optional[_Prefetch] = _Prefetch(self._prefetch_job) if prefetch else None
        # when the last frame was handed out, whether the caller stays away longer than a
        # conversion takes, and how long the last conversion took (see the module notes)
        self._handed_at: Optional[float] = None
        self._caller_works = False
        self._convert_seconds = 0.0
        self._handed: Any = None  # weak reference to the array handed out last (prefetch)
        appsink.set_property("emit-signals", False)
        appsink.set_property("max-buffers", max_buffers)
        appsink.set_property("drop", leaky)

    def pull(self, timeout: Optional[float]) -> Optional[Frame]:
        """The next frame; None at end of stream or when ``timeout`` seconds pass."""
        prefetch = self._prefetch
        handed_at, self._handed_at = self._handed_at, None
        if handed_at is not None:
            self._caller_works = time.perf_counter() - handed_at > self._convert_seconds
        if prefetch is not None and prefetch.busy:
            done, result = prefetch.collect(timeout)
            frame, segment, layout = result if result is not None else (None, None, None)
            if not done or frame is None:
                if self._check is not None:
                    self._check()
                return None
            self.prefetched += 1
            return self._hand_out(frame, segment, layout)
        Gst = _gi.Gst()
        ns = Gst.CLOCK_TIME_NONE if timeout is None else int(timeout * Gst.SECOND)
        sample = self.appsink.try_pull_sample(ns)
        if sample is None:
            if self._check is not None:
                self._check()
            return None
        frame = self.to_frame(sample)
        return self._hand_out(frame, self._sample_segment, self._sample_layout)

    def _hand_out(self, frame: Frame, segment: Any, layout: Optional[Layout]) -> Frame:
        self.segment = segment
        self.layout = layout
        self.pulled += 1
        if self._prefetch is not None and self._converter is not None:
            # the next frame converts while the caller works, into memory allocated once the
            # caller has let go of the frame before this one (see the module notes)
            before = self._handed() if self._handed is not None else None
            try:
                self._handed = weakref.ref(frame.data)
            except TypeError:  # pragma: no cover - converted frames are arrays
                self._handed = None
            if self._caller_works:
                give_back = None if before is None else self._converter.giver_back(before)
                self._prefetch.submit(gate=before, give_back=give_back)
            del before
            self._handed_at = time.perf_counter()
        return frame

    def _prefetch_job(self) -> _Result:
        """In the prefetch thread: pull (one slice at most) and convert one frame."""
        Gst = _gi.Gst()
        sample = self.appsink.try_pull_sample(int(_SLICE * Gst.SECOND))
        if sample is None:
            return None, None, None
        prefetch = self._prefetch
        if prefetch is not None:
            prefetch.hold()
        frame = self.to_frame(sample)
        return frame, self._sample_segment, self._sample_layout

    def discard(self) -> None:
        """Drop a prefetched frame (before a seek: it is from before the seek)."""
        if self._prefetch is not None:
            self._prefetch.discard()

    @property
    def is_eos(self) -> bool:
        return bool(self.appsink.is_eos())

    def to_frame(self, sample: Any) -> Frame:
        """A :class:`Frame` from a sample (its layout and segment are kept for
        :meth:`pull`, which hands them out with it)."""
        Gst = _gi.Gst()
        buffer = sample.get_buffer()
        caps = sample.get_caps()
        caps_str = caps.to_string() if caps is not None else ""
        if caps_str != self._caps_str:
            self._caps_str = caps_str
            self._set_layout(caps)
        converter = self._converter
        if converter is not None:
            started = time.thread_time()  # CPU time: not stretched by a busy machine
            data: Any = converter.convert(buffer)
            self._convert_seconds = time.thread_time() - started
            caps_str = converter.caps
        else:
            data = self._views.view(buffer, copy=self.copy)
        self._sample_segment = sample.get_segment() if self.keep_segment else None
        return Frame(
            data=data,
            pts=clock_time(buffer.pts),
            dts=clock_time(buffer.dts),
            duration=clock_time(buffer.duration),
            offset=None if buffer.offset == Gst.BUFFER_OFFSET_NONE else int(buffer.offset),
            keyframe=not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT),
            caps=caps_str,
        )

    def _set_layout(self, caps: Any) -> None:
        if self._converter is not None:
            self._converter.close()
            self._converter = None
        try:
            layout: Optional[Layout] = layout_from_caps(caps)
        except CapsError:
            layout = None  # not raw: hand out bytes
        target = self.convert_to
        if (
            target is not None
            and isinstance(layout, VideoLayout)
            and layout.format != target
            and layout.format in _convert.INPUT_FORMATS
            and target in _convert.OUTPUT_FORMATS
            and _convert.available()
        ):
            self._converter = _convert.YuvToRgb(layout, target)
            layout = self._converter.layout
        self._sample_layout = layout
        self._views = FrameViews(layout)

    def close(self) -> None:
        """Stop the prefetch thread and free the converter (if any); idempotent."""
        if self._prefetch is not None:
            self._prefetch.close()
        if self._converter is not None:
            self._converter.close()
            self._converter = None
