"""``GstPipeline``: a parsed gst-launch pipeline with an explicit lifecycle.

Bus messages are seen synchronously (``Gst.Bus.set_sync_handler``), so errors and EOS are
recorded the moment an element posts them, whether or not a GLib main loop runs. An error
is kept on the object and raised where the caller waits (:meth:`GstPipeline.wait`) or shuts
down (:meth:`GstPipeline.shutdown`). With a running :class:`~gstreamer.GstContext`, the
``on_error``/``on_eos``/``on_warning`` hooks are also called from the main loop, as in the
seed library.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import threading
import time
from typing import Any, Callable, Optional

from . import _gi
from ._lifecycle import ErrorSlot, StartStop
from .context import main_loop_running
from .errors import (
    ELEMENT_PACKAGES,
    CapsError,
    GstError,
    LifecycleError,
    MissingElementError,
    NegotiationError,
    NoDisplayError,
    ParseError,
    PipelineError,
    StateChangeError,
    TimeoutError,
    facts,
    from_gerror,
    package_for,
)

__all__ = [
    "DISPLAY_SINKS",
    "GstPipeline",
    "check_display",
    "display_available",
    "iterate",
    "parse_launch",
    "quote",
    "suggest_element",
]

# Sinks that open a window. Without a display they fail, or crash the process
# (autovideosink on GStreamer 1.22 segfaults), so startup refuses them first.
DISPLAY_SINKS = frozenset(
    [
        "autovideosink",
        "fpsdisplaysink",
        "glimagesink",
        "gtkglsink",
        "gtksink",
        "waylandsink",
        "ximagesink",
        "xvimagesink",
    ]
)


def display_available() -> bool:
    """Whether a display is configured (``DISPLAY`` or ``WAYLAND_DISPLAY`` is set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def check_display(pipeline: Any) -> None:
    """Raise :class:`~gstreamer.NoDisplayError` when ``pipeline`` (a ``Gst.Bin``) holds a
    sink that opens a window and no display is configured.

    An X sink given its own ``display=`` property is left alone.
    """
    if display_available():
        return
    # Python wrappers made now are kept: load GstApp first, so an appsink is a GstApp.AppSink
    _gi.GstApp()
    needs: list[str] = []
    for element in iterate(pipeline.iterate_recurse()):
        factory = element.get_factory()
        name = factory.get_name() if factory is not None else ""
        if name not in DISPLAY_SINKS:
            continue
        if element.find_property("display") is not None and element.get_property("display"):
            continue
        if name == "fpsdisplaysink":  # needs a display only through its video-sink
            inner = element.get_property("video-sink")
            inner_factory = inner.get_factory() if inner is not None else None
            if inner_factory is not None and inner_factory.get_name() not in DISPLAY_SINKS:
                continue
        if name not in needs:
            needs.append(name)
    if needs:
        raise NoDisplayError(needs)


def _split_links(description: str) -> list[tuple[int, int]]:
    """(start, end) spans of the ``!``-separated parts, ignoring ``!`` inside quotes."""
    spans, start, quote = [], 0, ""
    for i, ch in enumerate(description):
        if quote:
            if ch == quote and description[i - 1] != "\\":
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "!":
            spans.append((start, i))
            start = i + 1
    spans.append((start, len(description)))
    return spans


def _locate_syntax_error(description: str) -> Optional[tuple[int, int]]:
    """Span of the first ``!``-separated part that makes the description fail to parse."""
    Gst = _gi.Gst()
    GLib = _gi.GLib()
    syntax = (int(Gst.ParseError.SYNTAX), int(Gst.ParseError.EMPTY))
    for a, b in _split_links(description):
        part = description[a:b]
        if not part.strip():
            return (a, b)
        try:
            Gst.parse_launch(part)
        except GLib.Error as exc:
            if exc.code in syntax and "reference" not in exc.message:
                return (a, b)
    return None


def parse_launch(description: str) -> Any:
    """``Gst.parse_launch`` with typed errors.

    Raises
    ------
    MissingElementError
        An element is not installed; the message names the Debian package when known.
    ParseError
        Any other parse failure; for syntax errors the message points at the offending part.
    """
    Gst = _gi.Gst()
    ctx = Gst.ParseContext.new()
    try:
        return Gst.parse_launch_full(description, ctx, Gst.ParseFlags.FATAL_ERRORS)
    except Exception as exc:
        GLib = _gi.GLib()
        if not isinstance(exc, GLib.Error):
            raise
        if exc.code == int(Gst.ParseError.NO_SUCH_ELEMENT):
            missing = list(ctx.get_missing_elements() or [])
            if not missing:
                m = re.search(r'no element "([^"]+)"', exc.message)
                missing = [m.group(1)] if m else []
            raise _missing_element_error(missing) from exc
        message = f"cannot parse pipeline: {exc.message}"
        hint = None
        if exc.code in (int(Gst.ParseError.SYNTAX), int(Gst.ParseError.EMPTY)):
            where = _locate_syntax_error(description)
            if where is not None:
                a, b = where
                what = description[a:b].strip() or "(nothing between '!')"
                message += (
                    f" near character {a}: {what}\n    {description}\n"
                    + "    "
                    + " " * a
                    + "^" * max(1, b - a)
                )
            else:
                message += f"\n    {description}"
            hint = "elements are separated by '!'; quote property values that contain spaces"
        elif exc.code == int(Gst.ParseError.COULD_NOT_SET_PROPERTY):
            m = re.search(r'in element "([^"]+)"', exc.message)
            name = m.group(1) if m else "<element>"
            hint = f"see the properties and their types with: gst-inspect-1.0 {name}"
        elif exc.code == int(Gst.ParseError.NO_SUCH_PROPERTY):
            hint = "see the element's properties with gst-inspect-1.0 <element>"
        elif exc.code == int(Gst.ParseError.LINK):
            hint = (
                "the caps between these elements cannot match; check caps strings and add "
                "videoconvert / audioconvert where formats differ"
            )
        raise ParseError(message, domain=str(exc.domain), code=exc.code, hint=hint) from exc


def _element_names() -> list[str]:
    """Every installed element factory name, plus the ones we know a package for."""
    Gst = _gi.Gst()
    names = {f.get_name() for f in Gst.Registry.get().get_feature_list(Gst.ElementFactory)}
    return sorted(names | set(ELEMENT_PACKAGES))


def suggest_element(name: str) -> Optional[str]:
    """The element name closest to a misspelt ``name`` (``"x264encc"`` -> ``"x264enc"``)."""
    if name in ELEMENT_PACKAGES:
        return None  # a real element, just not installed
    close = difflib.get_close_matches(name, _element_names(), n=1, cutoff=0.75)
    return close[0] if close else None


def _missing_element_error(missing: list[str]) -> MissingElementError:
    """``no element 'x264encc'; did you mean 'x264enc'? (gstreamer1.0-plugins-ugly)``."""
    Gst = _gi.Gst()
    parts: list[str] = []
    packages: list[str] = []
    for name in missing or ["?"]:
        guess = suggest_element(name)
        if guess is not None:
            text = f"no element {name!r}; did you mean {guess!r}?"
            package = package_for(guess)
            installed = Gst.ElementFactory.find(guess) is not None
            if package:
                text += f" ({guess} is in {package}{'' if installed else ', not installed'})"
            if package and not installed:
                packages.append(package)
        else:
            text = f"no element {name!r}"
            package = package_for(name)
            if package:
                text += f": it is in {package}, which is not installed"
                packages.append(package)
            else:
                text += f" (is its plugin installed? try: gst-inspect-1.0 {name})"
        parts.append(text)
    return MissingElementError("; ".join(parts), elements=missing, packages=packages)


def iterate(iterator: Any) -> list[Any]:
    """A Python list from a ``Gst.Iterator`` (works without gst-python's overrides)."""
    Gst = _gi.Gst()
    items: list[Any] = []
    while True:
        result, value = iterator.next()
        if result == Gst.IteratorResult.OK:
            items.append(value)
        elif result == Gst.IteratorResult.RESYNC:
            iterator.resync()
            items.clear()
        else:
            return items


class GstPipeline(StartStop):
    """A pipeline from a gst-launch description.

    Parameters
    ----------
    command : str
        The description, as for ``gst-launch-1.0`` (without the command name).
    on_init : callable, optional
        ``on_init(pipeline)`` runs after parsing and before PLAYING, to configure elements
        (``pipeline.get_by_name(...)``). An exception it raises fails :meth:`startup`.

    Notes
    -----
    :meth:`startup` parses, runs ``on_init`` (through :meth:`_on_pipeline_init`, which
    subclasses written for the seed library may still override), and sets PLAYING; if any
    step fails the pipeline is set back to NULL and released, so :meth:`startup` can be
    called again. :meth:`shutdown` sends EOS and waits for it (so muxers finalise their
    files), then sets NULL. Errors posted by elements
    are kept and raised by :meth:`wait`, :meth:`raise_for_error` and :meth:`shutdown`.
    :meth:`shutdown` is idempotent; after it, :meth:`startup` builds a fresh pipeline.
    It is a context manager.
    """

    def __init__(
        self, command: str, *, on_init: Optional[Callable[[GstPipeline], None]] = None
    ) -> None:
        self._command = command
        self._on_init = on_init
        self._pipeline: Any = None
        self._bus: Any = None
        self._wake_on_error: list[Any] = []
        self._watch_ids: list[int] = []
        self._errors = ErrorSlot(f"{type(self).__name__}'s bus handler")
        self._warnings: list[str] = []
        self._eos = threading.Event()
        self._end_stream_event = threading.Event()
        # _lock serialises startup/shutdown; _state_lock guards the facts recorded by the
        # bus handler and is never held while calling into GStreamer.
        self._lock = threading.RLock()
        self._state_lock = threading.Lock()
        self._message_callbacks: list[Callable[[Any], None]] = []
        self.log = logging.getLogger(f"gstreamer.{type(self).__name__}")

    # -- seed API ------------------------------------------------------------------------

    def __str__(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._command!r}>"

    @property
    def command(self) -> str:
        """The gst-launch description."""
        return self._command

    @property
    def pipeline(self) -> Any:
        """The ``Gst.Pipeline`` (None before startup and after shutdown)."""
        return self._pipeline

    @property
    def bus(self) -> Any:
        """The pipeline's ``Gst.Bus`` (None before startup and after shutdown)."""
        return self._bus

    @property
    def is_active(self) -> bool:
        """True between startup and the end of the stream (EOS, error or shutdown)."""
        return self._pipeline is not None and not self.is_done

    @property
    def is_done(self) -> bool:
        """True once EOS reached the sinks, an error happened, or shutdown began."""
        return self._end_stream_event.is_set()

    @property
    def error(self) -> Optional[PipelineError]:
        """The first error the pipeline reported, if any."""
        error = self._errors.error
        assert error is None or isinstance(error, PipelineError)
        return error

    @property
    def warnings(self) -> list[str]:
        """Warning messages posted by elements, in order."""
        with self._state_lock:
            return list(self._warnings)

    def get_by_cls(self, cls: Any) -> list[Any]:
        """All elements (recursively, in GStreamer's iteration order) that are ``cls``."""
        self._require_pipeline()
        return [e for e in iterate(self._pipeline.iterate_recurse()) if isinstance(e, cls)]

    def get_by_name(self, name: str) -> Any:
        """The element called ``name`` (``name=...`` in the description), or None."""
        self._require_pipeline()
        return self._pipeline.get_by_name(name)

    def add_message_callback(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(message)`` for every ``Gst.Message`` posted on the bus.

        It runs in the thread that posted the message (a streaming thread), after the
        pipeline has recorded errors, warnings and end-of-stream: it must be quick and must
        not block or change the pipeline's state. An exception it raises is kept and raised
        like a pipeline error (by :meth:`wait`, :meth:`raise_for_error`, :meth:`shutdown`).
        Callbacks stay registered across :meth:`shutdown` and :meth:`startup`; add them
        before :meth:`startup` (``on_init`` is a good place) to see every message.
        """
        with self._state_lock:  # copy on write: the bus thread iterates the old list
            self._message_callbacks = [*self._message_callbacks, callback]

    def _on_pipeline_init(self) -> None:
        """Called after parsing and before PLAYING: runs ``on_init``.

        The seed library's extension point; subclasses may override it (new code passes
        ``on_init=`` instead).
        """
        if self._on_init is not None:
            self._on_init(self)

    def startup(self) -> None:
        """Parse the description, call :meth:`_on_pipeline_init` and set PLAYING.

        Raises
        ------
        ParseError, MissingElementError
            The description is wrong or names a missing element.
        StateChangeError
            An element refused to start; the message carries its error.
        LifecycleError
            The pipeline is already started.
        KeyboardInterrupt
            Ctrl-C, at once even while an element holds the start up (a source waiting for
            a host); the pipeline is then released in the background.

        Whatever fails, the pipeline is left in NULL and released.
        """
        Gst = _gi.Gst()
        with self._lock:
            if self._pipeline is not None:
                raise LifecycleError(f"Can't start {self}: already started")
            pipeline = parse_launch(self._command)
            if not isinstance(pipeline, Gst.Pipeline):
                wrapper = Gst.Pipeline.new(None)
                wrapper.add(pipeline)
                pipeline = wrapper
            check_display(pipeline)
            self._reset_state()
            self._pipeline = pipeline
            self._bus = pipeline.get_bus()
            self._bus.set_sync_handler(self._on_sync_message)
            if main_loop_running():
                self._bus.add_signal_watch()
                self._watch_ids = [
                    self._bus.connect("message::error", self._dispatch, "on_error"),
                    self._bus.connect("message::eos", self._dispatch, "on_eos"),
                    self._bus.connect("message::warning", self._dispatch, "on_warning"),
                ]
            try:
                self._on_pipeline_init()
                elements = iterate(pipeline.iterate_recurse())
                for element in elements:
                    _time_format_for_raw(element)
                self._wake_on_error = [e for e in elements if _has_end_of_stream_signal(e)]
                self._set_state(Gst.State.READY)
                self._set_state(Gst.State.PLAYING)
            except KeyboardInterrupt:
                # the state change may still be blocked in an element: stop in the background
                _release_in_background(self._detach())
                raise
            except BaseException:
                self._teardown()
                raise
            self.log.debug("%s started: %s", self, self._command)

    def _reset_state(self) -> None:
        self._errors.clear()
        with self._state_lock:
            self._warnings = []
        self._eos.clear()
        self._end_stream_event.clear()

    def _set_state(self, state: Any) -> None:
        Gst = _gi.Gst()
        ret = _interruptible(self._pipeline.set_state, state)
        if ret == Gst.StateChangeReturn.FAILURE:
            # the element usually posted an error explaining why; it is in self._errors
            name = Gst.Element.state_get_name(state)
            error = self.error
            self._errors.mark_raised()
            if error is not None:
                raise StateChangeError(
                    f"could not set pipeline to {name}: {error.message}",
                    **facts(error),
                    hint=error.hint,
                ) from error
            raise StateChangeError(
                f"could not set pipeline to {name}",
                hint="run with GST_DEBUG=3 to see which element refused",
            )

    # -- bus -----------------------------------------------------------------------------

    def _keep_error(self, error: PipelineError) -> None:
        self._errors.keep(error)

    def _on_sync_message(self, bus: Any, message: Any, *user_data: Any) -> Any:
        """Runs in the thread that posted the message: record facts, never block."""
        Gst = _gi.Gst()
        try:
            mtype = message.type
            if mtype == Gst.MessageType.ERROR:
                self._on_error_message(message)
            elif mtype == Gst.MessageType.EOS:
                if message.src is self._pipeline or message.src is None:
                    self._eos.set()
                    self._end_stream_event.set()
            elif mtype == Gst.MessageType.WARNING:
                warn, debug = message.parse_warning()
                with self._state_lock:
                    self._warnings.append(f"{warn.message} ({debug})")
            for callback in self._message_callbacks:
                callback(message)
        except Exception as exc:  # PyGObject would print and drop it: keep it instead
            self._keep_error(PipelineError(f"exception in the bus handler: {exc!r}"))
            self._end_stream_event.set()
        return Gst.BusSyncReply.PASS

    def _on_error_message(self, message: Any) -> None:
        gerror, debug = message.parse_error()
        src = message.src
        name = src.get_name() if src is not None else None
        err = from_gerror(gerror, debug, name)
        if isinstance(err, NegotiationError) and src is not None:
            caps = _element_caps(src)
            if caps:
                err.hint = f"{err.hint}. {name} offered: {caps}"
                if caps.startswith("video/") and "framerate" not in caps:
                    err.hint += (
                        "; these caps have no framerate, which encoders and muxers need "
                        "(add e.g. framerate=30/1)"
                    )
        self._keep_error(err)
        self._end_stream_event.set()
        self._eos.set()
        # A pipeline with an error never drains: wake up anyone blocked pushing into a
        # source (their push returns EOS and the caller raises this error).
        for source in self._wake_on_error:
            source.emit("end-of-stream")

    def _dispatch(self, bus: Any, message: Any, name: str) -> None:
        """Calls a hook from the main loop; an exception is kept for the caller."""
        try:
            getattr(self, name)(bus, message)
        except Exception as exc:
            error = PipelineError(f"exception in {type(self).__name__}.{name}: {exc!r}")
            error.__cause__ = exc
            self._keep_error(error)
            self._end_stream_event.set()
            self.log.debug("%s.%s raised %r", self, name, exc)

    def on_error(self, bus: Any, message: Any) -> None:
        """Called from the main loop on an error message (needs a running GstContext)."""
        err, debug = message.parse_error()
        self.log.error("%s: error %s: %s", self, err.message, debug)

    def on_eos(self, bus: Any, message: Any) -> None:
        """Called from the main loop when EOS reached every sink (needs a GstContext)."""
        self.log.debug("%s: end of stream", self)

    def on_warning(self, bus: Any, message: Any) -> None:
        """Called from the main loop on a warning message (needs a GstContext)."""
        warn, debug = message.parse_warning()
        self.log.warning("%s: %s %s", self, warn.message, debug)

    # -- waiting and errors --------------------------------------------------------------

    def raise_for_error(self) -> None:
        """Raise the error the pipeline reported, once; no-op if there is none."""
        self._errors.raise_once()

    def wait(self, timeout: Optional[float] = None) -> None:
        """Block until EOS or an error; raise the error, or TimeoutError."""
        if not self._end_stream_event.wait(timeout):
            raise TimeoutError(f"{self} did not reach end of stream within {timeout} s")
        self.raise_for_error()

    def send_eos(self) -> None:
        """Ask every source to finish: appsrc gets ``end-of-stream`` (after queued buffers),
        other sources an EOS event.

        This can block while a source's streaming thread is blocked; :meth:`shutdown` calls
        it from a helper thread and never hangs.
        """
        Gst = _gi.Gst()
        pipeline = self._pipeline
        if pipeline is None:
            return
        sources = iterate(pipeline.iterate_sources())
        if not sources:
            pipeline.send_event(Gst.Event.new_eos())
            return
        for element in sources:
            if _has_end_of_stream_signal(element):
                element.emit("end-of-stream")
            else:
                element.send_event(Gst.Event.new_eos())

    @staticmethod
    def _flush_sinks(pipeline: Any) -> None:
        """Send flush-start into every sink (non-serialized: safe from any thread)."""
        Gst = _gi.Gst()
        for sink in iterate(pipeline.iterate_sinks()):
            for pad in iterate(sink.iterate_sink_pads()):
                pad.send_event(Gst.Event.new_flush_start())

    def _send_eos_quietly(self) -> None:
        try:
            self.send_eos()
        except Exception as exc:  # kept for the caller of shutdown()
            error = PipelineError(f"sending EOS failed: {exc!r}")
            error.__cause__ = exc
            self._keep_error(error)

    def _require_pipeline(self) -> None:
        if self._pipeline is None:
            raise LifecycleError(f"{self} is not started (call startup() first)")

    # -- shutdown ------------------------------------------------------------------------

    def shutdown(
        self, timeout: float = 10.0, eos: bool = True, *, raise_errors: bool = True
    ) -> None:
        """Stop the pipeline and release it; idempotent.

        Parameters
        ----------
        timeout : float
            Seconds for the whole shutdown: EOS reaching the sinks, then the pipeline
            stopping. A pipeline stuck inside an element is left to stop in a background
            thread after ``timeout`` (at least 0.5 s for the stop), and TimeoutError is raised.
        eos : bool
            Send EOS (unless the stream already ended) and wait for it, so muxers such as
            ``mp4mux`` write a complete file. With False, stop at once.
        raise_errors : bool
            Raise the pipeline's error (or :class:`TimeoutError` when EOS did not arrive).

        Raises
        ------
        PipelineError
            The error the pipeline reported, if it was not raised before.
        TimeoutError
            EOS did not reach the sinks within ``timeout`` (the pipeline is stopped anyway),
            or the pipeline did not stop in time.
        """
        timed_out = stuck = False
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            pipeline = self._pipeline
            if pipeline is not None:
                timed_out = self._drain(pipeline, eos, deadline)
                parts = self._detach()
                # NULL joins the streaming threads; one stuck inside an element (a blocking
                # chain function, a dead device) would hold the caller for as long as it
                # likes, so the state change runs in a helper thread and the caller waits
                # until the deadline (at least _STOP_GRACE seconds)
                stopper = _release_in_background(parts)
                stopper.join(max(deadline - time.monotonic(), _STOP_GRACE))
                stuck = stopper.is_alive()
                if stuck:
                    self.log.warning(
                        "%s: an element did not stop within %s s; it is left to stop in the "
                        "background",
                        self,
                        timeout,
                    )
                self.log.debug("%s stopped", self)
        if raise_errors:
            self.raise_for_error()
            if stuck:
                raise TimeoutError(
                    f"{self}: the pipeline did not stop within {timeout} s (an element is "
                    "stuck in its streaming thread); it keeps stopping in the background and "
                    "files written by it may be incomplete"
                )
            if timed_out:
                raise TimeoutError(
                    f"{self}: end of stream did not reach the sinks within {timeout} s; "
                    "files written by this pipeline may be incomplete"
                )

    def _drain(self, pipeline: Any, eos: bool, deadline: float) -> bool:
        """Send EOS and wait for it until ``deadline``; True when it did not arrive."""
        Gst = _gi.Gst()
        if not eos or self._eos.is_set() or self._errors.error is not None:
            return False
        _, state, pending = pipeline.get_state(0)
        if not {state, pending} & {Gst.State.PLAYING, Gst.State.PAUSED}:
            return False
        self.log.debug("%s: sending EOS", self)
        # Sending EOS to a source can block (a basesrc whose streaming thread is stuck
        # downstream holds its live lock), so it is sent from a helper thread; setting NULL
        # afterwards releases it in any case.
        sender = threading.Thread(
            target=self._send_eos_quietly, name="GstPipeline-eos", daemon=True
        )
        sender.start()
        timed_out = not self._end_stream_event.wait(max(0.0, deadline - time.monotonic()))
        sender.join(0.1)
        if sender.is_alive():
            # still blocked (e.g. appsink holds EOS until its samples are pulled): flush
            # the sinks so the streaming threads let go
            self._flush_sinks(pipeline)
            sender.join(max(0.0, deadline - time.monotonic()))
        return timed_out

    def _shutdown_pipeline(self, timeout: float = 10.0, eos: bool = True) -> None:
        """Seed-compatible alias of :meth:`shutdown` that never raises."""
        self.shutdown(timeout=timeout, eos=eos, raise_errors=False)

    def _teardown(self) -> None:
        """Set NULL and drop every reference to the Gst.Pipeline and its bus."""
        with self._lock:
            parts = self._detach()
        _release(*parts)

    def _detach(self) -> tuple[Any, Any, list[int]]:
        """Forget the Gst.Pipeline, its bus and watches (returned, to be released)."""
        with self._lock:
            parts = (self._pipeline, self._bus, self._watch_ids)
            self._end_stream_event.set()
            self._wake_on_error = []
            self._pipeline = None
            self._bus = None
            self._watch_ids = []
        return parts


def _interruptible(call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)``; in the main thread, run in a helper thread and waited for.

    A state change runs in C for as long as its elements take: a source connecting to a host
    that does not answer, or opening a FIFO nobody writes to, blocks it for minutes. Python
    handles Ctrl-C only between its own instructions, so in the main thread it was held back
    all that time, and GStreamer runs the bus handler in the thread that changes the state,
    where a KeyboardInterrupt cannot pass through C (PyGObject prints it and drops it). The
    wait here raises KeyboardInterrupt at once; the call itself finishes in the background.
    """
    if threading.current_thread() is not threading.main_thread():
        return call(*args)
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, call(*args)))
        except BaseException as exc:  # raised again in the caller
            outcome.append((False, exc))

    helper = threading.Thread(target=run, name="GstPipeline-state", daemon=True)
    helper.start()
    while helper.is_alive():  # in slices: the signal may be delivered to another thread
        helper.join(0.05)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


