"""``MultiReader``: N sources decoded and scaled by one pipeline into ``(N, H, W, C)`` batches.

::

    with gstreamer.MultiReader(["a.mp4", "b.mp4"], size=(320, 240)) as reader:
        for batch in reader:                  # Batch: data (2, 240, 320, 3), pts, ok, age
            ...

One ``Gst.Pipeline`` holds one bin per source (``source ! convert ! scale ! appsink``); the
batch is assembled from the appsinks in the caller's thread. Two modes:

* ``"sync"`` (files): batch ``k`` holds the frames of every source whose timestamps match
  (within half a frame); sources that are behind drop frames to catch up.
* ``"latest"`` (live sources): each batch holds the newest frame of every source. A source
  that errors, ends or sends nothing for ``stale`` seconds is flagged ``ok=False`` while the
  others keep flowing.

With ``reconnect=True`` (or a :class:`~gstreamer.Reconnect`), ``"latest"`` mode heals its live
sources as a :class:`~gstreamer.Reader` does (:mod:`gstreamer.live`): a live source whose bin
reports an error, ends its stream or gives no frame for the policy's ``stall`` seconds has its
bin taken out of the pipeline and a new one built from the same description, on the policy's
schedule, while the other sources keep flowing. It is ``ok=True`` again with its first new
frame.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional, Union

import numpy as np

from . import _gi, live
from ._lifecycle import Lifecycle, Readable, State, weak_method
from ._time import fps_fraction
from .appsink import AppSinkPuller
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    CapsError,
    ClosedError,
    MissingElementError,
    ParseError,
    PipelineError,
    TimeoutError,
    from_gerror,
)
from .frame import Frame
from .live import ReaderStats, Reconnect, Schedule
from .pipeline import GstPipeline, parse_launch, shutdown_quietly
from .reader import _SLICE, Source, _build, _classify, _converts, _tune_decoder

__all__ = ["Batch", "MultiReader"]

log = logging.getLogger("gstreamer.multireader")

_MODES = ("sync", "latest")
_BIN_RE = re.compile(r"^multireader-src(\d+)$")
_NO_PTS = -1


@dataclass(frozen=True)
class Batch:
    """One frame of every source.

    Attributes
    ----------
    data : numpy.ndarray
        ``(N, H, W, C)`` (``(N, H, W)`` for gray formats), owned by the batch. The slot of a
        source that has no frame yet is zeros; a source flagged ``ok=False`` keeps its last
        frame.
    pts : numpy.ndarray
        ``(N,)`` int64 presentation times in nanoseconds, ``-1`` where unknown.
    ok : numpy.ndarray
        ``(N,)`` bool: True where the slot holds a fresh frame from a healthy source.
    age : numpy.ndarray
        ``(N,)`` float64 seconds since each slot's frame came out of its appsink (``inf``
        before the first frame). It does not include latency upstream of the pipeline
        (network, jitter buffer).
    index : int
        The batch number, from 0.
    """

    data: np.ndarray
    pts: np.ndarray
    ok: np.ndarray
    age: np.ndarray
    index: int = 0

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self.data if dtype is None else self.data.astype(dtype)
        return np.array(arr, copy=True) if copy else arr

    def __dlpack__(self, **kwargs: Any) -> Any:
        """``np.from_dlpack(batch)`` / ``torch.from_dlpack(batch)`` share :attr:`data`."""
        return self.data.__dlpack__(**{k: v for k, v in kwargs.items() if v is not None})

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)


class _Slot:
    """What the reader knows about one source."""

    def __init__(self, index: int, source: Source, kind: str, description: str) -> None:
        self.index = index
        self.source = source
        self.kind = kind  # "file", "uri", "fragment"
        self.description = description  # the bin's part of the pipeline
        self.bin: Any = None  # the current bin (a new one after each reconnection)
        self.puller: Optional[AppSinkPuller] = None
        self.sink: Any = None
        self.schedule: Optional[Schedule] = None  # live sources with reconnect=
        self.down = False  # reconnecting: no bin; the next step is an attempt
        self.gave_up = False  # reconnect attempts ran out
        self.since = time.monotonic()  # last frame, or start of the current bin
        self.frames = 0  # frames taken from its appsinks
        self.dropped = 0  # frames that reached appsinks already torn down, never taken
        self.head: Optional[Frame] = None  # sync mode: pulled, not yet batched
        self.last: Optional[np.ndarray] = None
        self.pts = _NO_PTS
        self.arrived = -math.inf  # monotonic time the last frame reached the appsink
        self.fresh = False  # a frame not yet given out in a batch
        self.ended = False
        self.error: Optional[PipelineError] = None
        self.arrivals: OrderedDict[int, float] = OrderedDict()  # pts -> monotonic time
        self.lock = threading.Lock()
        self.loops = 0

    @property
    def is_file(self) -> bool:
        text = str(self.source)
        return self.kind == "file" or (self.kind == "uri" and text.lower().startswith("file:"))


class _BranchPipeline(GstPipeline):
    """A pipeline whose per-source bins report their errors to the reader, not as fatal."""

    def __init__(self, description: str, reader: MultiReader) -> None:
        super().__init__(description, on_init=weak_method(reader._configure))
        self._reader = weakref.ref(reader)

    def _on_error_message(self, message: Any) -> None:
        reader = self._reader()
        bin, index = _branch_of(message.src, self.pipeline)
        if reader is None or index is None:
            super()._on_error_message(message)
            return
        gerror, debug = message.parse_error()
        name = message.src.get_name() if message.src is not None else None
        reader._branch_failed(index, from_gerror(gerror, debug, name), bin)

    def drain(self) -> None:
        """Free the bus messages nobody pops (when no main loop watches this bus).

        The sync handler has recorded what matters; a message left queued keeps its element
        alive, so source bins replaced by ``reconnect`` (their sockets, threads and buffers)
        would never be freed.
        """
        bus = self._bus
        if self._watch_ids or bus is None:
            return
        while bus.pop() is not None:
            pass

    def on_error(self, bus: Any, message: Any) -> None:
        """Main loop: errors are the reader's to report (per source), not logged here."""
        err, debug = message.parse_error()
        self.log.debug("%s: error %s: %s", self, err.message, debug)

    def on_warning(self, bus: Any, message: Any) -> None:
        """Main loop: a source's warnings (a server that went away) are debug messages."""
        warn, debug = message.parse_warning()
        self.log.debug("%s: %s %s", self, warn.message, debug)


