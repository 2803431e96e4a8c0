"""The ``gstreamer`` command line (also ``python -m gstreamer``).

Subcommands, in gst-launch / gst-inspect habits::

    gstreamer demo                         record generated frames to video.mp4
    gstreamer appsrc -p PIPELINE -n N      push N generated frames into PIPELINE's appsrc
    gstreamer appsink -p PIPELINE          print (or --save) the frames PIPELINE produces
    gstreamer launch PIPELINE ...          run a pipeline to EOS (Ctrl-C sends EOS first)
    gstreamer convert IN OUT [--size WxH]  re-encode a file (resize, fps, cut), with progress
    gstreamer serve rtsp|tcp|http|udp      serve generated frames (or --from a file/pipeline)
    gstreamer serve hls                    write HLS into a folder and serve it over HTTP
    gstreamer doctor                       versions, installed elements, missing packages

Only this module configures logging.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, NoReturn, Optional, TextIO

import numpy as np

from ._time import fps_fraction

__all__ = ["build_parser", "main", "run_main"]

log = logging.getLogger("gstreamer.cli")


class UsageError(Exception):
    """A wrong command line value (exit code 2)."""


# -- shared helpers ------------------------------------------------------------------------


def _demo_frames(width: int, height: int) -> np.ndarray:
    """A colour gradient: deterministic, cheap, easy to recognise."""
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.empty((height, width, 3), np.uint8)
    base[..., 0] = (xs * 255 // max(1, width - 1)).astype(np.uint8)
    base[..., 1] = (ys * 255 // max(1, height - 1)).astype(np.uint8)
    return base


class _Pattern:
    """Generated RGB frames: the demo gradient with a moving bar and a changing blue."""

    def __init__(self, width: int, height: int) -> None:
        self.base = _demo_frames(width, height)
        self.width = width

    def frame(self, i: int) -> np.ndarray:
        frame = self.base.copy()
        frame[..., 2] = (i * 4) & 0xFF
        bar = (i * 4) % max(1, self.width)
        frame[:, bar : bar + max(1, self.width // 32)] = 255
        return frame


def _generic_frames(shape: tuple[int, ...], dtype: Any) -> Callable[[int], np.ndarray]:
    """Frames of any shape/dtype: a ramp that shifts by one step per frame."""
    dt = np.dtype(dtype)
    size = int(np.prod(shape))
    if dt.kind == "f":
        ramp = (np.arange(size, dtype=np.float64) % 256 / 255.0 - 0.5).astype(dt)
    else:
        top = 256 if dt.itemsize == 1 else 65536
        ramp = (np.arange(size, dtype=np.int64) % top).astype(dt)
    ramp = ramp.reshape(shape)

    def make(i: int) -> np.ndarray:
        return np.roll(ramp, i * 3, axis=-1 if len(shape) == 1 else 1)

    return make


class _Rate:
    """Prints live throughput (frames per second) to a stream at most every ``every`` s."""

    def __init__(self, stream: TextIO, unit: str = "frames", every: float = 1.0) -> None:
        self.stream = stream
        self.unit = unit
        self.every = every
        self.start = time.perf_counter()
        self._last = self.start
        self._printed = False

    def update(self, count: int, total: Optional[int] = None, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last < self.every:
            return
        self._last = now
        elapsed = max(now - self.start, 1e-9)
        done = f"{count}/{total}" if total else str(count)
        end = "\r" if self.stream.isatty() else "\n"
        print(f"{done} {self.unit}, {count / elapsed:.1f} fps", end=end, file=self.stream)
        self._printed = True
        self.stream.flush()

    def finish(self) -> None:
        if self._printed and self.stream.isatty():
            print(file=self.stream)


def _fmt_time(ns: int) -> str:
    seconds = ns / 1e9
    minutes, seconds = divmod(seconds, 60)
    return f"{int(minutes):02d}:{seconds:04.1f}"


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
        return value

    return parse


# -- demo ----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from .encoders import choose_encoder, describe
    from .pipeline import quote
    from .writer import Writer

    width, height, fps, n = args.width, args.height, args.fps, args.num_buffers
    record = (
        f"queue max-size-buffers=4 ! videoconvert ! {describe(choose_encoder('h264'))} ! "
        f"h264parse ! mp4mux ! filesink location={quote(args.output)}"
    )
    from .pipeline import display_available

    show = display_available() and not args.no_window
    if show:
        target = (
            f"tee name=t ! {record} "
            "t. ! queue max-size-buffers=4 ! videoconvert ! autovideosink sync=false"
        )
    else:
        target = record
    base = _demo_frames(width, height)
    start = time.perf_counter()
    with Writer(target, fps=fps) as writer:
        for i in range(n):
            frame = base.copy()
            frame[..., 2] = (i * 255 // max(1, n - 1)) & 0xFF
            writer.write(frame)
            if args.progress and (i + 1) % max(1, fps) == 0:
                elapsed = time.perf_counter() - start
                print(f"\r{i + 1}/{n} frames, {(i + 1) / elapsed:.1f} fps", end="", file=sys.stderr)
    elapsed = time.perf_counter() - start
    if args.progress:
        print(file=sys.stderr)
    print(
        f"wrote {n} frames {width}x{height} to {args.output} in {elapsed:.2f} s "
        f"({n / elapsed:.1f} fps){' and showed them in a window' if show else ''}"
    )
    return 0


# -- appsrc --------------------------------------------------------------------------------


def cmd_appsrc(args: argparse.Namespace) -> int:
    """The tutorial's run_appsrc: generated frames into the pipeline's appsrc."""
    from . import _gi
    from ._appsrc import AppSrcFeeder
    from .caps import AudioLayout
    from .errors import CapsError
    from .pipeline import GstPipeline

    state: dict[str, Any] = {}

    def configure(pipeline: GstPipeline) -> None:
        GstApp = _gi.GstApp()
        appsrcs = pipeline.get_by_cls(GstApp.AppSrc)
        if len(appsrcs) != 1:
            raise CapsError(
                f"the pipeline needs exactly one appsrc, found {len(appsrcs)}: "
                "e.g. -p 'appsrc caps=video/x-raw,format=RGB,width=640,height=480,"
                "framerate=30/1 ! videoconvert ! autovideosink'"
            )
        appsrc = appsrcs[0]
        caps = appsrc.get_property("caps")
        if caps is None:
            raise CapsError(
                "the appsrc has no caps, so the frame size is unknown: give them in the "
                "pipeline, e.g. appsrc caps=video/x-raw,format=RGB,width=640,height=480,"
                "framerate=30/1"
            )
        structure = caps.get_structure(0).get_name() if caps.get_size() else ""
        kind = "audio" if structure.startswith("audio/") else "video"
        feeder = AppSrcFeeder(kind, caps=caps, fps=None if kind == "audio" else 30)
        feeder.attach(appsrc, pipeline.raise_for_error)
        state["feeder"] = feeder

    pipeline = GstPipeline(args.pipeline, on_init=configure)
    pipeline.startup()
    try:
        feeder: AppSrcFeeder = state["feeder"]
        layout = feeder.layout
        if isinstance(layout, AudioLayout):
            samples = max(1, layout.rate // 50)
            make = _generic_frames(layout.shape_for(samples), layout.dtype)
            what = f"{samples} samples x {layout.channels} ch {layout.format} @ {layout.rate} Hz"
        else:
            assert layout is not None
            shape = layout.shape
            if layout.format in ("RGB", "BGR") and len(shape) == 3:
                pattern = _Pattern(layout.width, layout.height)
                make = pattern.frame
            else:
                make = _generic_frames(shape, layout.dtype)
            what = f"{layout.width}x{layout.height} {layout.format}"
        frames = [make(i) for i in range(min(args.num_buffers, 64))]
        rate = _Rate(sys.stderr, "frames")
        n = args.num_buffers
        for i in range(n):
            feeder.push(frames[i % len(frames)], timeout=args.timeout)
            if not args.quiet:
                rate.update(i + 1, n)
        elapsed = time.perf_counter() - rate.start
        if not args.quiet:
            rate.finish()
        pipeline.shutdown(timeout=args.timeout)
    finally:
        pipeline.shutdown(timeout=args.timeout, raise_errors=False)
    print(f"pushed {n} buffers ({what}) in {elapsed:.2f} s ({n / max(elapsed, 1e-9):.1f} fps)")
    return 0


# -- appsink -------------------------------------------------------------------------------


def cmd_appsink(args: argparse.Namespace) -> int:
    """Print each frame's shape and pts, or save the frames as .npy files."""
    from .reader import Reader

    save: Optional[Path] = Path(args.save) if args.save else None
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
    count = 0
    with Reader(args.pipeline, format=args.format, timeout=args.timeout) as reader:
        for frame in reader:
            data = frame.data
            pts = "none" if frame.pts is None else f"{frame.pts / 1e9:.6f}"
            if save is not None:
                array = (
                    data
                    if isinstance(data, np.ndarray)
                    else np.concatenate([p.reshape(-1) for p in data])
                )
                np.save(save / f"frame_{count:06d}.npy", array)
            if not args.quiet:
                dtype = data.dtype if isinstance(data, np.ndarray) else data[0].dtype
                print(f"frame {count} shape={frame.shape} dtype={dtype} pts={pts}", flush=True)
            count += 1
            if args.num_buffers is not None and count >= args.num_buffers:
                break
    where = f" to {save}" if save is not None else ""
    print(f"{count} frames{where}", file=sys.stderr)
    return 0