# Seconds shutdown() waits for NULL even when its deadline has passed (a healthy pipeline
# stops in milliseconds).
_STOP_GRACE = 0.5


def _release(pipeline: Any, bus: Any, watch_ids: list[int]) -> None:
    """Set ``pipeline`` to NULL (joins its streaming threads) and clean its bus up."""
    if pipeline is None:
        return
    Gst = _gi.Gst()
    pipeline.set_state(Gst.State.NULL)  # synchronous: streaming threads are joined
    if bus is not None:
        for hid in watch_ids:
            bus.disconnect(hid)
        if watch_ids:
            bus.remove_signal_watch()
        bus.set_sync_handler(None)
        bus.set_flushing(True)  # drop queued messages (they hold element refs)


def _release_in_background(parts: tuple[Any, Any, list[int]]) -> threading.Thread:
    """:func:`_release` in a started daemon thread (the caller may wait for it, or not)."""
    stopper = threading.Thread(target=_release, args=parts, name="GstPipeline-stop", daemon=True)
    stopper.start()
    return stopper


def _time_format_for_raw(element: Any) -> None:
    """Give a source with raw audio/video ``caps`` and the BYTES ``format`` the TIME format.

    Application sources default to BYTES. The format must be chosen before the pipeline
    starts; the tutorial's script sets it after ``startup()``, which left a BYTES segment
    and broke timestamps (an MP4 at 3000 fps). Timed raw frames are what such a source
    carries, so TIME is the default.
    """
    Gst = _gi.Gst()
    if element.find_property("format") is None or element.find_property("caps") is None:
        return
    caps = element.get_property("caps")
    if not isinstance(caps, Gst.Caps) or caps.get_size() == 0:
        return
    if element.get_property("format") != Gst.Format.BYTES:
        return
    if caps.get_structure(0).get_name() in ("video/x-raw", "audio/x-raw"):
        element.set_property("format", Gst.Format.TIME)


