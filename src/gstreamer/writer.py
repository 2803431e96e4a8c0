"""Writing arrays to files and pipelines: :class:`Writer`, :class:`AudioWriter`, :class:`MuxWriter`.

A target is one of

* a **file path** — ``"out.mp4"``, ``.mkv``, ``.mov``, ``.avi``, ``.ts``, ``.h264``, ``.webm``
  (video) or ``.wav``, ``.flac``, ``.ogg``, ``.opus``, ``.m4a``, ``.mka``, ``.mp3`` (audio);
  the encoder, parser and muxer follow from the extension;
* a **pipeline description that starts with** ``appsrc`` — used as is, caps are set on the
  appsrc;
* **the rest of a pipeline** (``"videoconvert ! autovideosink"``) — ``appsrc name=src !`` is
  put in front.

How a string is told apart (:func:`is_description`): a ``pathlib.Path`` is always a path; a
string containing ``!`` is a description; a string ending in a known file extension is a path;
a string whose first word is an installed element (``"fakesink sync=true"``) is a description;
anything else is an error that lists the extensions.

Caps come from the first array (shape and dtype; ``format=`` picks among formats of the same
shape, such as ``"BGR"``) or from ``caps=``. The pipeline starts at the first write when the
caps come from the array, at once otherwise. ``close()`` sends end-of-stream and waits until
the sinks have it, so MP4 and Matroska files are complete, also when the ``with`` block ends
with an exception or Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterable
from fractions import Fraction
from types import TracebackType
from typing import Any, Optional, Union

import numpy as np

from . import _gi
from .appsrc import BACKPRESSURE, AppSrcFeeder
from .caps import AudioLayout, Layout, VideoLayout, audio_caps, layout_from_caps, video_caps
from .encoders import (
    AUDIO_EXTENSIONS,
    VIDEO_EXTENSIONS,
    EncoderChoice,
    FileFormat,
    choose_encoder,
    describe,
    element_name,
    file_format,
    parser_for,
)
from .errors import (
    CapsError,
    ClosedError,
    GstError,
    LifecycleError,
    TargetDirectoryError,
    TimeoutError,
)
from .frame import Frame
from .pipeline import GstPipeline, quote

__all__ = [
    "AudioWriter",
    "MuxWriter",
    "TargetDirectoryError",
    "Writer",
    "is_description",
    "write_audio",
    "write_frames",
]

log = logging.getLogger("gstreamer.writer")

Timestamp = Union[int, float, None]
FrameRate = Union[int, float, Fraction, str, None]

_SECOND = 1_000_000_000
_NEW, _OPEN, _CLOSED = "new", "open", "closed"


def _ns(value: Timestamp) -> Optional[int]:
    """Ints are nanoseconds, floats seconds."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return round(float(value) * _SECOND)
    return int(value)


def _fraction(fps: FrameRate) -> Optional[Fraction]:
    if fps is None:
        return None
    frac = Fraction(fps) if isinstance(fps, str) else Fraction(fps).limit_denominator(1001000)
    if frac < 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    return frac if frac else None


def is_description(target: Union[str, os.PathLike[str]]) -> bool:
    """Whether ``target`` is a pipeline description (True) or a file path (False).

    Raises
    ------
    ValueError
        ``target`` is neither a known file extension nor an element.
    """
    if isinstance(target, os.PathLike):
        return False
    text = target.strip()
    if "!" in text:
        return True
    if file_format(text) is not None:
        return False
    first = text.split(None, 1)[0] if text else ""
    if first and _gi.Gst().ElementFactory.find(first) is not None:
        return True
    known = ", ".join([*VIDEO_EXTENSIONS, *AUDIO_EXTENSIONS])
    raise ValueError(
        f"cannot tell what {target!r} is: not a pipeline description (no '!', not an element) "
        f"and not a file with a known extension ({known}); pass a pathlib.Path to write a file "
        "with this name through a description such as 'x264enc ! mp4mux ! filesink location=...'"
    )