# -- launch --------------------------------------------------------------------------------


# encoded containers: their buffers are byte chunks, not frames
_CONTAINER_CAPS = (
    "video/quicktime",
    "video/x-matroska",
    "video/webm",
    "video/mpegts",
    "video/x-msvideo",
    "video/x-flv",
    "audio/x-wav",
    "audio/x-m4a",
    "audio/webm",
    "audio/x-matroska",
    "application/",
    "multipart/",
)


class _FrameCounter:
    """Counts frames: buffers on the pad nearest to the sink that carries video.

    Every sink pad present at start gets a probe (header buffers are not counted). At report
    time the counter walks upstream from the first sink, past muxers (whose output is byte
    chunks: ``mp4mux ! filesink`` gets more buffers than frames), to the first pad whose caps
    are video frames (raw, encoded or images); failing that, audio; failing that, the sink's
    own buffers.
    """

    def __init__(self, gst_pipeline: Any) -> None:
        from . import _gi
        from .pipeline import iterate

        Gst = _gi.Gst()
        self._pipeline = gst_pipeline
        self.counts: dict[Any, int] = {}
        self._probes: list[tuple[Any, int]] = []
        for element in iterate(gst_pipeline.iterate_recurse()):
            for pad in iterate(element.iterate_sink_pads()):
                self.counts[pad] = 0
                probe = pad.add_probe(Gst.PadProbeType.BUFFER, self._on_buffer)
                self._probes.append((pad, probe))

    def _on_buffer(self, pad: Any, info: Any) -> Any:
        from . import _gi

        Gst = _gi.Gst()
        buf = info.get_buffer()
        if buf is not None and not buf.has_flags(Gst.BufferFlags.HEADER):
            self.counts[pad] = self.counts.get(pad, 0) + 1
        return Gst.PadProbeReturn.OK

    def measure(self) -> tuple[int, str]:
        """``(count, what)``: what is ``"frames"``, ``"audio buffers"`` or ``"buffers"``."""
        from .pipeline import iterate

        sinks = iterate(self._pipeline.iterate_sinks())
        found: dict[str, int] = {}
        for sink in sinks:
            queue = list(iterate(sink.iterate_sink_pads()))
            seen: set[Any] = set()
            while queue:
                pad = queue.pop(0)
                if pad in seen:
                    continue
                seen.add(pad)
                caps = pad.get_current_caps()
                name = caps.get_structure(0).get_name() if caps and caps.get_size() else ""
                if name and not name.startswith(_CONTAINER_CAPS) and pad in self.counts:
                    kind = "frames" if name.startswith(("video/", "image/")) else "audio buffers"
                    if kind == "frames" or name.startswith("audio/"):
                        found.setdefault(kind, self.counts[pad])
                        if kind == "frames":
                            return found[kind], kind
                        continue
                peer = pad.get_peer()
                upstream = peer.get_parent_element() if peer is not None else None
                if upstream is not None:
                    queue.extend(iterate(upstream.iterate_sink_pads()))
        if "audio buffers" in found:
            return found["audio buffers"], "audio buffers"
        for sink in sinks:
            for pad in iterate(sink.iterate_sink_pads()):
                return self.counts.get(pad, 0), "buffers"
        return 0, "buffers"

    def remove(self) -> None:
        for pad, probe in self._probes:
            pad.remove_probe(probe)
        self._probes = []