def _has_end_of_stream_signal(element: Any) -> bool:
    """Whether ``element`` is a source the application pushes into (``end-of-stream``)."""
    GObject = _gi.module("GObject")
    return bool(GObject.signal_lookup("end-of-stream", element.__gtype__))


def _element_caps(element: Any) -> Optional[str]:
    """The caps an element was configured with (``caps`` property), as a string."""
    try:
        if element.find_property("caps") is None:
            return None
        caps = element.get_property("caps")
    except Exception:  # not every element exposes readable caps
        return None
    return caps.to_string() if caps is not None else None


def shutdown_quietly(pipeline: GstPipeline) -> None:
    """Finaliser of a reader dropped without ``close()``: stop the streaming threads (no
    end-of-stream); a failure is only logged, as nobody is there to raise it to."""
    try:
        pipeline.shutdown(timeout=5.0, eos=False, raise_errors=False)
    except GstError:  # pragma: no cover - best effort at garbage collection
        pipeline.log.debug("shutdown of an abandoned pipeline failed", exc_info=True)


def post_error(element: Any, domain: Any, code: Any, message: str, debug: str) -> None:
    """Post an error from ``element`` on its bus, as GStreamer's own elements do: the
    pipeline then fails as for any element error. ``domain`` is a GError quark
    (``Gst.stream_error_quark()``), ``code`` one of its codes (``Gst.StreamError.*``)."""
    error = _gi.GLib().Error.new_literal(domain, message, int(code))
    element.post_message(_gi.Gst().Message.new_error(element, error, debug))


def only_element(pipeline: GstPipeline, cls: Any, what: str, owner: str) -> Any:
    """The one element of class ``cls`` (``what``: its name in messages) in ``pipeline``.

    Raises
    ------
    CapsError
        There is none, or several (``owner`` needs exactly one).
    """
    found = pipeline.get_by_cls(cls)
    if len(found) != 1:
        raise CapsError(
            f"{owner} needs exactly one {what} in its pipeline, found {len(found)}: "
            f"{pipeline.command!r}"
        )
    return found[0]


def quote(value: object) -> str:
    """Quote a value for a gst-launch description so it stays one property value.

    File names, hosts and mount points from users go through this, so a value such as
    ``"a.mp4 ! fakesink"`` cannot add elements to the pipeline.
    """
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
