"""Writing arrays to files and pipelines: :class:`Writer` and :class:`AudioWriter`.

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

Timestamps given to :meth:`Writer.write` are seconds, whatever the number type (one rule for
every push path, see :mod:`gstreamer._time`).

MP4 and MOV files are **crash-safe** by default (``crash_safe=True``): while the file is
written, the muxer appends a fragment every half second (``mp4mux fragment-duration=500
fragment-mode=first-moov-then-finalise``) and ``filesink`` writes each buffer through at once,
so a process killed with ``kill -9`` leaves a file that plays up to about the last half second.
The file is also **durable** by default (``durable=True``): it is synced to the disk
(``fsync``) at every fragment and at the end (see :mod:`gstreamer._durable`), so a power cut
loses about one fragment too, not the tens of seconds the kernel may keep in memory.
A clean :meth:`~Writer.close` turns the file into an ordinary MP4 (one ``moov``, no
fragments). ``crash_safe=False`` gives the plain muxer (the file is unreadable after a crash:
"moov atom not found"). Matroska, MPEG-TS and the other containers are written as before.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import weakref
from collections.abc import Iterable, Sized
from typing import Any, Callable, Optional, TypedDict, Union

import numpy as np

from . import _colour, _gi, _signals
from ._appsrc import AppSrcFeeder, as_array, unpack
from ._durable import DiskSync
from ._lifecycle import Lifecycle, State, weak_method
from ._progress import ProgressCallback, finish, progress_hook
from ._time import FrameRate, Timestamp, to_ns
from .caps import VideoLayout
from .encoders import (
    AUDIO_EXTENSIONS,
    VIDEO_EXTENSIONS,
    EncoderChoice,
    FileFormat,
    choose_encoder,
    describe,
    element_name,
    file_format,
    max_frame_size,
    parser_for,
)
from .errors import (
    ArgumentError,
    CapsError,
    ClosedError,
    LifecycleError,
    TargetDirectoryError,
)
from .pipeline import GstPipeline, quote

__all__ = [
    "CRASH_SAFE_FRAGMENT",
    "AudioWriter",
    "TargetDirectoryError",
    "Writer",
    "is_description",
    "write_audio",
    "write_frames",
]

log = logging.getLogger("gstreamer.writer")

#: Default of ``handle_sigterm=``: while a writer is open, SIGTERM is handled like Ctrl-C
#: (``KeyboardInterrupt`` in the main thread, after any handler you installed) so that ``with``
#: blocks finish their files. Set to False to keep SIGTERM's default action everywhere.
HANDLE_SIGTERM = True

#: Seconds an abandoned writer (dropped without ``close()``) waits for end-of-stream when it
#: is garbage-collected, so that its file is complete.
ABANDONED_EOS_TIMEOUT = 2.0


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
    raise ArgumentError(
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

# Muxers whose files are unreadable until finalised (the index, moov, is written at the end).
_MOOV_MUXERS = ("mp4mux", "qtmux")

#: Seconds of media per fragment when ``crash_safe=True``.
CRASH_SAFE_FRAGMENT = 0.5

CrashSafe = Union[bool, float]


def crash_safe_seconds(crash_safe: CrashSafe) -> float:
    """Seconds per fragment for a ``crash_safe`` argument (0 when off).

    Raises
    ------
    ValueError
        A negative number.
    """
    if crash_safe is True:
        return CRASH_SAFE_FRAGMENT
    if crash_safe is False or crash_safe is None:
        return 0.0
    seconds = float(crash_safe)
    if seconds < 0:
        raise ArgumentError(f"crash_safe must be True, False or seconds > 0, not {crash_safe!r}")
    return seconds


def file_muxer(fmt: FileFormat, crash_safe: CrashSafe) -> str:
    """The muxer fragment for ``fmt``: MP4/MOV muxers fragment while writing when
    ``crash_safe`` (see the module documentation); other muxers are unchanged."""
    seconds = crash_safe_seconds(crash_safe)
    if seconds <= 0 or element_name(fmt.muxer) not in _MOOV_MUXERS:
        return fmt.muxer
    ms = max(1, round(seconds * 1000))
    return f"{fmt.muxer} fragment-duration={ms} fragment-mode=first-moov-then-finalise"


def disk_sync_for(fmt: FileFormat, crash_safe: CrashSafe, durable: bool) -> Optional[DiskSync]:
    """A :class:`~gstreamer._durable.DiskSync` for a crash-safe MP4/MOV when ``durable``,
    else None (other containers, and the plain muxer, are left to the operating system)."""
    if durable and crash_safe_seconds(crash_safe) > 0 and element_name(fmt.muxer) in _MOOV_MUXERS:
        return DiskSync()
    return None


def file_sink(path: str, fmt: FileFormat, crash_safe: CrashSafe) -> str:
    """``filesink`` for ``path``; unbuffered for crash-safe MP4/MOV, so that every fragment
    reaches the operating system at once (not 64 KiB later)."""
    sink = f"filesink location={quote(path)}"
    if crash_safe_seconds(crash_safe) > 0 and element_name(fmt.muxer) in _MOOV_MUXERS:
        sink += " buffer-mode=unbuffered"
    return sink


class _BaseWriter(Lifecycle):
    """Lifecycle shared by the writers: lazy start, error checks, close and ``with``."""

    def __init__(
        self, description: str, timeout: float, handle_sigterm: Optional[bool] = None
    ) -> None:
        self.timeout = float(timeout)
        self._pipeline = GstPipeline(description, on_init=weak_method(self._attach_feeders))
        self._state = State.NEW
        self._lock = threading.RLock()
        self._inputs: dict[str, AppSrcFeeder] = {}
        self._path: Optional[str] = getattr(self, "_path", None)  # a file target
        self._handle_sigterm = HANDLE_SIGTERM if handle_sigterm is None else handle_sigterm
        self._finalizer: Optional[weakref.finalize[Any, Any]] = None
        # set by _describe for a durable crash-safe MP4/MOV (before this __init__ runs)
        self._disk_sync: Optional[DiskSync] = getattr(self, "_disk_sync", None)

    def _attach_feeders(self, pipeline: GstPipeline) -> None:
        """``on_init``: find each input's appsrc (by name) and attach its feeder."""
        GstApp = _gi.GstApp()
        appsrcs = pipeline.get_by_cls(GstApp.AppSrc)
        for name, feeder in self._inputs.items():
            match = [a for a in appsrcs if a.get_name() == name]
            if not match and len(self._inputs) == 1 and len(appsrcs) == 1:
                match = appsrcs
            if len(match) != 1:
                names = [a.get_name() for a in appsrcs]
                raise CapsError(
                    f"{type(self).__name__} needs an appsrc named {name!r} in "
                    f"{pipeline.command!r}; found appsrcs {names}"
                )
            # weak: the feeder (kept by this writer) must not keep the writer alive
            feeder.attach(match[0], weak_method(self._check))
        if self._path is not None:
            self._fit_odd_sizes(pipeline)
        if self._disk_sync is not None:
            self._attach_disk_sync(pipeline, self._disk_sync)

    def _attach_disk_sync(self, pipeline: GstPipeline, disk_sync: DiskSync) -> None:
        """``on_init``: sync the file of the pipeline's ``filesink`` at every fragment."""
        Gst = _gi.Gst()
        for element in pipeline.get_by_cls(Gst.Element):
            factory = element.get_factory()
            if factory is not None and factory.get_name() == "filesink":
                disk_sync.attach(element)

    def _fit_odd_sizes(self, pipeline: GstPipeline) -> None:
        """4:2:0 needs even sizes: an odd-sized video is encoded 4:4:4 (Y444) instead.

        Only the raw caps the writer put in front of ``x264enc`` change; the file then
        holds the exact size written (H.264 High 4:4:4, read back by any libavcodec).
        """
        Gst = _gi.Gst()
        odd = any(
            isinstance(inp.layout, VideoLayout) and (inp.layout.width % 2 or inp.layout.height % 2)
            for inp in self._inputs.values()
        )
        if not odd:
            return
        for element in pipeline.get_by_cls(Gst.Element):
            factory = element.get_factory()
            if factory is None or factory.get_name() != "capsfilter":
                continue
            caps = element.get_property("caps")
            peer = element.get_static_pad("src").get_peer()
            encoder = peer.get_parent_element() if peer is not None else None
            if (
                caps is not None
                and caps.get_size() == 1
                and caps.get_structure(0).get_string("format") == "I420"
                and encoder is not None
                and encoder.get_factory().get_name() == "x264enc"
            ):
                # same caps (the colorimetry tag included, see _colour), 4:4:4
                text = caps.to_string().replace("format=(string)I420", "format=(string)Y444")
                element.set_property("caps", Gst.Caps.from_string(text))
                log.info("odd frame size: encoding 4:4:4 (Y444) so the size is kept")

    def _remove_empty_file(self) -> None:
        """A failed write leaves no 0-byte file behind."""
        path = self._path
        if path is not None and os.path.isfile(path) and os.path.getsize(path) == 0:
            os.unlink(path)
            log.info("removed %r: nothing was written to it", path)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def pipeline(self) -> GstPipeline:
        """The :class:`~gstreamer.GstPipeline` (started at the first write, or at once
        when the caps were given)."""
        return self._pipeline

    @property
    def disk_syncs(self) -> int:
        """``fsync`` calls made so far on the file (0 unless a durable crash-safe MP4/MOV)."""
        return self._disk_sync.syncs if self._disk_sync is not None else 0

    def _start(self) -> None:
        with self._lock:
            if self._state is not State.NEW:
                return
            try:
                self._pipeline.startup()
            except BaseException:
                self._state = State.CLOSED
                self._remove_empty_file()
                raise
            self._state = State.OPEN
            release = _signals.hold() if self._handle_sigterm else _no_release
            # no reference to self: an abandoned writer is collected, then its file finished
            self._finalizer = weakref.finalize(
                self, _finish_abandoned, self._pipeline, release, type(self).__name__
            )
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
        if self._state is State.CLOSED:
            raise ClosedError(f"{type(self).__name__} is closed; cannot write")

    def _write(
        self,
        feeder: AppSrcFeeder,
        data: Any,
        pts: Optional[int],
        duration: Optional[int],
    ) -> bool:
        """Push ``data`` (times in ns) through ``feeder``, starting the pipeline if needed."""
        self._require_open()
        array = as_array(data, feeder.kind)
        if self._state is State.NEW:
            with self._lock:
                if self._state is State.NEW:
                    from_array = feeder.layout is None
                    feeder.set_caps_from(array)
                    try:
                        self._check_before_start()
                    except CapsError:
                        if from_array:  # the next frame may set them right
                            feeder.layout = None
                        raise
                    self._start_when_ready()
                    if self._state is State.NEW:
                        return self._hold(feeder, array, pts, duration)
            self._require_open()
        return feeder.push(array, pts, duration, timeout=self.timeout)

    def _check_before_start(self) -> None:
        """Hook: reject what the sinks would fail on, before anything (a file) is created."""

    def _start_when_ready(self) -> None:
        if all(i.layout is not None for i in self._inputs.values()):
            self._start()

    def _hold(
        self, feeder: AppSrcFeeder, array: Any, pts: Optional[int], duration: Optional[int]
    ) -> bool:
        raise LifecycleError(f"{type(self).__name__}: {feeder.name} input has no caps yet")

    def close(self, timeout: Optional[float] = None) -> None:
        """Finish the stream: send end-of-stream, wait for it, stop; idempotent.

        Parameters
        ----------
        timeout : float, optional
            Seconds the whole close may take (default: the writer's ``timeout``). A
            pipeline stuck inside an element is left to stop in the background after it.

        Raises
        ------
        PipelineError
            An error the pipeline reported that was not raised yet.
        TimeoutError
            End-of-stream did not reach the sinks, or the pipeline did not stop, within
            ``timeout`` seconds.
        """
        with self._lock:
            if self._state is State.CLOSED:
                return
            started = self._state is State.OPEN
            self._state = State.CLOSED
        if not started:
            log.debug("%s closed before its pipeline started", type(self).__name__)
            self._closed_before_start()
            return
        finalizer = self._finalizer
        detached = finalizer.detach() if finalizer is not None else None
        try:
            limit = self.timeout if timeout is None else float(timeout)
            self._pipeline.shutdown(timeout=limit, eos=True, raise_errors=True)
        finally:
            if self._disk_sync is not None:
                self._disk_sync.close()
            self._remove_empty_file()
            if detached is not None:
                _, _, (_, release, _), _ = detached
                release()  # the SIGTERM guard

    def _closed_before_start(self) -> None:
        """Hook: what to say when the writer closes before its pipeline started."""