class _Progress:
    """A progress bar (known duration) or a live buffer rate, on stderr."""

    def __init__(self, stream: TextIO, every: float = 0.5) -> None:
        self.stream = stream
        self.every = every
        self.start = time.perf_counter()
        self._last = 0.0
        self._printed = False
        self._duration: Optional[int] = None
        self._full = False

    def show(
        self, position: Optional[int], duration: Optional[int], count: int, what: str = "frames"
    ) -> None:
        now = time.perf_counter()
        if now - self._last < self.every:
            return
        self._last = now
        if duration and duration > 0 and position is not None and position >= 0:
            self._duration = duration
            self._full = position >= duration
            text = self._bar(position, duration)
        else:
            elapsed = max(now - self.start, 1e-9)
            text = f"{count} {what}, {count / elapsed:.1f} per s"
            if position is not None and position >= 0:
                text += f", at {_fmt_time(position)}"
        end = "\r" if self.stream.isatty() else "\n"
        print(text, end=end, file=self.stream)
        self.stream.flush()
        self._printed = True

    @staticmethod
    def _bar(position: int, duration: int) -> str:
        frac = min(1.0, position / duration)
        filled = int(frac * 30)
        return (
            f"[{'#' * filled}{'-' * (30 - filled)}] {frac * 100:5.1f}% "
            f"{_fmt_time(position)} / {_fmt_time(duration)}"
        )

    def finish(self, complete: bool = False) -> None:
        """End the progress line; ``complete`` draws a full bar when a duration was known."""
        if complete and self._duration and not self._full:
            end = "\r" if self.stream.isatty() else "\n"
            print(self._bar(self._duration, self._duration), end=end, file=self.stream)
            self._printed = True
        if self._printed and self.stream.isatty():
            print(file=self.stream)


def _query(gst_pipeline: Any, kind: str) -> Optional[int]:
    from . import _gi

    Gst = _gi.Gst()
    query = gst_pipeline.query_duration if kind == "duration" else gst_pipeline.query_position
    ok, value = query(Gst.Format.TIME)
    if not ok or value < 0 or value == Gst.CLOCK_TIME_NONE:
        return None
    return int(value)


def cmd_launch(args: argparse.Namespace) -> int:
    """Run a pipeline to EOS; Ctrl-C sends EOS first so files are finalised."""
    from .pipeline import GstPipeline

    description = " ".join(args.pipeline)
    if not description.strip():
        raise UsageError(
            "give a pipeline, e.g.: gstreamer launch videotestsrc num-buffers=30 ! fakesink"
        )
    counters: list[_FrameCounter] = []

    def count_buffers(p: GstPipeline) -> None:  # before PLAYING: a live source's first buffers
        counters.append(_FrameCounter(p.pipeline))

    pipeline = GstPipeline(description, on_init=count_buffers)
    with _interrupts_raise():
        return _run_launch(args, pipeline, counters)


@contextlib.contextmanager
def _on_interrupt(action: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call ``action`` here (main thread only), even when the parent
    ignored them; the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(signum: int, frame: Any) -> None:
        action()

    for sig in previous:
        signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _raise_interrupt() -> None:
    raise KeyboardInterrupt


def _interrupts_raise() -> contextlib.AbstractContextManager[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt here, even when the parent ignored them."""
    return _on_interrupt(_raise_interrupt)


class _Stop:
    """Set by SIGINT/SIGTERM (see :func:`_interrupts_set`); the loops test it and wait on it.

    Not a :class:`threading.Event`: a signal handler runs in the main thread between two
    bytecodes, possibly while that thread is inside ``Event.wait()`` holding the Event's
    lock, and ``Event.set()`` in the handler then waits for that lock for ever (``serve``
    hung after Ctrl-C once in a suite run under load; a loop of ``Event.wait(0)`` with
    SIGINT setting it hung 12 times in 20). Setting a bool takes no lock; :meth:`wait`
    sleeps in short slices.
    """

    _SLICE = 0.05

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, less once set; True when set."""
        deadline = time.monotonic() + timeout
        while not self._set:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, self._SLICE))
        return True


