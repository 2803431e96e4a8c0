"""A GLib main loop in a background thread (the seed's ``GstContext``)."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any, Callable, Optional

from . import _gi
from .errors import GstError, TimeoutError

__all__ = ["GstContext", "main_loop_running"]

log = logging.getLogger("gstreamer")

_running: set[GstContext] = set()
_running_lock = threading.Lock()


def main_loop_running() -> bool:
    """True while some :class:`GstContext` runs the default GLib main loop."""
    with _running_lock:
        return bool(_running)


class GstContext:
    """Runs ``GLib.MainLoop`` on the default main context in a daemon thread.

    Needed for things that dispatch through the main loop: bus signal watches (the
    ``on_error``/``on_eos``/``on_warning`` hooks of :class:`~gstreamer.GstPipeline`), the RTSP
    server and GLib timeouts. Pipelines themselves work without it.

    It is a context manager; :meth:`startup` after :meth:`shutdown` starts a new loop.
    An exception escaping the loop, or raised by a callback given to :meth:`call`, is kept
    and raised by :meth:`shutdown`.
    """

    def __init__(self) -> None:
        self._loop: Any = None
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self._lock = threading.Lock()
        self.log = logging.getLogger("gstreamer.GstContext")

    def __repr__(self) -> str:
        return f"<GstContext running={self.is_running}>"

    def __enter__(self) -> GstContext:
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
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def startup(self) -> None:
        """Start the loop thread (no-op if it is already running)."""
        with self._lock:
            if self.is_running:
                return
            GLib = _gi.GLib()
            _gi.ensure_init()
            self._error = None
            self._loop = GLib.MainLoop.new(None, False)
            started = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._loop, started), name="GstContext", daemon=True
            )
            self._thread.start()
            started.wait(5)
            with _running_lock:
                _running.add(self)

    def _run(self, loop: Any, started: threading.Event) -> None:
        GLib = _gi.GLib()
        GLib.idle_add(lambda: started.set() and False)
        try:
            loop.run()
        except BaseException as exc:  # kept, re-raised by shutdown()
            self._error = exc
        finally:
            started.set()

    def call(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` once in the loop thread; an exception is kept for shutdown()."""
        GLib = _gi.GLib()

        def _once() -> bool:
            try:
                func(*args)
            except BaseException as exc:
                if self._error is None:
                    self._error = exc
                log.debug("callback %r raised %r", func, exc)
            return False

        GLib.idle_add(_once)

    def shutdown(self, timeout: float = 2.0, *, raise_errors: bool = True) -> None:
        """Quit the loop and join its thread (at most ``timeout`` seconds).

        Raises the exception the loop thread kept, if any, or :class:`TimeoutError` when the
        thread did not stop in time.
        """
        with self._lock:
            loop, thread = self._loop, self._thread
            with _running_lock:
                _running.discard(self)
            if loop is not None:
                loop.quit()
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    if raise_errors:
                        raise TimeoutError(f"GLib main loop did not stop within {timeout} s")
                    return
            self._loop = None
            self._thread = None
            error, self._error = self._error, None
        if error is not None and raise_errors:
            if isinstance(error, GstError):
                raise error
            raise GstError(f"exception in the GLib main loop thread: {error!r}") from error