def _no_release() -> None:
    return None


def _finish_abandoned(pipeline: GstPipeline, release: Callable[[], None], name: str) -> None:
    """Finaliser of a writer dropped (or left at exit) without ``close()``: finish the file
    with a short deadline, stop the threads, release the SIGTERM guard.

    The garbage collector may run it in any thread, GStreamer's streaming threads included,
    where stopping a pipeline could deadlock: there it hands the work to a new thread.
    """
    if isinstance(threading.current_thread(), threading._DummyThread):
        threading.Thread(
            target=_finish_abandoned, args=(pipeline, release, name), name="Writer-finaliser"
        ).start()
        return
    log.warning("%s was not closed; finishing it now (end-of-stream)", name)
    try:
        pipeline.shutdown(timeout=ABANDONED_EOS_TIMEOUT, eos=True, raise_errors=False)
    except Exception:  # pragma: no cover - best effort at garbage collection
        log.debug("shutdown of an abandoned %s failed", name, exc_info=True)
    finally:
        release()


class _SingleInputWriter(_BaseWriter):
    """A writer with one appsrc (``name=src``): a file target or a pipeline description."""

    _KIND = "video"

    def __init__(
        self,
        target: Union[str, os.PathLike[str]],
        encoder: str,
        timeout: float,
        handle_sigterm: Optional[bool] = None,
        crash_safe: CrashSafe = True,
        durable: bool = True,
        **options: Any,
    ) -> None:
        self._encoder: Optional[EncoderChoice] = None
        self._crash_safe = crash_safe
        self._durable = durable
        self._variable_rate = self._KIND == "video" and _variable_rate(
            options.get("fps"), options.get("caps")
        )
        super().__init__(self._describe(target, encoder), timeout, handle_sigterm)
        self._target = target
        self._input = AppSrcFeeder(self._KIND, name="src", **options)
        # RGB frames become I420 in the writing thread (libyuv) when the encoder takes I420
        choice = self._encoder
        self._input.to_i420 = bool(
            choice is not None and (choice.input_caps or "").startswith("video/x-raw,format=I420")
        )
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
            raise ArgumentError(f"{path!r} is not {kind} file extension ({known}){hint}")
        _check_directory(path)
        self._path = path
        self._encoder = _encoder_for(fmt.codec, encoder)
        self._disk_sync = disk_sync_for(fmt, self._crash_safe, self._durable)
        convert = _video_convert() if video else "audioconvert ! audioresample"
        return _file_pipeline(
            "appsrc name=src",
            convert,
            self._encoder,
            fmt,
            path,
            self._crash_safe,
            variable_rate=self._variable_rate,
        )

    def _check_before_start(self) -> None:
        layout = self._input.layout
        encoder = self._encoder
        if encoder is None or not isinstance(layout, VideoLayout):
            return
        limit = max_frame_size(encoder.description)
        if limit is not None and (layout.width > limit[0] or layout.height > limit[1]):
            raise CapsError(
                f"frame size {layout.width}x{layout.height} is too large for {encoder.name} "
                f"(at most {limit[0]}x{limit[1]}); scale the frames down or choose another "
                "encoder= or file format"
            )

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