def _interrupts_set(stop: _Stop) -> contextlib.AbstractContextManager[None]:
    """SIGINT and SIGTERM set ``stop`` instead of raising.

    For loops that call into GStreamer all the time (serve, convert): a KeyboardInterrupt
    raised while PyGObject is inside a call (a signal emission such as ``push-buffer``)
    comes out as a RuntimeError with a traceback, so the loop checks the flag instead.
    """
    return _on_interrupt(stop.set)


def _run_launch(args: argparse.Namespace, pipeline: Any, counters: list[_FrameCounter]) -> int:
    from .errors import TimeoutError

    pipeline.startup()
    counter = counters[0]
    progress = _Progress(sys.stderr)
    interrupted = False
    try:
        try:
            while True:
                try:
                    pipeline.wait(0.1)
                    break
                except TimeoutError:
                    pass
                if not args.quiet:
                    gst = pipeline.pipeline
                    progress.show(
                        _query(gst, "position"), _query(gst, "duration"), *counter.measure()
                    )
        except KeyboardInterrupt:
            interrupted = True
            if not args.quiet:
                progress.finish()
            print(
                "gstreamer: interrupted, sending end-of-stream so files are finalised "
                "(Ctrl-C again to stop at once)",
                file=sys.stderr,
                flush=True,
            )
            pipeline.send_eos()
            try:
                pipeline.wait(args.eos_timeout)
            except KeyboardInterrupt:
                print("gstreamer: stopped without end-of-stream", file=sys.stderr)
                pipeline.shutdown(eos=False, raise_errors=False)
                return 130
        if not args.quiet:
            progress.finish(complete=not interrupted)
        elapsed = time.perf_counter() - progress.start
        count, what = counter.measure()
        pipeline.shutdown(eos=False)
    finally:
        counter.remove()
        pipeline.shutdown(eos=False, raise_errors=False)
    status = "interrupted; end of stream reached" if interrupted else "end of stream"
    print(f"{status} after {elapsed:.2f} s, {count} {what}", file=sys.stderr)
    return 130 if interrupted else 0


# -- serve ---------------------------------------------------------------------------------

_DEFAULT_PORTS = {"rtsp": 8554, "tcp": 5000, "http": 8080, "udp": 5004}
_SERVE_KINDS = sorted([*_DEFAULT_PORTS, "hls"])


def _make_server(args: argparse.Namespace, width: int, height: int, fps: Fraction) -> Any:
    from . import streaming

    port = _DEFAULT_PORTS[args.kind] if args.port is None else args.port
    common: dict[str, Any] = {"fps": fps, "port": port, "host": args.host}
    if args.kind == "rtsp":
        return streaming.RtspServer(
            width,
            height,
            mount=args.mount,
            username=args.user,
            password=args.password,
            bitrate=args.bitrate,
            **common,
        )
    if args.kind == "tcp":
        return streaming.TcpServer(
            width, height, container=args.container, bitrate=args.bitrate, **common
        )
    if args.kind == "http":
        return streaming.MjpegServer(width, height, quality=args.quality, **common)
    return streaming.UdpSender(width, height, codec=args.codec, **common)