def _failed(slot: _Slot) -> bool:
    """Whether ``slot`` failed for good.

    A healing source's error (set by its streaming thread at any moment) is only the start of
    a reconnect until its schedule gives up.
    """
    if slot.error is None:
        return False
    return slot.schedule is None or slot.gave_up


def _branch_of(element: Any, pipeline: Any) -> tuple[Any, Optional[int]]:
    """The source bin ``element`` is in and its index, or ``(None, None)``.

    A bin that ``reconnect`` has just taken out of the pipeline has no parent any more, but
    its elements may still post an error (an rtspsrc failing to connect as it is removed):
    such a top-level source bin is returned as well, and the reader sees it is stale.
    """
    while element is not None:
        parent = element.get_parent()
        if parent is pipeline or parent is None:
            m = _BIN_RE.match(element.get_name() or "")
            return (element, int(m.group(1))) if m else (None, None)
        element = parent
    return (None, None)


class MultiReader(Lifecycle, Readable[Batch]):
    """Read N sources as batches ``(N, H, W, C)`` from one pipeline.

    Parameters
    ----------
    sources : sequence of str or os.PathLike
        What :class:`~gstreamer.Reader` accepts, except complete pipelines: file paths, URIs
        (``rtsp://...``) or pipeline starts such as
        :func:`gstreamer.streaming.rtsp_source` / :func:`~gstreamer.streaming.udp_source`.
    size : (int, int)
        ``(width, height)`` every source is scaled to.
    fps : int, float, Fraction or str, optional
        ``"sync"``: every source is resampled to this rate (frames dropped or duplicated),
        which aligns files of different rates. ``"latest"``: batches are made at this rate
        (by the caller's clock); without it a batch is made whenever any source has a new
        frame.
    format : str
        A raw video format that is one array per frame (``"RGB"``, ``"BGR"``, ``"GRAY8"``,
        ``"RGBA"``, ...).
    mode : {"sync", "latest"}
        See the module documentation.
    stale : float
        ``"latest"``: seconds without a new frame after which a source is flagged
        ``ok=False``.
    loop : bool
        ``"latest"``: local files start again at their end (a file standing in for a camera).
        Files are played at their own rate in ``"latest"`` mode.
    timeout : float
        ``"sync"``: seconds to wait for a source's next frame; ``"latest"``: seconds to wait
        for the first frame of any source.
    reconnect : bool or Reconnect
        ``"latest"`` only: heal the live sources (``rtsp://``, ``srt://``, the
        :mod:`gstreamer.streaming` ``*_source`` parts, any part with a network source
        element): a source that fails, ends or gives no frame for ``stall`` seconds is
        rebuilt on the :class:`~gstreamer.Reconnect` schedule (``True`` is ``Reconnect()``:
        for ever, 1 s backoff). Other sources (files, test sources) are read as without it.

    Notes
    -----
    In ``"sync"`` mode an error of any source is raised by the next :meth:`read`; iteration
    ends once every source has ended (sources that ended early keep their last frame, flagged
    ``ok=False``). In ``"latest"`` mode errors only flag their source (see :attr:`errors`);
    iteration ends when every source has ended or failed, and if every source failed the
    first error is raised.

    With ``reconnect``, a source being rebuilt is flagged ``ok=False`` and keeps its last
    frame; :attr:`errors` holds None for it while attempts remain. When the policy's
    ``attempts`` run out (without a frame between them) the source is lost for good: its
    :attr:`errors` entry becomes a :class:`~gstreamer.ConnectionLostError` and it stays
    ``ok=False``, while the others keep flowing. :meth:`read` raises that
    :class:`~gstreamer.ConnectionLostError` only once every source is lost (or ended).
    :attr:`stats` counts each source's reconnections.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        size: tuple[int, int],
        fps: Union[int, float, Fraction, str, None] = None,
        format: str = "RGB",
        mode: str = "sync",
        stale: float = 1.0,
        loop: bool = False,
        timeout: float = 10.0,
        reconnect: Union[bool, Reconnect, None] = None,
    ) -> None:
        if isinstance(sources, (str, os.PathLike)):
            raise ArgumentTypeError("sources must be a sequence of sources, not one source")
        sources = list(sources)
        if not sources:
            raise ArgumentError("MultiReader needs at least one source")
        if mode not in _MODES:
            raise ArgumentError(f"mode must be one of {_MODES}, not {mode!r}")
        width, height = (int(v) for v in size)
        if width <= 0 or height <= 0:
            raise ArgumentError(f"size must be two positive ints (width, height), not {size!r}")
        if loop and mode != "latest":
            raise ArgumentError("loop=True only applies to mode='latest'")
        healing = live.policy(reconnect)
        if healing is not None and mode != "latest":
            raise ArgumentError(
                "reconnect= only applies to mode='latest' (in 'sync' mode an error is raised)"
            )
        self.sources = sources
        self.size = (width, height)
        self.format = format
        self.mode = mode
        self.stale = float(stale)
        self.loop = bool(loop)
        self.timeout = float(timeout)
        self.fps: Optional[Fraction] = fps_fraction(fps)
        branch_fps = self.fps if mode == "sync" else None
        parts: list[str] = []
        self._slots: list[_Slot] = []
        for i, source in enumerate(sources):
            kind, value = _classify(source)
            if kind == "pipeline":
                raise ArgumentError(
                    f"source {i} is a complete pipeline with an appsink; give MultiReader the "
                    "part before the appsink"
                )
            where, description = _build(source, format, width, height, branch_fps, None, None)
            slot = _Slot(i, source, where, f"( name=multireader-src{i} {description} )")
            what = live.live_source(kind, value, healing is not None)
            if healing is not None and what is not None and what.eos_is_loss:
                slot.schedule = Schedule(healing, connectionless=what.what == "udpsrc")
            self._slots.append(slot)
            parts.append(slot.description)
        if healing is not None and all(slot.schedule is None for slot in self._slots):
            raise ArgumentError(
                "reconnect= applies to live sources (rtsp://, srt://, or a pipeline part with "
                f"{', '.join(live.LIVE_ELEMENTS)}), and none of {sources!r} is one"
            )
        self.description = " ".join(parts)
        self._lock = threading.RLock()
        self._new_frame = threading.Condition()
        self._state = State.NEW
        self._batches = 0
        self._next_tick: Optional[float] = None
        self._shape: Optional[tuple[int, ...]] = None
        self._dtype: Optional[np.dtype[Any]] = None
        pipeline = _BranchPipeline(self.description, self)
        self._pipeline: Optional[GstPipeline] = pipeline
        log.debug("starting MultiReader: %s", self.description)
        try:
            pipeline.startup()
        except BaseException:
            self._pipeline = None
            self._state = State.CLOSED
            raise
        self._state = State.OPEN
        self._finalizer = weakref.finalize(self, shutdown_quietly, pipeline)

    # -- set-up (called by the pipeline before PLAYING) ----------------------------------

    def _configure(self, pipeline: GstPipeline) -> None:
        _gi.GstApp()  # appsink's methods come with its typelib
        if self.mode != "latest":
            pipeline.pipeline.connect("deep-element-added", _tune_decoder)
        if any(slot.schedule is not None for slot in self._slots):
            live.own_reconnects(pipeline)  # as the Reader: losses are ours to see and heal
        for slot in self._slots:
            self._setup_branch(slot, pipeline.get_by_name(f"multireader-src{slot.index}"))

    def _setup_branch(self, slot: _Slot, bin: Any) -> None:
        """Take the appsink of ``slot``'s (new) bin."""
        Gst = _gi.Gst()
        latest = self.mode == "latest"
        sink = bin.get_by_name("sink")
        if latest:
            # a source's slow start (decodebin waits for data) stays inside its own bin
            bin.set_property("async-handling", True)
        slot.bin = bin
        slot.sink = sink
        slot.puller = AppSinkPuller(
            sink,
            max_buffers=1 if latest else 4,
            leaky=latest,
            copy=False,
            # the branch's appsink takes decoded YUV for RGB-like formats (see Reader)
            convert_to=self.format if _converts(self.format) else None,
        )
        if latest:
            # no sink waits for a first frame (preroll): the pipeline reaches PLAYING
            # whatever each source does, and a file loops without a state change
            sink.set_property("async", False)
        if latest and slot.is_file:
            sink.set_property("sync", True)  # a file plays at its own rate, as a camera
            if self.loop:
                sink.get_static_pad("sink").add_probe(
                    Gst.PadProbeType.EVENT_FLUSH, _keep_time_on_flush
                )
        if latest:
            pad = sink.get_static_pad("sink")
            pad.add_probe(Gst.PadProbeType.BUFFER, _on_buffer, weakref.ref(self), slot)

    def _branch_failed(self, index: int, error: PipelineError, bin: Any = None) -> None:
        """Streaming thread: the bin ``bin`` of source ``index`` posted an error."""
        slot = self._slots[index]
        if bin is not None and bin is not slot.bin:  # a bin taken out: stale
            log.debug("MultiReader source %d: error of a replaced bin: %s", index, error)
            return
        if slot.error is None:
            error.hint = error.hint or f"source {index}: {slot.source!r}"
            slot.error = error
            log.info("MultiReader source %d failed: %s", index, error)
        with self._new_frame:
            self._new_frame.notify_all()

    # -- properties ----------------------------------------------------------------------

    @property
    def errors(self) -> list[Optional[PipelineError]]:
        """The error of each source (None for sources without one)."""
        return [slot.error for slot in self._slots]

    @property
    def stats(self) -> list[ReaderStats]:
        """Each source's :class:`~gstreamer.live.ReaderStats`.

        ``frames``: frames taken into batches; ``dropped``: frames that reached the source's
        appsink and were replaced by a newer one before a batch took them (``"latest"``), or
        were left in a bin torn down; ``reconnects``: reconnections that gave frames again;
        ``last_frame_age``: seconds since its last frame came out of its appsink.
        """
        now = time.monotonic()
        return [
            ReaderStats(
                frames=slot.frames,
                dropped=slot.dropped + _unread(slot.puller),
                reconnects=slot.schedule.reconnects if slot.schedule is not None else 0,
                last_frame_age=None if slot.last is None else max(0.0, now - slot.arrived),
            )
            for slot in self._slots
        ]

    @property
    def batches_read(self) -> int:
        """Batches returned so far."""
        return self._batches

    @property
    def pipeline(self) -> Optional[GstPipeline]:
        """The running pipeline (None once closed)."""
        return self._pipeline

    def __len__(self) -> int:
        return len(self._slots)

    # -- reading -------------------------------------------------------------------------

    def read(self) -> Optional[Batch]:
        """The next batch, or None once every source has ended.

        Raises
        ------
        PipelineError
            ``"sync"``: a source reported an error. ``"latest"``: every source failed.
        TimeoutError
            No frame within ``timeout``.
        ClosedError
            The reader was closed.
        """
        with self._lock:
            if self._state is State.CLOSED or self._pipeline is None:
                raise ClosedError("MultiReader is closed")
            self._check_pipeline()
            if self.mode == "sync":
                return self._read_sync()
            return self._read_latest()

    def _check_pipeline(self) -> None:
        pipeline = self._pipeline
        assert pipeline is not None
        error = pipeline.error
        if error is not None:
            with contextlib.suppress(PipelineError):
                pipeline.raise_for_error()
            raise error

    # sync --------------------------------------------------------------------------------

    def _pull(self, slot: _Slot, deadline: float) -> Optional[Frame]:
        """The next frame of ``slot`` (blocking), None once it ended."""
        puller = slot.puller
        assert puller is not None
        while True:
            for other in self._slots:  # a failed source holds up the others: raise at once
                if other.error is not None:
                    raise other.error
            self._check_pipeline()
            frame = puller.pull(_SLICE)
            if frame is not None:
                return frame
            if puller.is_eos:
                return None
            if self._state is State.CLOSED:
                raise ClosedError("MultiReader was closed while reading")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"source {slot.index} ({slot.source!r}) gave no frame within {self.timeout} s"
                )

    def _read_sync(self) -> Optional[Batch]:
        deadline = time.monotonic() + self.timeout
        for slot in self._slots:
            if slot.head is None and not slot.ended:
                slot.head = self._pull(slot, deadline)
                slot.ended = slot.head is None
        live = [s for s in self._slots if s.head is not None]
        if not live:
            return None
        for _ in range(1000):  # align: drop frames of the sources that are behind
            times = [s.head.pts for s in live if s.head is not None and s.head.pts is not None]
            if not times:
                break
            target = max(times)
            tol = self._tolerance(live)
            behind = [
                s
                for s in live
                if s.head is not None and s.head.pts is not None and s.head.pts < target - tol
            ]
            if not behind:
                break
            for slot in behind:
                slot.head = self._pull(slot, deadline)
                if slot.head is None:
                    slot.ended = True
                    live.remove(slot)
            if not live:
                return None
        now = time.monotonic()
        for slot in live:
            frame = slot.head
            assert frame is not None
            slot.head = None
            slot.last = _one_array(frame, slot)
            slot.pts = _NO_PTS if frame.pts is None else frame.pts
            slot.arrived = now
            slot.fresh = True
        return self._assemble(now)

    def _tolerance(self, live: list[_Slot]) -> int:
        if self.fps is not None:
            return int(5e8 / self.fps)
        durations = [s.head.duration for s in live if s.head is not None and s.head.duration]
        return min(durations) // 2 if durations else 20_000_000

    # latest ------------------------------------------------------------------------------

    def _read_latest(self) -> Optional[Batch]:
        start = time.monotonic()
        if self._next_tick is None:
            self._next_tick = start
        while True:
            self._take_newest()
            if all(s.ended or _failed(s) for s in self._slots):
                errors: list[PipelineError] = []
                for slot in self._slots:
                    if _failed(slot) and slot.error is not None:
                        errors.append(slot.error)
                if len(errors) == len(self._slots):
                    raise errors[0]
                return None
            now = time.monotonic()
            if all(s.last is None for s in self._slots):
                if now - start > self.timeout:
                    raise TimeoutError(f"no source gave a frame within {self.timeout} s")
                wait = _SLICE
            elif self.fps is not None:
                if now >= self._next_tick:
                    step = float(1 / self.fps)
                    self._next_tick = max(self._next_tick + step, now - step)
                    break
                wait = self._next_tick - now
            else:
                if any(s.fresh for s in self._slots):
                    break
                if now - start > self.stale:
                    break  # nothing new: report the stale sources
                wait = _SLICE
            with self._new_frame:
                self._new_frame.wait(min(wait, _SLICE))
        return self._assemble(time.monotonic())

    def _take_newest(self) -> None:
        if isinstance(self._pipeline, _BranchPipeline):
            self._pipeline.drain()
        for slot in self._slots:
            if slot.schedule is not None:
                self._heal(slot, slot.schedule)
            elif slot.error is not None and slot.puller is not None:
                self._remove_branch(slot)
            puller = slot.puller
            if puller is None or slot.ended:
                continue
            frame = None
            while True:  # appsink holds at most one; drain in case it holds more
                got = puller.pull(0)
                if got is None:
                    break
                frame = got
            if frame is not None:
                with slot.lock:
                    arrived = slot.arrivals.get(frame.pts if frame.pts is not None else -1)
                slot.last = _one_array(frame, slot)
                slot.pts = _NO_PTS if frame.pts is None else frame.pts
                slot.arrived = arrived if arrived is not None else time.monotonic()
                slot.fresh = True
                slot.frames += 1
                slot.since = time.monotonic()
                if slot.schedule is not None and slot.schedule.frame():
                    log.info(
                        "MultiReader source %d: frames are back (reconnect %d)",
                        slot.index,
                        slot.schedule.reconnects,
                    )
            elif puller.is_eos:
                if self.loop and slot.is_file and slot.error is None:
                    self._restart(slot)
                elif slot.schedule is None:
                    slot.ended = True

    def _heal(self, slot: _Slot, schedule: Schedule) -> None:
        """Reconnect: notice that ``slot``'s live source is lost, and rebuild its bin."""
        if slot.down:
            if not schedule.due():
                return
            if schedule.exhausted:  # lost for good: flagged, and counted as failed
                slot.down = False
                slot.gave_up = True
                slot.error = schedule.give_up(str(slot.source))
                log.info("MultiReader source %d: %s", slot.index, slot.error)
                return
            log.info(
                "MultiReader source %d: reconnect attempt %d", slot.index, schedule.attempting()
            )
            try:
                self._add_branch(slot)
            except (ParseError, MissingElementError):
                raise
            except PipelineError as exc:
                schedule.attempt_failed(exc)
            return
        if slot.gave_up or slot.puller is None:
            return
        if slot.error is not None:
            reason, error = "error", slot.error
        elif slot.puller.is_eos:
            reason, error = "end of stream", None
        elif time.monotonic() - slot.since > schedule.policy.stall:
            reason, error = "stall", None
        else:
            return
        log.info(
            "MultiReader source %d: connection lost (%s%s)",
            slot.index,
            reason,
            f": {error}" if error else "",
        )
        self._remove_branch(slot)
        slot.error = None  # the schedule keeps it; the source is not failed while it heals
        slot.down = True
        schedule.lose(reason, error)

    def _remove_branch(self, slot: _Slot) -> None:
        """Take a failed source's bin out of the pipeline, so it cannot hold up the others.

        A source that fails while the pipeline goes to PLAYING (an RTSP server that refuses
        the connection) would otherwise leave the pipeline short of PLAYING, and every sink
        that syncs to the clock waiting.
        """
        Gst = _gi.Gst()
        pipeline = self._pipeline
        slot.dropped += _unread(slot.puller)
        slot.puller = None
        slot.sink = None
        bin, slot.bin = slot.bin, None
        if pipeline is None or pipeline.pipeline is None or bin is None:
            return
        bin.set_locked_state(True)
        bin.set_state(Gst.State.NULL)
        pipeline.pipeline.remove(bin)
        # a failure on the way to PLAYING left the pipeline in PAUSED: go on without it
        pipeline.pipeline.set_state(Gst.State.PLAYING)
        log.debug("MultiReader: removed failed source %d", slot.index)

    def _add_branch(self, slot: _Slot) -> None:
        """Build a new bin for ``slot`` from its description and start it in the pipeline."""
        pipeline = self._pipeline
        assert pipeline is not None and pipeline.pipeline is not None
        bin = parse_launch(slot.description)
        self._setup_branch(slot, bin)
        slot.since = time.monotonic()
        slot.down = False
        pipeline.pipeline.add(bin)
        if not bin.sync_state_with_parent():
            self._remove_branch(slot)
            slot.down = True
            raise PipelineError(f"source {slot.index}: its new bin did not start")

    def _restart(self, slot: _Slot) -> None:
        """Play a file source again from its start (``loop=True``)."""
        Gst = _gi.Gst()
        pipeline = self._pipeline
        assert pipeline is not None and slot.sink is not None
        flags = Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT
        if not slot.sink.seek_simple(Gst.Format.TIME, flags, 0):
            slot.ended = True
            return
        # the new segment starts at running time 0 again: shift it to now
        element = pipeline.pipeline
        clock = element.get_clock()
        if clock is not None:
            running = clock.get_time() - element.get_base_time()
            slot.sink.set_property("ts-offset", int(running))
        slot.loops += 1

    # both --------------------------------------------------------------------------------

    def _assemble(self, now: float) -> Batch:
        n = len(self._slots)
        if self._shape is None:
            first = next(s.last for s in self._slots if s.last is not None)
            self._shape, self._dtype = tuple(first.shape), first.dtype
        assert self._dtype is not None
        data = np.zeros((n, *self._shape), self._dtype)
        pts = np.full(n, _NO_PTS, np.int64)
        ok = np.zeros(n, bool)
        age = np.full(n, math.inf)
        for i, slot in enumerate(self._slots):
            if slot.last is not None:
                if slot.last.shape != self._shape:
                    raise CapsError(
                        f"source {i} gives frames of shape {slot.last.shape}, others {self._shape}"
                    )
                data[i] = slot.last
                pts[i] = slot.pts
                age[i] = max(0.0, now - slot.arrived)
            # a source that reconnects is not ok again before a frame of its new bin
            healing = slot.down or (slot.schedule is not None and slot.schedule.recovering)
            healthy = (
                slot.error is None and not slot.ended and not healing and slot.last is not None
            )
            if self.mode == "sync":
                ok[i] = healthy and slot.fresh
            else:
                ok[i] = healthy and age[i] <= self.stale
            slot.fresh = False
        batch = Batch(data=data, pts=pts, ok=ok, age=age, index=self._batches)
        self._batches += 1
        return batch

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the pipeline; idempotent."""
        with self._new_frame:
            self._state = State.CLOSED
            self._new_frame.notify_all()
        with self._lock:
            pipeline, self._pipeline = self._pipeline, None
            if pipeline is None:
                return
            self._finalizer.detach()
            for slot in self._slots:
                slot.last = None
                slot.head = None
            pipeline.shutdown(timeout=self.timeout, eos=False, raise_errors=False)

    def __repr__(self) -> str:
        return f"<MultiReader {self._state} mode={self.mode} sources={len(self._slots)}>"


def _on_buffer(pad: Any, info: Any, ref: weakref.ref[MultiReader], slot: _Slot) -> Any:
    """Streaming thread: note when each frame reached the appsink, wake up the reader."""
    Gst = _gi.Gst()
    buffer = info.get_buffer()
    now = time.monotonic()
    if buffer is not None:
        with slot.lock:
            slot.arrivals[int(buffer.pts)] = now
            while len(slot.arrivals) > 8:
                slot.arrivals.popitem(last=False)
    reader = ref()
    if reader is not None:
        with reader._new_frame:
            reader._new_frame.notify_all()
    return Gst.PadProbeReturn.OK


def _keep_time_on_flush(pad: Any, info: Any) -> Any:
    """Turn a looping file's flush-stop into one that does not reset the pipeline's time.

    A flushing seek ends in ``flush-stop(reset_time=True)``, on which the sink asks the whole
    pipeline to restart its running time: that would disturb the timestamps of every other
    (live) source. The restarted file is put back on the clock with ``ts-offset`` instead.
    """
    Gst = _gi.Gst()
    event = info.get_event()
    if event is not None and event.type == Gst.EventType.FLUSH_STOP and event.parse_flush_stop():
        pad.send_event(Gst.Event.new_flush_stop(False))
        return Gst.PadProbeReturn.DROP
    return Gst.PadProbeReturn.OK


def _unread(puller: Optional[AppSinkPuller]) -> int:
    """Frames an appsink took in that were never pulled (dropped, or still queued)."""
    if puller is None:
        return 0
    stats = puller.appsink.get_property("stats")
    ok, rendered = stats.get_uint64("rendered")
    return max(0, int(rendered) - puller.pulled) if ok else 0


def _one_array(frame: Frame, slot: _Slot) -> np.ndarray:
    data = frame.data
    if not isinstance(data, np.ndarray):
        raise CapsError(
            f"source {slot.index}: this format gives a list of planes; MultiReader needs a "
            "format that is one array per frame (RGB, BGR, GRAY8, RGBA, ...)"
        )
    return data