class VideoWriterOptions(TypedDict, total=False):
    """The keyword arguments that writers built on :class:`Writer` pass on to it unchanged
    (``format``, ``caps``, ``encoder``, ``backpressure``, ``max_buffers``, ``live``,
    ``timeout``, ``copy``): their meaning and defaults are the :class:`Writer`'s."""

    format: Optional[str]
    caps: Any
    encoder: str
    backpressure: str
    max_buffers: int
    live: bool
    timeout: float
    copy: bool


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
    crash_safe : bool or float
        MP4/MOV files only: write fragments while recording so that the file plays after a
        crash, losing at most about half a second (True), or every ``crash_safe`` seconds
        (a number). ``close()`` still leaves an ordinary MP4. False: the plain muxer.
    durable : bool
        Crash-safe MP4/MOV files only: ``fsync`` the file at every fragment and at the end,
        so that it also survives a power cut (losing about one fragment). False leaves the
        writing back to the operating system: the file survives a killed process, but a
        power cut may lose the last tens of seconds, or the whole file.
    handle_sigterm : bool, optional
        While the writer is open, handle SIGTERM like Ctrl-C (``KeyboardInterrupt`` in the
        main thread, after any SIGTERM handler you installed) so ``with`` blocks finish the
        file. Default: :data:`HANDLE_SIGTERM` (True). False keeps SIGTERM's action as it is.

    Notes
    -----
    A writer dropped without :meth:`close` is garbage-collected like any object; its
    finaliser then sends end-of-stream and waits up to :data:`ABANDONED_EOS_TIMEOUT`
    seconds, so the file is complete (and it logs a warning: call :meth:`close`).
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
        handle_sigterm: Optional[bool] = None,
        crash_safe: CrashSafe = True,
        durable: bool = True,
    ) -> None:
        super().__init__(
            target,
            encoder,
            timeout,
            handle_sigterm,
            crash_safe=crash_safe,
            durable=durable,
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
        pts, duration : int, float or Fraction, optional
            Seconds, whatever the number type (``pts=1`` is one second; see
            :mod:`gstreamer._time`). Without them, timestamps follow ``fps`` (or the
            :class:`~gstreamer.Frame`'s own).

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
        return self._write(self._input, *unpack(frame, pts, duration))

    @property
    def frames_written(self) -> int:
        """Frames handed to the pipeline; with ``"drop-newest"`` dropped ones are not
        counted, with ``"drop-oldest"`` they are (they were pushed, then displaced)."""
        return self._input.frames_written


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
    caps, encoder, backpressure, max_buffers, live, timeout, copy, handle_sigterm
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
        handle_sigterm: Optional[bool] = None,
    ) -> None:
        super().__init__(
            target,
            encoder,
            timeout,
            handle_sigterm,
            crash_safe=False,  # audio files are written as before
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

        Timestamps follow the sample count unless ``pts`` (seconds: int, float or Fraction)
        is given.

        Raises
        ------
        CapsError, ClosedError, PipelineError, TimeoutError
            As for :meth:`Writer.write`.
        """
        return self._write(self._input, samples, to_ns(pts), None)

    @property
    def blocks_written(self) -> int:
        """Sample blocks handed to the pipeline."""
        return self._input.frames_written


def _variable_rate(fps: Any, caps: Any) -> bool:
    """True when a video stream has no fixed frame rate (``fps=None`` and no rate in caps)."""
    if caps is not None:
        text = caps if isinstance(caps, str) else caps.to_string()
        match = re.search(r"framerate=(?:\(fraction\))?(\d+)/", text)
        if match is not None:
            return int(match.group(1)) == 0
    return fps is None


def _encoder_for(codec: str, encoder: str) -> EncoderChoice:
    if encoder == "auto":
        return choose_encoder(codec)
    if not encoder:
        return EncoderChoice("", "", False)
    return EncoderChoice(element_name(encoder), encoder, False)


def _file_pipeline(
    src: str,
    convert: str,
    encoder: EncoderChoice,
    fmt: FileFormat,
    path: str,
    crash_safe: CrashSafe = False,
    *,
    variable_rate: bool = False,
) -> str:
    # flacenc rewrites its STREAMINFO header (total samples, so the duration) at the end
    # by seeking in filesink; a flacparse in between would block that
    parse = encoder.name and not (fmt.codec == "flac" and not fmt.muxer)
    # YUV for the encoder is tagged (caps, hence the stream's VUI): see _colour
    tagged = dataclasses.replace(encoder, input_caps=_colour.writer_caps(encoder.input_caps))
    parser = parser_for(encoder.description) if parse else ""
    if variable_rate and parser == "h264parse" and encoder.name == "x264enc":
        # h264parse stamps each frame of a 0/1-framerate stream with a 1 ns duration, and
        # mp4mux then drops the last frame; x264enc's own output muxes as it is
        parser = ""
    parts = [src, convert, describe(tagged), parser]
    parts += [file_muxer(fmt, crash_safe), file_sink(path, fmt, crash_safe)]
    return " ! ".join(p for p in parts if p)


def write_frames(
    target: Union[str, os.PathLike[str]],
    frames: Iterable[Any],
    fps: FrameRate = 30,
    encoder: str = "auto",
    *,
    progress: bool = False,
    on_progress: Optional[ProgressCallback] = None,
    **kwargs: Any,
) -> int:
    """Write every frame of ``frames`` to ``target`` and finish the file.

    Parameters
    ----------
    target : str or os.PathLike
        As for :class:`Writer`.
    frames : iterable of numpy.ndarray or Frame
        The frames; a sized one (a list) gives the progress bar its total.
    fps, encoder, **kwargs
        Passed to :class:`Writer`.
    progress : bool
        Draw a progress bar on stderr.
    on_progress : callable, optional
        Called as ``on_progress(frames_written, total)`` after each frame instead of the
        bar; ``total`` is ``len(frames)`` or None.

    Returns
    -------
    int
        The number of frames written.
    """
    hook = progress_hook(progress, on_progress)
    total = len(frames) if isinstance(frames, Sized) else None
    writer = Writer(target, fps=fps, encoder=encoder, **kwargs)
    _write_all(writer, frames, lambda frame: 1, hook, total)
    return writer.frames_written


def write_audio(
    target: Union[str, os.PathLike[str]],
    samples: Any,
    rate: int = 48000,
    *,
    progress: bool = False,
    on_progress: Optional[ProgressCallback] = None,
    **kwargs: Any,
) -> int:
    """Write ``samples`` (one ``(samples, channels)`` array or an iterable of blocks).

    Parameters
    ----------
    target : str or os.PathLike
        As for :class:`AudioWriter`.
    samples : numpy.ndarray or iterable of numpy.ndarray
        One array, or blocks of the same dtype and channel count.
    rate : int
        Sample rate in Hz.
    progress : bool
        Draw a progress bar (in samples) on stderr.
    on_progress : callable, optional
        Called as ``on_progress(samples_written, total)`` after each block instead of the
        bar; ``total`` is known for a single array, else None.
    **kwargs
        Passed to :class:`AudioWriter`.

    Returns
    -------
    int
        The number of sample frames written.
    """
    blocks = [samples] if isinstance(samples, np.ndarray) else samples
    hook = progress_hook(progress, on_progress, unit="samples")
    expected = int(samples.shape[0]) if isinstance(samples, np.ndarray) else None
    writer = AudioWriter(target, rate=rate, **kwargs)
    arrays = (np.asarray(block) for block in blocks)
    return _write_all(writer, arrays, lambda array: int(array.shape[0]), hook, expected)


def _write_all(
    writer: Union[Writer, AudioWriter],
    items: Iterable[Any],
    size: Callable[[Any], int],
    hook: Optional[ProgressCallback],
    total: Optional[int],
) -> int:
    """Write every item and close ``writer``, calling ``hook(done, total)`` after each item
    (``done``: the sum of ``size(item)`` so far); return ``done``. The loop of
    :func:`write_frames` and :func:`write_audio`."""
    done = 0
    with writer:
        for item in items:
            writer.write(item)
            done += size(item)
            if hook is not None:
                hook(done, total)
    finish(hook)
    return done