def _check_serve_args(args: argparse.Namespace) -> None:
    from .streaming import check_host, check_mount, check_port

    try:
        check_host(args.host)
        if args.port is not None:
            check_port(args.port)
        if args.kind == "rtsp":
            check_mount(args.mount)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if (args.user is None) != (args.password is None):
        raise UsageError("give both --user and --password, or neither")
    if args.kind != "rtsp" and args.user is not None:
        raise UsageError("--user/--password are only for rtsp")
    if args.kind == "udp" and args.port == 0:
        raise UsageError("udp sends to a receiver: give its --port (not 0)")


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve generated frames (or frames from --from) until Ctrl-C, --duration or -n."""
    if args.kind == "hls":
        return cmd_serve_hls(args)
    _check_serve_args(args)
    if args.loop and args.source is None:
        raise UsageError("--loop repeats a --from FILE; give --from")
    reader = _source_reader(args)
    first: Optional[np.ndarray] = None
    try:
        if reader is not None:
            first = _first_frame(args, reader)
            height, width = first.shape[:2]
        else:
            width, height = args.width or 640, args.height or 480
        fps = _serve_fps(args, reader)
        server = _make_server(args, width, height, fps)
        return _serve_loop(args, server, reader, first, fps)
    finally:
        if reader is not None:
            reader.close()


def _source_reader(args: argparse.Namespace) -> Any:
    """A Reader of ``--from`` in RGB (at ``--width``/``--height`` if given), or None."""
    if args.source is None:
        return None
    from .reader import Reader

    return Reader(
        args.source, format="RGB", width=args.width, height=args.height, timeout=args.timeout
    )


def _first_frame(args: argparse.Namespace, reader: Any) -> np.ndarray:
    """The first frame of ``--from`` (a usage error when it has none)."""
    frame = reader.read()
    if frame is None:
        raise UsageError(f"--from {args.source!r} produced no frames")
    return np.asarray(frame.data)


def _serve_fps(args: argparse.Namespace, reader: Any) -> Fraction:
    """``serve``'s frame rate: ``--fps``, else the ``--from`` source's own, else 30."""
    given = fps_fraction(args.fps)
    if given:
        return given
    own = reader.fps if reader is not None else None
    return own or Fraction(30)


def _serve_loop(
    args: argparse.Namespace, server: Any, reader: Any, first: Optional[np.ndarray], fps: Fraction
) -> int:
    pattern = _Pattern(server.width, server.height) if reader is None else None
    sent = 0
    stop = _Stop()
    with server, contextlib.ExitStack() as opened, _interrupts_set(stop):
        print(f"serving {server.url} ({server.width}x{server.height} @ {float(fps):g} fps)")
        sys.stdout.flush()
        rate = _Rate(sys.stderr, "frames", every=5.0)

        def again(old: Any) -> Any:
            return _reopen(args, old, opened)

        frames = _paced_frames(
            args, stop, fps, pattern, reader, first=first, again=again if args.loop else None
        )
        try:
            for i, frame in enumerate(frames, 1):
                if server.push(frame):
                    sent += 1
                if not args.quiet:
                    rate.update(i)
        except KeyboardInterrupt:
            stop.set()
        if stop.is_set():
            print("gstreamer: interrupted, stopping the server", file=sys.stderr)
        if not args.quiet:
            rate.finish()
    print(f"served {sent} frames", file=sys.stderr)
    return 0


def _paced_frames(
    args: argparse.Namespace,
    stop: _Stop,
    fps: Fraction,
    pattern: Optional[_Pattern],
    reader: Any,
    *,
    first: Optional[np.ndarray] = None,
    again: Optional[Callable[[Any], Any]] = None,
    pace: bool = True,
) -> Iterator[np.ndarray]:
    """The frames to send: generated by ``pattern``, else ``first`` then ``reader``'s (when
    it ends, ``again(reader)`` opens it anew for --loop), each at its time on the ``fps``
    clock unless not ``pace``; until ``stop`` is set, --num-buffers or --duration."""
    start = time.monotonic()
    i = 0
    while not stop.is_set():
        if args.num_buffers is not None and i >= args.num_buffers:
            break
        if args.duration is not None and time.monotonic() - start >= args.duration:
            break
        if pattern is not None:
            frame = pattern.frame(i)
        elif i == 0 and first is not None:
            frame = first
        else:
            got = reader.read()
            if got is None and again is not None:
                reader = again(reader)
                got = reader.read()
            if got is None:
                break
            frame = np.asarray(got.data)
        if pace:
            delay = start + i / float(fps) - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
        yield frame
        i += 1


def _reopen(args: argparse.Namespace, reader: Any, opened: contextlib.ExitStack) -> Any:
    """``--loop``: the source again from its start (closed with ``opened``)."""
    from .reader import Reader

    reader.close()
    again = Reader(
        args.source, format="RGB", width=args.width, height=args.height, timeout=args.timeout
    )
    opened.callback(again.close)
    return again


# -- convert -------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    """``"320x240"`` -> ``(320, 240)``."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give WIDTHxHEIGHT, e.g. 320x240: {text!r}") from None
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"sizes must be > 0: {text!r}")
    return width, height


def _seconds(text: str) -> float:
    """``"90"``, ``"1.5"``, ``"01:30"`` or ``"0:01:30.5"`` -> seconds."""
    try:
        value = 0.0
        for part in text.split(":"):
            value = value * 60 + float(part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give seconds or [HH:]MM:SS: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def cmd_convert(args: argparse.Namespace) -> int:
    """Decode IN, optionally resize / change the frame rate / cut, encode to OUT."""
    from ._progress import ProgressBar, stream_duration
    from .reader import Reader
    from .writer import Writer

    start_ns = round(args.start * 1e9) if args.start is not None else 0
    end_ns = round(args.end * 1e9) if args.end is not None else None
    if end_ns is not None and end_ns <= start_ns:
        raise UsageError("--end must be after --start")
    width, height = args.size if args.size else (None, None)
    began = time.perf_counter()
    written = 0
    with Reader(
        args.input, format="RGB", width=width, height=height, fps=args.fps, timeout=args.timeout
    ) as reader:
        bar: Optional[ProgressBar] = None
        writer: Optional[Writer] = None
        stop = _Stop()
        try:
            with _interrupts_set(stop):
                for frame in reader:
                    if stop.is_set():
                        break
                    pts = frame.pts if frame.pts is not None else 0
                    if pts < start_ns:
                        continue
                    if end_ns is not None and pts >= end_ns:
                        break
                    if writer is None:
                        fps = args.fps or reader.fps or 30
                        writer = Writer(
                            args.output, fps=fps, encoder=args.encoder, timeout=args.timeout
                        )
                        if not args.quiet:
                            bar = ProgressBar(_expected(reader, stream_duration, start_ns, end_ns))
                    writer.write(frame.data)
                    written += 1
                    if bar is not None:
                        bar(written)
        except KeyboardInterrupt:
            stop.set()
        finally:
            if stop.is_set():
                print("gstreamer: interrupted; finishing the file", file=sys.stderr)
            if writer is not None:
                writer.close()  # finalises the file, also after Ctrl-C or an error
            if bar is not None:
                bar.close()
        source = f"{reader.width}x{reader.height}" if reader.width else "?"
    if writer is None:
        raise UsageError(f"no frames to convert from {args.input!r} in the range given")
    elapsed = time.perf_counter() - began
    log.info("convert pipeline: %s", writer.pipeline.command)
    print(
        f"converted {written} frames ({source}, {float(args.fps or reader.fps or 30):g} fps) "
        f"to {args.output} with {writer.encoder or 'the given pipeline'} in {elapsed:.2f} s "
        f"({written / max(elapsed, 1e-9):.1f} fps)"
    )
    return 130 if stop.is_set() else 0


def _expected(reader: Any, duration_of: Any, start_ns: int, end_ns: Optional[int]) -> Optional[int]:
    """The number of frames a convert will write, when the source's duration is known."""
    pipeline = reader.pipeline
    duration = duration_of(pipeline.pipeline if pipeline is not None else None)
    fps = reader.fps
    if duration is None or not fps:
        return None
    stop = min(duration, end_ns) if end_ns is not None else duration
    frames: int = round((stop - start_ns) * Fraction(fps) / 1_000_000_000)
    return max(0, frames)


# -- serve hls -----------------------------------------------------------------------------


def cmd_serve_hls(args: argparse.Namespace) -> int:
    """``serve hls``: write frames as HLS into --dir (or a temporary folder) and serve it over
    HTTP until Ctrl-C; with --serve-only, serve what --dir holds."""
    import tempfile

    from .recording import HlsWriter
    from .streaming import HttpFolderServer, check_host, check_port

    try:
        check_host(args.host)
        if args.port is not None:
            check_port(args.port)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.serve_only and args.dir is None:
        raise UsageError("--serve-only needs --dir (the folder to serve)")
    port = 8080 if args.port is None else args.port
    stop = _Stop()
    with contextlib.ExitStack() as stack:
        folder = args.dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="hls-"))
        if not os.path.isdir(folder):
            raise UsageError(f"--dir {folder!r} is not an existing folder")
        server = stack.enter_context(HttpFolderServer(folder, port=port, host=args.host))
        stack.enter_context(_interrupts_set(stop))
        print(f"serving {server.url}")
        sys.stdout.flush()
        if not args.serve_only:
            _write_hls(args, folder, HlsWriter, stop)
        if not stop.is_set():
            print(f"serving {folder} until Ctrl-C", file=sys.stderr)
        while not stop.wait(3600):
            pass
        print("gstreamer: interrupted, stopping the server", file=sys.stderr)
    return 0


