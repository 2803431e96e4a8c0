"""``GstPipeline``: a parsed gst-launch pipeline with an explicit lifecycle.

Bus messages are seen synchronously (``Gst.Bus.set_sync_handler``), so errors and EOS are
recorded the moment an element posts them, whether or not a GLib main loop runs. An error
is kept on the object and raised where the caller waits (:meth:`GstPipeline.wait`) or shuts
down (:meth:`GstPipeline.shutdown`). With a running :class:`~gstreamer.GstContext`, the
``on_error``/``on_eos``/``on_warning`` hooks are also called from the main loop, as in the
seed library.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from types import TracebackType
from typing import Any, Callable, Optional

from . import _gi
from .context import main_loop_running
from .errors import (
    LifecycleError,
    MissingElementError,
    ParseError,
    PipelineError,
    StateChangeError,
    TimeoutError,
    from_gerror,
    package_for,
)

__all__ = ["GstPipeline", "iterate", "parse_launch", "quote"]


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
    """Find the first ``!``-separated part that makes the description fail to parse."""
    Gst = _gi.Gst()
    spans = _split_links(description)
    for idx, (a, b) in enumerate(spans):
        part = description[a:b].strip()
        if not part:
            return (a, b)
        try:
            Gst.parse_launch(part)
        except Exception as exc:
            if getattr(exc, "code", None) == int(Gst.ParseError.SYNTAX) or "syntax" in str(exc):
                return (a, b)
        del idx
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
        missing = list(ctx.get_missing_elements() or [])
        if exc.code == int(Gst.ParseError.NO_SUCH_ELEMENT) or missing:
            if not missing:
                m = re.search(r'no element "([^"]+)"', exc.message)
                missing = [m.group(1)] if m else []
            packages = [p for p in (package_for(e) for e in missing) if p]
            names = ", ".join(missing) or "?"
            msg = f"no such element: {names}"
            if not packages:
                msg += " (is the plugin installed? try: gst-inspect-1.0 " + names + ")"
            raise MissingElementError(msg, elements=missing, packages=packages) from exc
        message = f"cannot parse pipeline: {exc.message}"
        if exc.code == int(Gst.ParseError.SYNTAX) or exc.code == int(Gst.ParseError.EMPTY):
            where = _locate_syntax_error(description)
            if where is not None:
                a, b = where
                message += (
                    f" near character {a}: {description[a:b].strip()!r}\n    {description}\n"
                    + "    "
                    + " " * a
                    + "^" * max(1, b - a)
                )
        raise ParseError(
            message, domain=str(exc.domain), code=exc.code, debug=description
        ) from exc


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


class GstPipeline:
    """A pipeline from a gst-launch description.

    Parameters
    ----------
    command : str
        The description, as for ``gst-launch-1.0`` (without the command name).

    Lifecycle: :meth:`startup` parses, runs :meth:`_on_pipeline_init` (override or assign
    it to configure elements), and sets PLAYING; :meth:`shutdown` sends EOS and waits for it
    (so muxers finalise their files), then sets NULL. Both are idempotent; it is a context
    manager. After shutdown, :meth:`startup` builds a fresh pipeline.
    """

    def __init__(self, command: str) -> None:
        self._command = command
        self._pipeline: Any = None
        self._bus: Any = None
        self._watch_ids: list[int] = []
        self._error: Optional[PipelineError] = None
        self._error_raised = False
        self._warnings: list[str] = []
        self._eos = threading.Event()
        self._end_stream_event = threading.Event()
        self._lock = threading.RLock()
        self._message_callbacks: list[Callable[[Any], None]] = []
        self.log = logging.getLogger(f"gstreamer.{type(self).__name__}")

    # -- seed API ------------------------------------------------------------------------

    def __str__(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._command!r}>"

    def __enter__(self) -> GstPipeline:
        self.startup()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.shutdown(raise_errors=exc is None)

    @property
    def command(self) -> str:
        return self._command

    @property
    def pipeline(self) -> Any:
        """The ``Gst.Pipeline`` (None before startup and after shutdown)."""
        return self._pipeline

    @property
    def bus(self) -> Any:
        return self._bus

    @property
    def is_active(self) -> bool:
        return self._pipeline is not None and not self.is_done

    @property
    def is_done(self) -> bool:
        """True once EOS reached the sinks, an error happened, or shutdown began."""
        return self._end_stream_event.is_set()

    @property
    def error(self) -> Optional[PipelineError]:
        """The first error the pipeline reported, if any."""
        return self._error

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings)

    def get_by_cls(self, cls: Any) -> list[Any]:
        """All elements (recursively) that are instances of ``cls``."""
        self._require_pipeline()
        return [e for e in iterate(self._pipeline.iterate_recurse()) if isinstance(e, cls)]

    def get_by_name(self, name: str) -> Any:
        """The element called ``name`` (``name=...`` in the description), or None."""
        self._require_pipeline()
        return self._pipeline.get_by_name(name)

    def _on_pipeline_init(self) -> None:
        """Called after parsing and before PLAYING; override to configure elements."""

    def startup(self) -> None:
        """Parse the description and set the pipeline PLAYING.

        Raises
        ------
        ParseError, MissingElementError
            The description is wrong or names a missing element.
        StateChangeError
            An element refused to start; the message carries its error.
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
            self._set_state(Gst.State.READY)
            self._set_state(Gst.State.PLAYING)
        except BaseException:
            self._teardown()
            raise

    def _reset_state(self) -> None:
        self._error = None
        self._error_raised = False
        self._warnings = []
        self._eos.clear()
        self._end_stream_event.clear()

    def _set_state(self, state: Any) -> None:
        Gst = _gi.Gst()
        ret = self._pipeline.set_state(state)
        if ret == Gst.StateChangeReturn.FAILURE:
            # the element usually posted an error explaining why; it is on self._error
            error = self._error
            name = Gst.Element.state_get_name(state)
            if error is not None:
                self._error_raised = True
                raise StateChangeError(
                    f"could not set pipeline to {name}: {error.message}",
                    element=error.element,
                    debug=error.debug,
                    domain=error.domain,
                    code=error.code,
                    hint=error.hint,
                ) from error
            raise StateChangeError(f"could not set pipeline to {name}")

    # -- bus -----------------------------------------------------------------------------

    def _on_sync_message(self, bus: Any, message: Any, *user_data: Any) -> Any:
        """Runs in the thread that posted the message: record facts, never block."""
        Gst = _gi.Gst()
        mtype = message.type
        if mtype & Gst.MessageType.ERROR:
            gerror, debug = message.parse_error()
            src = message.src.get_name() if message.src is not None else None
            err = from_gerror(gerror, debug, src)
            with self._lock:
                if self._error is None:
                    self._error = err
            self._end_stream_event.set()
            self._eos.set()
        elif mtype & Gst.MessageType.EOS:
            if message.src is self._pipeline or message.src is None:
                self._eos.set()
                self._end_stream_event.set()
        elif mtype & Gst.MessageType.WARNING:
            warn, debug = message.parse_warning()
            self._warnings.append(f"{warn.message} ({debug})")
        for callback in self._message_callbacks:
            callback(message)
        return Gst.BusSyncReply.PASS

    def _dispatch(self, bus: Any, message: Any, name: str) -> None:
        try:
            getattr(self, name)(bus, message)
        except Exception as exc:  # keep it for the caller, never swallow
            with self._lock:
                if self._error is None:
                    self._error = PipelineError(f"exception in {name}: {exc!r}")
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
        with self._lock:
            error = self._error
            if error is None or self._error_raised:
                return
            self._error_raised = True
        raise error

    def wait(self, timeout: Optional[float] = None) -> None:
        """Block until EOS or an error; raise the error, or TimeoutError."""
        if not self._end_stream_event.wait(timeout):
            raise TimeoutError(f"{self} did not reach end of stream within {timeout} s")
        self.raise_for_error()

    def send_eos(self) -> None:
        """Ask every source to finish: appsrc gets ``end-of-stream`` (after queued buffers),
        other sources an EOS event."""
        Gst = _gi.Gst()
        GstApp = _gi.GstApp()
        pipeline = self._pipeline
        if pipeline is None:
            return
        sources = iterate(pipeline.iterate_sources())
        if not sources:
            pipeline.send_event(Gst.Event.new_eos())
            return
        for element in sources:
            if isinstance(element, GstApp.AppSrc):
                element.emit("end-of-stream")
            elif isinstance(element, Gst.Bin):
                element.send_event(Gst.Event.new_eos())
            else:
                element.send_event(Gst.Event.new_eos())

    def _require_pipeline(self) -> None:
        if self._pipeline is None:
            raise LifecycleError(f"{self} is not started (call startup() first)")

    # -- shutdown ------------------------------------------------------------------------

    def shutdown(
        self, timeout: float = 10.0, eos: bool = True, *, raise_errors: bool = True
    ) -> None:
        """Stop the pipeline; idempotent.

        Parameters
        ----------
        timeout : float
            Seconds to wait for EOS to reach the sinks, and again for the NULL state.
        eos : bool
            Send EOS (if it was not sent already) and wait for it, so muxers such as
            ``mp4mux`` write a complete file. With False, stop at once.
        raise_errors : bool
            Raise the pipeline's error (or :class:`TimeoutError` when EOS did not arrive).
        """
        Gst = _gi.Gst()
        timed_out = False
        with self._lock:
            pipeline = self._pipeline
            if pipeline is None:
                if raise_errors:
                    self.raise_for_error()
                return
            if eos and not self._eos.is_set() and self._error is None:
                _, state, pending = pipeline.get_state(0)
                if Gst.State.PLAYING in (state, pending) or Gst.State.PAUSED in (state, pending):
                    self.send_eos()
                    deadline = time.monotonic() + timeout
                    while not self._eos.wait(0.05):
                        if time.monotonic() > deadline:
                            timed_out = True
                            break
            self._end_stream_event.set()
            self._teardown(timeout)
        if raise_errors:
            self.raise_for_error()
            if timed_out:
                raise TimeoutError(
                    f"{self}: end of stream did not reach the sinks within {timeout} s; "
                    "files written by this pipeline may be incomplete"
                )

    def _shutdown_pipeline(self, timeout: float = 10.0, eos: bool = True) -> None:
        """Seed-compatible alias of :meth:`shutdown` that never raises."""
        self.shutdown(timeout=timeout, eos=eos, raise_errors=False)

    def _teardown(self, timeout: float = 10.0) -> None:
        Gst = _gi.Gst()
        with self._lock:
            pipeline, bus = self._pipeline, self._bus
            self._pipeline = None
            self._end_stream_event.set()
            if pipeline is None:
                return
            pipeline.set_state(Gst.State.NULL)
            pipeline.get_state(int(timeout * Gst.SECOND))
            if bus is not None:
                for hid in self._watch_ids:
                    bus.disconnect(hid)
                if self._watch_ids:
                    bus.remove_signal_watch()
                self._watch_ids = []
                bus.set_sync_handler(None)
                self._bus = None


def quote(value: object) -> str:
    """Quote a value for a gst-launch description so it stays one property value.

    File names, hosts and mount points from users go through this, so a value such as
    ``"a.mp4 ! fakesink"`` cannot add elements to the pipeline.
    """
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