def _starts_with_appsrc(description: str) -> bool:
    return re.match(r"\s*appsrc(\s|!|$)", description) is not None


def _check_directory(path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise TargetDirectoryError(
            f"cannot write {path!r}: directory {directory!r} does not exist", filename=path
        )


def _video_convert() -> str:
    """Conversion runs in appsrc's thread, the encoder behind a small queue in another."""
    threads = max(1, min((os.cpu_count() or 1) // 2, 4))
    return f"videoconvert n-threads={threads} ! {_ENCODER_QUEUE}"


# raw frames between converter and encoder: a few frames, no byte/time limits
_ENCODER_QUEUE = "queue max-size-buffers=3 max-size-bytes=0 max-size-time=0"


_RGB_FORMATS = frozenset(
    ["RGB", "BGR", "RGBA", "BGRA", "ARGB", "ABGR", "RGBx", "BGRx", "xRGB", "xBGR"]
)


class _Input:
    """One appsrc fed from Python: caps, timestamps and a push that blocks with a timeout."""

    def __init__(
        self,
        kind: str,
        *,
        name: str,
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
        if backpressure not in BACKPRESSURE:
            raise ValueError(f"backpressure must be one of {BACKPRESSURE}, got {backpressure!r}")
        if max_buffers < 1:
            raise ValueError(f"max_buffers must be at least 1, got {max_buffers}")
        self.kind = kind
        self.name = name
        self.fps = _fraction(fps)
        self.rate = rate
        self.channels = channels
        self.format = format
        self.backpressure = backpressure
        self.max_buffers = max_buffers
        self.live = live
        self.copy = copy
        self.layout: Optional[Layout] = None
        self.feeder: Optional[AppSrcFeeder] = None
        self._next: Fraction = Fraction(0)
        self._warned_vfr = False
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
        """The layout for a stream whose first array is ``array``."""
        if self.kind == "video":
            fps = self.fps if self.fps is not None else Fraction(0)
            text = video_caps(array.shape, array.dtype, format=self.format, fps=fps)
            fmt = text.split("format=", 1)[1].split(",", 1)[0]
            if fmt in _RGB_FORMATS:
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

    @property
    def caps(self) -> Optional[str]:
        return self.layout.caps_string if self.layout is not None else None

    # -- pushing -------------------------------------------------------------------------

    def attach(self, appsrc: Any, check: Any) -> None:
        assert self.layout is not None
        self.feeder = AppSrcFeeder(
            appsrc,
            self.layout,
            fps=self.fps,
            backpressure=self.backpressure,
            max_buffers=self.max_buffers,
            check=check,
            live_clock=self.live,
        )
        # We block ourselves (see wait_for_room), so a push never blocks without a timeout.
        appsrc.set_property("block", False)
        if self.live:
            appsrc.set_property("is-live", True)

    def timestamps(
        self, array: np.ndarray, pts: Timestamp, duration: Timestamp
    ) -> tuple[Optional[int], Optional[int]]:
        """``(pts, duration)`` in ns for the next array; automatic ones are exact fractions."""
        pts_ns, dur_ns = _ns(pts), _ns(duration)
        step: Optional[Fraction] = None
        if isinstance(self.layout, AudioLayout):
            samples = array.shape[0] if array.ndim >= 1 else 0
            step = Fraction(samples * _SECOND, self.layout.rate)
        elif self.fps:
            step = _SECOND / self.fps
        if self.live and pts_ns is None:
            # the feeder stamps with the pipeline clock
            if dur_ns is None and step is not None:
                dur_ns = round(step)
            return None, dur_ns
        if pts_ns is None:
            if step is None:
                raise CapsError("with a variable frame rate (fps=None) every frame needs pts=")
            start = self._next
            pts_ns = round(start)
            end = start + step
            if dur_ns is None:
                dur_ns = round(end) - pts_ns
            self._next = end if duration is None else Fraction(pts_ns + dur_ns)
        else:
            if dur_ns is None and step is not None:
                dur_ns = round(step)
            self._next = Fraction(pts_ns + (dur_ns or 0))
        return pts_ns, dur_ns

    def wait_for_room(self, timeout: float, check: Any) -> None:
        """Block until appsrc's queue has room; raise pipeline errors and TimeoutError."""
        feeder = self.feeder
        assert feeder is not None
        appsrc = feeder.appsrc
        limit = self.max_buffers
        if appsrc.get_property("current-level-buffers") < limit:
            return
        deadline = time.monotonic() + timeout
        delay = 0.0002
        while True:
            check()
            if appsrc.get_property("current-level-buffers") < limit:
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
        array: Any,
        pts: Timestamp,
        duration: Timestamp,
        timeout: float,
        check: Any,
    ) -> bool:
        feeder = self.feeder
        assert feeder is not None
        pts_ns, dur_ns = self.timestamps(array, pts, duration)
        if self.backpressure == "block":
            self.wait_for_room(timeout, check)
        if self.copy:
            array = np.array(array, copy=True)
        return feeder.push(array, pts=pts_ns, duration=dur_ns)

    @property
    def pushed(self) -> int:
        return self.feeder.pushed if self.feeder is not None else 0

    @property
    def dropped(self) -> int:
        return self.feeder.dropped if self.feeder is not None else 0


def _as_array(data: Any, kind: str) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data
    try:
        return np.asarray(data)
    except Exception as exc:  # pragma: no cover - numpy message is good enough
        raise CapsError(f"cannot make a {kind} array from {type(data).__name__}") from exc


def _unpack(frame: Any, pts: Timestamp, duration: Timestamp) -> tuple[Any, Timestamp, Timestamp]:
    if isinstance(frame, Frame):
        if pts is None:
            pts = frame.pts
        if duration is None:
            duration = frame.duration
        return frame.data, pts, duration
    return frame, pts, duration


class _BaseWriter:
    """Lifecycle shared by the writers: lazy start, error checks, close and ``with``."""

    def __init__(self, description: str, timeout: float) -> None:
        self.timeout = float(timeout)
        self._pipeline = GstPipeline(description)
        self._pipeline._on_pipeline_init = self._on_pipeline_init  # type: ignore[method-assign]
        self._state = _NEW
        self._lock = threading.RLock()
        self._inputs: dict[str, _Input] = {}

    # -- subclass hooks ------------------------------------------------------------------

    def _on_pipeline_init(self) -> None:
        GstApp = _gi.GstApp()
        appsrcs = self._pipeline.get_by_cls(GstApp.AppSrc)
        for name, inp in self._inputs.items():
            match = [a for a in appsrcs if a.get_name() == name]
            if not match and len(self._inputs) == 1 and len(appsrcs) == 1:
                match = appsrcs
            if len(match) != 1:
                names = [a.get_name() for a in appsrcs]
                raise CapsError(
                    f"{type(self).__name__} needs an appsrc named {name!r} in "
                    f"{self._pipeline.command!r}; found appsrcs {names}"
                )
            inp.attach(match[0], self._check)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def pipeline(self) -> GstPipeline:
        """The :class:`~gstreamer.GstPipeline` (started at the first write, or at once
        when the caps were given)."""
        return self._pipeline

    @property
    def closed(self) -> bool:
        return self._state == _CLOSED

    def _start(self) -> None:
        with self._lock:
            if self._state != _NEW:
                return
            try:
                self._pipeline.startup()
            except BaseException:
                self._state = _CLOSED
                raise
            self._state = _OPEN
            log.debug("%s started: %s", type(self).__name__, self._pipeline.command)

    def _check(self) -> None:
        """Raise the pipeline's error (once) or ClosedError when it stopped."""
        pipeline = self._pipeline
        pipeline.raise_for_error()
        if pipeline.is_done:
            error = pipeline.error
            if error is not None:
                raise ClosedError(
                    f"{type(self).__name__} stopped after an error: {error.message}"
                ) from error
            raise ClosedError(f"{type(self).__name__}: the pipeline reached end of stream")

    def _require_open(self) -> None:
        if self._state == _CLOSED:
            raise ClosedError(f"{type(self).__name__} is closed; cannot write")

    def _write(self, inp: _Input, data: Any, pts: Timestamp, duration: Timestamp) -> bool:
        self._require_open()
        array = _as_array(data, inp.kind) if not isinstance(data, list) else data
        if self._state == _NEW:
            with self._lock:
                if self._state == _NEW:
                    if inp.layout is None:
                        if isinstance(array, list):
                            raise CapsError("a list of planes needs caps= to know the format")
                        inp.layout = inp.caps_for(array)
                    self._start_when_ready()
                    if self._state == _NEW:
                        return self._hold(inp, array, pts, duration)
            self._require_open()
        self._check()
        return inp.push(array, pts, duration, self.timeout, self._check)

    def _start_when_ready(self) -> None:
        if all(i.layout is not None for i in self._inputs.values()):
            self._start()

    def _hold(self, inp: _Input, array: Any, pts: Timestamp, duration: Timestamp) -> bool:
        raise LifecycleError(f"{type(self).__name__}: {inp.name} input has no caps yet")

    def close(self) -> None:
        """Finish the stream: send end-of-stream, wait for it (``timeout``), stop; idempotent.

        Raises
        ------
        PipelineError
            An error the pipeline reported that was not raised yet.
        TimeoutError
            End-of-stream did not reach the sinks within ``timeout`` seconds.
        """
        with self._lock:
            if self._state == _CLOSED:
                return
            started = self._state == _OPEN
            self._state = _CLOSED
        if not started:
            log.debug("%s closed before its pipeline started", type(self).__name__)
            if getattr(self, "_held", None):
                log.warning(
                    "%s closed before the first video frame: held audio was not written",
                    type(self).__name__,
                )
            return
        self._pipeline.shutdown(timeout=self.timeout, eos=True, raise_errors=True)

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc is None:
            self.close()
            return
        # finalise what was written, then let the user's exception propagate
        try:
            self.close()
        except GstError as close_error:
            log.warning("%s: closing after %r failed: %s", type(self).__name__, exc, close_error)

    def __del__(self) -> None:
        if getattr(self, "_state", _CLOSED) == _OPEN:
            log.warning("%s was not closed; the file may be incomplete", type(self).__name__)
            try:
                self._pipeline.shutdown(timeout=1.0, eos=False, raise_errors=False)
            except Exception:
                log.debug("shutdown in __del__ failed", exc_info=True)


class _SingleInputWriter(_BaseWriter):
    """A writer with one appsrc (``name=src``): a file target or a pipeline description."""

    _KIND = "video"

    def __init__(
        self,
        target: Union[str, os.PathLike[str]],
        encoder: str,
        timeout: float,
        **options: Any,
    ) -> None:
        self._encoder: Optional[EncoderChoice] = None
        super().__init__(self._describe(target, encoder), timeout)
        self._target = target
        self._input = _Input(self._KIND, name="src", **options)
        self._inputs = {"src": self._input}
        if self._input.layout is not None:
            self._start()

    def _describe(self, target: Union[str, os.PathLike[str]], encoder: str) -> str:
        if is_description(target):
            text = os.fspath(target).strip()
            return text if _starts_with_appsrc(text) else f"appsrc name=src ! {text}"
        path = os.fspath(target)
        fmt = file_format(path)
        video = self._KIND == "video"
        if fmt is None or fmt.kind != self._KIND:
            known = ", ".join(VIDEO_EXTENSIONS if video else AUDIO_EXTENSIONS)
            other = "AudioWriter for audio files" if video else "Writer for video files"
            hint = f" use {other}" if fmt is not None else ""
            kind = "a video" if video else "an audio"
            raise ValueError(f"{path!r} is not {kind} file extension ({known}){hint}")
        _check_directory(path)
        self._encoder = _encoder_for(fmt.codec, encoder)
        convert = _video_convert() if video else "audioconvert ! audioresample"
        return _file_pipeline("appsrc name=src", convert, self._encoder, fmt, path)

    @property
    def caps(self) -> Optional[str]:
        """The caps of the written data (None before the first write)."""
        return self._input.caps

    @property
    def encoder(self) -> Optional[str]:
        """Factory name of the encoder used (``"x264enc"``); None for pipeline targets."""
        return self._encoder.name if self._encoder is not None else None

    @property
    def encoder_choice(self) -> Optional[EncoderChoice]:
        """The full :class:`~gstreamer.encoders.EncoderChoice` (None for pipeline targets)."""
        return self._encoder

    @property
    def dropped(self) -> int:
        """Frames or blocks dropped because of ``backpressure="drop-*"``."""
        return self._input.dropped

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {os.fspath(self._target)!r} {self._state}>"


class Writer(_SingleInputWriter):
    """Write video frames (NumPy arrays) to a file or a pipeline.

    Parameters
    ----------
    target : str or os.PathLike
        A file path (extension picks codec and container), a description starting with
        ``appsrc``, or the rest of a pipeline; see the module documentation.
    fps : int, float, Fraction or None
        Frame rate for automatic timestamps and the caps; None for a variable frame rate
        (then every :meth:`write` needs ``pts``).
    format : str, optional
        Raw format of the arrays when the shape is ambiguous (``"BGR"``, ``"I420"``, ...).
    caps : str or Gst.Caps, optional
        Full raw video caps; the pipeline then starts at once.
    encoder : str
        ``"auto"`` (a working hardware encoder, else x264) or a gst-launch fragment used
        verbatim (``"x264enc qp-max=0 pass=quant quantizer=0"``). Files only.
    backpressure : {"block", "drop-oldest", "drop-newest"}
        What a write does when the pipeline is behind: wait (lossless), or drop a frame and
        count it in :attr:`dropped`.
    max_buffers : int
        Frames queued in the appsrc before backpressure applies.
    live : bool
        Stamp frames with the pipeline clock (for live output) instead of the frame rate.
    timeout : float
        Seconds a write may block, and :meth:`close` may wait for end-of-stream.
    copy : bool
        Copy each array. By default the pipeline reads the array itself after
        :meth:`write` returns, so do not modify it in place afterwards (write a new array
        per frame, or pass ``copy=True``).
    """

    def __init__(
        self,
        target: Union[str, os.PathLike[str]],
        *,
        fps: FrameRate = 30,
        format: Optional[str] = None,
        caps: Any = None,
        encoder: str = "auto",
        backpressure: str = "block",
        max_buffers: int = 4,
        live: bool = False,
        timeout: float = 10.0,
        copy: bool = False,
    ) -> None:
        super().__init__(
            target,
            encoder,
            timeout,
            fps=fps,
            format=format,
            caps=caps,
            backpressure=backpressure,
            max_buffers=max_buffers,
            live=live,
            copy=copy,
        )

    def write(
        self,
        frame: Any,
        pts: Timestamp = None,
        duration: Timestamp = None,
    ) -> bool:
        """Write one frame.

        Parameters
        ----------
        frame : numpy.ndarray, list of planes or Frame
            ``(height, width, channels)``, ``(height, width)`` or the shape of the raw format
            (see :mod:`gstreamer.caps`). A :class:`~gstreamer.Frame` brings its own ``pts``.
        pts, duration : int or float, optional
            Nanoseconds (int) or seconds (float). Without them, timestamps follow ``fps``.

        Returns
        -------
        bool
            False when the frame was dropped (``backpressure="drop-*"``).

        Raises
        ------
        CapsError
            The frame's shape or dtype differs from the stream's.
        ClosedError
            The writer was closed, or the pipeline stopped.
        PipelineError
            The pipeline reported an error (with element, debug text and hint).
        TimeoutError
            The pipeline took no frame for ``timeout`` seconds.
        """
        data, pts, duration = _unpack(frame, pts, duration)
        return self._write(self._input, data, pts, duration)

    @property
    def frames_written(self) -> int:
        """Frames handed to the pipeline; with ``"drop-newest"`` dropped ones are not
        counted, with ``"drop-oldest"`` they are (they were pushed, then displaced)."""
        return self._input.pushed

    def __enter__(self) -> Writer:
        return self


class AudioWriter(_SingleInputWriter):
    """Write audio samples (``(samples, channels)`` arrays) to a file or a pipeline.

    Parameters
    ----------
    target : str or os.PathLike
        ``.wav``, ``.flac``, ``.ogg`` (Vorbis), ``.opus``, ``.m4a`` (AAC), ``.mka``, ``.mp3``,
        a description starting with ``appsrc``, or the rest of a pipeline.
    rate : int
        Sample rate in Hz.
    channels : int, optional
        Channel count (default: from the first array).
    format : str, optional
        Raw sample format (``"S16LE"``, ``"F32LE"``...; default: from the array's dtype).
    caps, encoder, backpressure, max_buffers, live, timeout, copy
        As for :class:`Writer`.
    """

    _KIND = "audio"

    def __init__(
        self,
        target: Union[str, os.PathLike[str]],
        *,
        rate: int = 48000,
        channels: Optional[int] = None,
        format: Optional[str] = None,
        caps: Any = None,
        encoder: str = "auto",
        backpressure: str = "block",
        max_buffers: int = 8,
        live: bool = False,
        timeout: float = 10.0,
        copy: bool = False,
    ) -> None:
        super().__init__(
            target,
            encoder,
            timeout,
            rate=rate,
            channels=channels,
            format=format,
            caps=caps,
            backpressure=backpressure,
            max_buffers=max_buffers,
            live=live,
            copy=copy,
        )

    def write(self, samples: Any, pts: Timestamp = None) -> bool:
        """Write a block of samples, ``(samples, channels)`` (or ``(samples,)`` for mono).

        Timestamps follow the sample count unless ``pts`` (ns int, or float seconds) is given.

        Raises
        ------
        CapsError, ClosedError, PipelineError, TimeoutError
            As for :meth:`Writer.write`.
        """
        return self._write(self._input, samples, pts, None)

    @property
    def blocks_written(self) -> int:
        """Sample blocks handed to the pipeline."""
        return self._input.pushed

    def __enter__(self) -> AudioWriter:
        return self


class MuxWriter(_BaseWriter):
    """Write video and audio into one file with synchronised timestamps.

    Both inputs start at time 0; video is stamped from ``fps``, audio from its sample count,
    so writing ``rate / fps`` samples per frame keeps them aligned. The pipeline starts at
    the first video frame (audio written before it is held). Interleave the two kinds of
    writes (or write from two threads): the muxer needs both streams to advance, and a
    write blocked for ``timeout`` seconds raises :class:`~gstreamer.TimeoutError`.

    Parameters
    ----------
    target : str or os.PathLike
        ``.mp4``, ``.mov``, ``.ts`` (H.264 + AAC), ``.mkv``, ``.webm`` (+ Vorbis), or a
        description with appsrcs named ``video`` and ``audio``.
    video : dict
        :class:`Writer` options: ``fps``, ``format``, ``caps``, ``encoder``.
    audio : dict
        :class:`AudioWriter` options: ``rate``, ``channels``, ``format`` (or ``dtype``,
        default float32), ``encoder``.
    backpressure, max_buffers, timeout, copy
        As for :class:`Writer`, per input.

    Examples
    --------
    >>> with MuxWriter("out.mp4", video=dict(fps=30), audio=dict(rate=48000, channels=2)) as w:
    ...     for frame, samples in zip(frames, blocks):  # doctest: +SKIP
    ...         w.write_video(frame)
    ...         w.write_audio(samples)
    """

    _MAX_HELD = 256

    def __init__(
        self,
        target: Union[str, os.PathLike[str]],
        *,
        video: Optional[dict[str, Any]] = None,
        audio: Optional[dict[str, Any]] = None,
        backpressure: str = "block",
        max_buffers: int = 4,
        timeout: float = 10.0,
        copy: bool = False,
    ) -> None:
        video = dict(video or {})
        audio = dict(audio or {})
        self._video_encoder: Optional[EncoderChoice] = None
        self._audio_encoder: Optional[EncoderChoice] = None
        description = self._describe(
            target, video.pop("encoder", "auto"), audio.pop("encoder", "auto")
        )
        super().__init__(description, timeout)
        self._target = target
        rate = int(audio.pop("rate", 48000))
        channels = int(audio.pop("channels", 2))
        dtype = np.dtype(audio.pop("dtype", np.float32))
        a_format = audio.pop("format", None)
        a_caps = audio.pop("caps", None)
        if a_caps is None:
            if a_format is not None:
                a_caps = (
                    f"audio/x-raw,format={a_format},rate={rate},channels={channels},"
                    "layout=interleaved"
                )
            else:
                a_caps = audio_caps(dtype, channels, rate)
        for name, rest in (("video", video), ("audio", audio)):
            extra = set(rest) - {"fps", "format", "caps"}
            if extra:
                raise TypeError(f"unknown {name} option(s): {', '.join(sorted(extra))}")
        self._video = _Input(
            "video",
            name="video",
            fps=video.get("fps", 30),
            format=video.get("format"),
            caps=video.get("caps"),
            backpressure=backpressure,
            max_buffers=max_buffers,
            copy=copy,
        )
        self._audio = _Input(
            "audio",
            name="audio",
            rate=rate,
            channels=channels,
            caps=a_caps,
            backpressure=backpressure,
            max_buffers=max_buffers * 2,
            copy=copy,
        )
        self._inputs = {"video": self._video, "audio": self._audio}
        self._held: list[tuple[Any, Timestamp]] = []
        self._start_when_ready()

    def _describe(self, target: Union[str, os.PathLike[str]], v_enc: str, a_enc: str) -> str:
        if is_description(target):
            return os.fspath(target)
        path = os.fspath(target)
        fmt = file_format(path)
        if fmt is None or fmt.kind != "video" or fmt.audio_codec is None:
            muxable = [k for k, f in VIDEO_EXTENSIONS.items() if f.audio_codec]
            raise ValueError(
                f"{path!r} cannot hold video and audio; use one of {', '.join(muxable)}"
            )
        _check_directory(path)
        self._video_encoder = _encoder_for(fmt.codec, v_enc)
        self._audio_encoder = _encoder_for(fmt.audio_codec, a_enc)
        # queues in front of the muxer hold up to 10 s so the inputs may run apart a little
        mux_queue = "queue max-size-buffers=0 max-size-bytes=0 max-size-time=10000000000"
        v_parse = parser_for(self._video_encoder.description)
        a_parse = parser_for(self._audio_encoder.description)
        video_chain = " ! ".join(
            p
            for p in (
                "appsrc name=video",
                _video_convert(),
                describe(self._video_encoder),
                v_parse,
                mux_queue,
            )
            if p
        )
        audio_chain = " ! ".join(
            p
            for p in (
                "appsrc name=audio",
                "audioconvert ! audioresample",
                describe(self._audio_encoder),
                a_parse,
                mux_queue,
            )
            if p
        )
        return (
            f"{fmt.muxer} name=mux ! filesink location={quote(path)} "
            f"{video_chain} ! mux. {audio_chain} ! mux."
        )

    def _hold(self, inp: _Input, array: Any, pts: Timestamp, duration: Timestamp) -> bool:
        if len(self._held) >= self._MAX_HELD:
            raise LifecycleError(
                "MuxWriter starts at the first video frame; write video before this much "
                "audio, or give video=dict(caps=...) to start at once"
            )
        self._held.append((array, pts))
        return True

    def _start_when_ready(self) -> None:
        super()._start_when_ready()
        if self._state == _OPEN and self._held:
            held, self._held = self._held, []
            for array, pts in held:
                self._audio.push(array, pts, None, self.timeout, self._check)

    def write_video(self, frame: Any, pts: Timestamp = None, duration: Timestamp = None) -> bool:
        """Write one video frame (see :meth:`Writer.write`)."""
        data, pts, duration = _unpack(frame, pts, duration)
        return self._write(self._video, data, pts, duration)

    def write_audio(self, samples: Any, pts: Timestamp = None) -> bool:
        """Write a block of audio samples (see :meth:`AudioWriter.write`)."""
        with self._lock:
            if self._state == _NEW and self._video.layout is None:
                self._require_open()
                array = _as_array(samples, "audio")
                assert isinstance(self._audio.layout, AudioLayout)
                return self._hold(self._audio, self._audio.layout.check_array(array), pts, None)
        return self._write(self._audio, samples, pts, None)

    @property
    def video_caps(self) -> Optional[str]:
        return self._video.caps

    @property
    def audio_caps(self) -> Optional[str]:
        return self._audio.caps

    @property
    def video_encoder(self) -> Optional[str]:
        return self._video_encoder.name if self._video_encoder else None

    @property
    def audio_encoder(self) -> Optional[str]:
        return self._audio_encoder.name if self._audio_encoder else None

    @property
    def frames_written(self) -> int:
        """Video frames handed to the pipeline."""
        return self._video.pushed

    @property
    def audio_blocks_written(self) -> int:
        return self._audio.pushed

    @property
    def dropped(self) -> int:
        return self._video.dropped + self._audio.dropped

    def __enter__(self) -> MuxWriter:
        return self


def _encoder_for(codec: str, encoder: str) -> EncoderChoice:
    if encoder == "auto":
        return choose_encoder(codec)
    if not encoder:
        return EncoderChoice("", "", False)
    return EncoderChoice(element_name(encoder), encoder, False)


def _file_pipeline(
    src: str, convert: str, encoder: EncoderChoice, fmt: FileFormat, path: str
) -> str:
    parts = [
        src,
        convert,
        describe(encoder),
        parser_for(encoder.description) if encoder.name else "",
    ]
    parts += [fmt.muxer, f"filesink location={quote(path)}"]
    return " ! ".join(p for p in parts if p)


def write_frames(
    target: Union[str, os.PathLike[str]],
    frames: Iterable[Any],
    fps: FrameRate = 30,
    encoder: str = "auto",
    **kwargs: Any,
) -> int:
    """Write every frame of ``frames`` to ``target`` and finish the file.

    Parameters
    ----------
    target : str or os.PathLike
        As for :class:`Writer`.
    frames : iterable of numpy.ndarray or Frame
    fps, encoder, **kwargs
        Passed to :class:`Writer`.

    Returns
    -------
    int
        The number of frames written.
    """
    with Writer(target, fps=fps, encoder=encoder, **kwargs) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.frames_written


def write_audio(
    target: Union[str, os.PathLike[str]],
    samples: Any,
    rate: int = 48000,
    **kwargs: Any,
) -> int:
    """Write ``samples`` (one ``(samples, channels)`` array or an iterable of blocks).

    Returns
    -------
    int
        The number of sample frames written.
    """
    blocks = [samples] if isinstance(samples, np.ndarray) else samples
    total = 0
    with AudioWriter(target, rate=rate, **kwargs) as writer:
        for block in blocks:
            array = np.asarray(block)
            writer.write(array)
            total += int(array.shape[0])
    return total