def _write_hls(args: argparse.Namespace, folder: str, writer_class: Any, stop: _Stop) -> None:
    """Frames (generated or --from) into an HlsWriter in ``folder``, at the frame rate."""
    reader = _source_reader(args)
    try:
        # the source's own rate is known from its first frame
        first = _first_frame(args, reader) if reader is not None else None
        fps = _serve_fps(args, reader)
        pattern = _Pattern(args.width or 640, args.height or 480) if reader is None else None
        window = args.window if args.window else None
        frames = _paced_frames(args, stop, fps, pattern, reader, first=first, pace=not args.fast)
        with writer_class(folder, fps=fps, segment=args.segment, window=window) as writer:
            for frame in frames:
                writer.write(frame)
        print(f"wrote {writer.frames_written} frames into {folder}", file=sys.stderr)
    finally:
        if reader is not None:
            reader.close()


# -- doctor --------------------------------------------------------------------------------

CORE_ELEMENTS = ("appsrc", "appsink", "videoconvert", "videoscale", "videotestsrc", "queue")
KEY_ELEMENTS = (
    "x264enc",
    "openh264enc",
    "h264parse",
    "avdec_h264",
    "mp4mux",
    "matroskamux",
    "mpegtsmux",
    "jpegenc",
    "jpegdec",
    "rtph264pay",
    "rtph264depay",
    "rtpjpegpay",
    "rtspsrc",
    "udpsink",
    "udpsrc",
    "tcpserversink",
    "decodebin",
    "autovideosink",
)


def _hardware_encoders() -> list[str]:
    try:
        from .encoders import HARDWARE_ENCODERS
    except ImportError:  # pragma: no cover - encoders is optional here
        return ["vah264enc", "vaapih264enc", "nvh264enc", "v4l2h264enc"]
    names: list[str] = []
    for group in HARDWARE_ENCODERS.values():
        names.extend(n for n in group if n not in names)
    return names


def _display_report(Gst: Any, out: TextIO) -> bool:
    """Print whether window sinks can open a display; True when one can."""
    from .pipeline import display_available

    x11 = os.environ.get("DISPLAY")
    wayland = os.environ.get("WAYLAND_DISPLAY")
    if not display_available():
        print(
            "display: none (DISPLAY and WAYLAND_DISPLAY are unset): autovideosink and other "
            "window sinks raise NoDisplayError; use xvfb-run -a, or a file or stream target",
            file=out,
        )
        return False
    if not x11:
        print(f"display: Wayland {wayland} (not checked)", file=out)
        return True
    sink = Gst.ElementFactory.make("ximagesink", None)
    if sink is None:
        print(f"display: X11 {x11} (not checked: ximagesink is missing)", file=out)
        return True
    ok = sink.set_state(Gst.State.READY) != Gst.StateChangeReturn.FAILURE  # opens the display
    sink.set_state(Gst.State.NULL)
    if ok:
        print(f"display: X11 {x11}: ok (opened by ximagesink)", file=out)
    else:
        print(f"display: X11 {x11}: CANNOT BE OPENED (is the X server running?)", file=out)
    return ok or bool(wayland)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Versions, installed elements and the Debian package for each missing one."""
    import platform

    from . import __version__, _gi
    from .errors import GstNotAvailableError, package_for
    from .pipeline import DISPLAY_SINKS, display_available

    out = sys.stdout
    print(f"gstreamer-numpy {__version__}", file=out)
    print(f"Python {platform.python_version()}, NumPy {np.__version__}", file=out)
    try:
        import gi

        print(f"PyGObject {gi.__version__}", file=out)
        Gst = _gi.ensure_init()
    except (ImportError, GstNotAvailableError) as exc:
        print(f"FAIL: {exc}", file=out)
        return 1
    print(f"GStreamer {Gst.version_string().split()[-1]}", file=out)
    from .buffers import zero_copy_available

    print(f"zero-copy buffers: {'yes' if zero_copy_available() else 'no (one copy)'}", file=out)
    try:
        _gi.module("GstRtspServer")
        print("RTSP server typelib (GstRtspServer 1.0): ok", file=out)
    except GstNotAvailableError:
        print(
            "RTSP server typelib (GstRtspServer 1.0): MISSING  "
            "apt-get install gir1.2-gst-rtsp-server-1.0",
            file=out,
        )

    display_ok = _display_report(Gst, out)

    def report(names: Sequence[str]) -> list[str]:
        missing = []
        for name in names:
            if Gst.ElementFactory.find(name) is not None:
                note = ""
                if name in DISPLAY_SINKS and not display_ok:
                    note = (
                        "  (installed, but the display cannot be opened)"
                        if display_available()
                        else "  (installed; no display, so it raises NoDisplayError)"
                    )
                print(f"  {name:<16} ok{note}", file=out)
            else:
                missing.append(name)
                package = package_for(name)
                fix = f"apt-get install {package}" if package else "(package unknown)"
                print(f"  {name:<16} MISSING  {fix}", file=out)
        return missing

    print("core elements:", file=out)
    core_missing = report(CORE_ELEMENTS)
    print("key elements:", file=out)
    report(KEY_ELEMENTS)
    hardware = [n for n in _hardware_encoders() if Gst.ElementFactory.find(n) is not None]
    print(
        "hardware encoders: "
        + (", ".join(hardware) if hardware else "none (optional; software x264enc is used)"),
        file=out,
    )
    if core_missing:
        print("FAIL: core elements are missing", file=out)
        return 1
    print("OK: the core works", file=out)
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    """What a media file holds, without decoding (see :func:`gstreamer.probe`)."""
    from .probe import describe, probe

    info = probe(args.source)
    if args.json:
        import json

        print(json.dumps(info.to_dict(), indent=2))
    else:
        print(describe(info))
    return 0


# -- parser and main -----------------------------------------------------------------------


def _command(
    sub: Any, name: str, func: Callable[[argparse.Namespace], int], **kwargs: Any
) -> argparse.ArgumentParser:
    """The sub-command ``name`` (``gstreamer name ...``), run by ``func(args)``."""
    parser: argparse.ArgumentParser = sub.add_parser(name, **kwargs)
    parser.set_defaults(func=func)
    return parser


def _quiet_and_timeout(
    parser: argparse.ArgumentParser, quiet: str, timeout: float, waits_for: str
) -> None:
    """``-q/--quiet`` (``quiet``: what it turns off) and ``--timeout`` seconds."""
    parser.add_argument("-q", "--quiet", action="store_true", help=quiet)
    parser.add_argument(
        "--timeout", type=_positive(float), default=timeout, help=f"{waits_for} ({timeout:g} s)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gstreamer", description="NumPy arrays in and out of GStreamer pipelines."
    )
    from . import __version__

    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--version", action="version", version=f"gstreamer-numpy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = _command(
        sub,
        "demo",
        cmd_demo,
        help="record generated frames to an H.264 MP4 (and show them if a display exists)",
    )
    demo.add_argument("-o", "--output", default="video.mp4", help="output file (video.mp4)")
    demo.add_argument("-n", "--num-buffers", type=int, default=300, help="frames (300)")
    demo.add_argument("--width", type=int, default=640)
    demo.add_argument("--height", type=int, default=480)
    demo.add_argument("--fps", type=int, default=30)
    demo.add_argument("--no-window", action="store_true", help="never open a window")
    demo.add_argument("--progress", action="store_true", help="print live fps")

    appsrc = _command(
        sub,
        "appsrc",
        cmd_appsrc,
        help="push generated frames into a pipeline's appsrc (size from its caps)",
        description="Push generated frames into the appsrc of PIPELINE; the frame size, "
        "format and rate come from the appsrc's caps. Live fps goes to stderr.",
    )
    appsrc.add_argument(
        "-p",
        "--pipeline",
        required=True,
        help="e.g. 'appsrc caps=video/x-raw,format=RGB,width=640,height=480,"
        "framerate=30/1 ! videoconvert ! x264enc ! mp4mux ! filesink location=out.mp4'",
    )
    appsrc.add_argument(
        "-n", "--num-buffers", type=_positive(int), default=100, help="frames (100)"
    )
    _quiet_and_timeout(appsrc, "no live fps", 10.0, "EOS wait")

    appsink = _command(
        sub,
        "appsink",
        cmd_appsink,
        help="print the shape and pts of each frame a pipeline produces, or save them",
        description="Read frames from PIPELINE (a pipeline ending in appsink, the start of "
        "one, or a file) and print each frame's shape and pts, or save them as .npy.",
    )
    appsink.add_argument(
        "-p", "--pipeline", required=True, help="e.g. 'videotestsrc num-buffers=10'"
    )
    appsink.add_argument("-n", "--num-buffers", type=_positive(int), help="stop after N frames")
    appsink.add_argument("--save", metavar="DIR", help="save frames as DIR/frame_000000.npy ...")
    appsink.add_argument("--format", default="RGB", help="raw format to convert to (RGB)")
    _quiet_and_timeout(appsink, "do not print each frame", 10.0, "wait per frame")

    launch = _command(
        sub,
        "launch",
        cmd_launch,
        help="run a pipeline to end of stream (like gst-launch-1.0 -e)",
        description="Run PIPELINE until end of stream, with a progress bar when the duration "
        "is known and live fps otherwise (on stderr). Ctrl-C sends end-of-stream first, so "
        "files are finalised. Exit code 0 on EOS, 1 on error, 130 after Ctrl-C.",
    )
    launch.add_argument("pipeline", nargs=argparse.REMAINDER, help="the pipeline description")
    launch.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    launch.add_argument(
        "--eos-timeout",
        type=_positive(float),
        default=10.0,
        help="after Ctrl-C, how long to wait for end of stream (10 s)",
    )

    serve = _command(
        sub,
        "serve",
        cmd_serve,
        help="serve generated frames (or --from a file/pipeline) over rtsp, tcp, http, udp or hls",
        description="Serve frames until Ctrl-C, --duration or --num-buffers. rtsp: H.264 at "
        "rtsp://HOST:PORT/stream; tcp: H.264 in MPEG-TS; http: MJPEG page at "
        "http://HOST:PORT/; udp: RTP to HOST:PORT; hls: an HLS stream written into --dir and "
        "served at http://HOST:PORT/playlist.m3u8 (--serve-only: serve --dir as it is). "
        "Binds to 127.0.0.1 unless --host is given. "
        "The first line on stdout is the URL.",
    )
    serve.add_argument("kind", choices=_SERVE_KINDS, help="protocol")
    serve.add_argument(
        "--port",
        type=int,
        help="port (rtsp 8554, tcp 5000, http 8080, udp 5004; 0 picks a free one)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (udp: destination) (127.0.0.1)"
    )
    serve.add_argument(
        "--from",
        dest="source",
        metavar="PIPELINE_OR_FILE",
        help="frames from a file, URI or pipeline start instead of a generated pattern",
    )
    serve.add_argument(
        "--loop", action="store_true", help="--from: start again at the end (until stopped)"
    )
    serve.add_argument("--width", type=_positive(int), help="frame width (640, or the source's)")
    serve.add_argument("--height", type=_positive(int), help="frame height (480, or the source's)")
    serve.add_argument(
        "--fps", type=_positive(float), help="frame rate (30, or the --from source's own)"
    )
    serve.add_argument("--duration", type=_positive(float), help="stop after SECONDS")
    serve.add_argument("-n", "--num-buffers", type=_positive(int), help="stop after N frames")
    serve.add_argument("--mount", default="/stream", help="rtsp: mount point (/stream)")
    serve.add_argument("--user", help="rtsp: require this user name")
    serve.add_argument("--password", help="rtsp: and this password")
    serve.add_argument("--bitrate", type=_positive(int), help="rtsp/tcp: H.264 kbit/s")
    serve.add_argument("--container", choices=("mpegts", "matroska"), default="mpegts")
    serve.add_argument("--codec", choices=("h264", "jpeg"), default="h264", help="udp payload")
    serve.add_argument("--quality", type=int, default=85, help="http: JPEG quality (85)")
    _quiet_and_timeout(serve, "no live fps", 10.0, "--from: wait per frame")
    serve.add_argument("--dir", help="hls: the folder to write and serve (a temporary one)")
    serve.add_argument(
        "--segment", type=_positive(float), default=2.0, help="hls: seconds per segment (2)"
    )
    serve.add_argument(
        "--window", type=int, default=5, help="hls: segments in the live playlist (5; 0 = all)"
    )
    serve.add_argument("--serve-only", action="store_true", help="hls: only serve what --dir holds")
    serve.add_argument(
        "--fast", action="store_true", help="hls: write as fast as possible, not in real time"
    )

    convert = _command(
        sub,
        "convert",
        cmd_convert,
        help="re-encode a video file: resize, change the frame rate, cut (with a progress bar)",
        description="Decode IN and encode it to OUT; the extension of OUT picks the codec and "
        "container (.mp4/.mkv/.mov/.avi/.ts: H.264; .webm: VP8). Video only: audio is not "
        "copied. A progress bar goes to stderr, a summary line to stdout.",
    )
    convert.add_argument("input", metavar="IN", help="a video file, a URI or a pipeline start")
    convert.add_argument("output", metavar="OUT", help="the file to write")
    convert.add_argument("--size", type=_size, metavar="WxH", help="scale to WIDTHxHEIGHT")
    convert.add_argument("--fps", type=_positive(float), help="change the frame rate")
    convert.add_argument(
        "--encoder",
        default="auto",
        help="'auto' (hardware if it works, else software) or a gst-launch fragment, "
        "e.g. 'x264enc speed-preset=slow' or 'avenc_ffv1'",
    )
    convert.add_argument("--start", type=_seconds, help="start at SECONDS (or [HH:]MM:SS)")
    convert.add_argument("--end", type=_seconds, help="stop at SECONDS (or [HH:]MM:SS)")
    _quiet_and_timeout(convert, "no progress bar", 30.0, "wait per frame")

    _command(
        sub,
        "doctor",
        cmd_doctor,
        help="check the installation: versions, elements, and packages to install",
        description="Print GStreamer and PyGObject versions, which key elements are "
        "installed and the Debian package for each missing one. Exit 0 when the core works.",
    )

    probe = _command(
        sub,
        "probe",
        cmd_probe,
        help="streams, codecs, duration and frame count of a file or URI (decodes nothing)",
    )
    probe.add_argument("source", help="a media file or a URI")
    probe.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    from .errors import GstError

    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"gstreamer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (GstError, ValueError) as exc:
        print(f"gstreamer {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `gstreamer doctor | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def run_main(main: Callable[[], Optional[int]]) -> NoReturn:
    """Run ``main`` as a script's entry point: ``if __name__ == "__main__": run_main(main)``.

    The process exits with what ``main`` returns (an exit code; None is 0). Ctrl-C exits
    with code 130 and a one-line note on stderr instead of a traceback; the ``with`` blocks
    inside ``main`` have finalised their files by then. The example scripts end this way.
    """
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("stopped (Ctrl-C)", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
