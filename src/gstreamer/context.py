"""A GLib main loop in a background thread (the seed's ``GstContext``)."""

from __future__ import annotations

import logging
import os
import sys
import threading
from types import TracebackType
from typing import Any, Callable, Optional

from . import _gi
from ._lifecycle import StartStop
from .errors import GstError, TimeoutError

__all__ = ["GstContext", "main_loop_running"]

log = logging.getLogger("gstreamer.GstContext")

_running: set[GstContext] = set()
_running_lock = threading.Lock()

# Loop thread ident -> its context. PyGObject reports an exception raised by a callback
# that runs in the loop (idle/timeout sources, signal handlers) through sys.excepthook and
# then carries on; while a context runs, our hook keeps such exceptions on the context.
_loop_threads: dict[int, GstContext] = {}
_previous_excepthook: Optional[Callable[..., Any]] = None
_hook_users = 0  # loop threads started and not yet finished (guarded by _running_lock)


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: Optional[TracebackType]
) -> None:
    context = _loop_threads.get(threading.get_ident())
    if context is not None:
        context._keep(exc)
        return
    hook = _previous_excepthook or sys.__excepthook__
    hook(exc_type, exc, tb)


def _install_hook() -> None:
    global _previous_excepthook, _hook_users
    _hook_users += 1
    if sys.excepthook is not _excepthook:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook


def _uninstall_hook() -> None:
    global _previous_excepthook, _hook_users
    _hook_users -= 1
    if _hook_users <= 0 and sys.excepthook is _excepthook:
        sys.excepthook = _previous_excepthook or sys.__excepthook__
        _previous_excepthook = None


def _forget_loops_after_fork() -> None:
    """In a forked child: the parent's loop threads do not exist here, so no loop runs.

    Without this, pipelines made in the child (a ``DataLoader`` worker) would add bus
    watches for a main loop that nobody iterates.
    """
    global _running_lock, _hook_users, _previous_excepthook
    _running_lock = threading.Lock()  # the parent may have held it while forking
    _running.clear()
    _loop_threads.clear()
    _hook_users = 0
    if sys.excepthook is _excepthook:
        sys.excepthook = _previous_excepthook or sys.__excepthook__
    _previous_excepthook = None


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_forget_loops_after_fork)


def main_loop_running() -> bool:
    """True while some :class:`GstContext` runs the default GLib main loop."""
    with _running_lock:
        return bool(_running)


class GstContext(StartStop):
    """Runs ``GLib.MainLoop`` on the default main context in a daemon thread.

    Needed for things that dispatch through the main loop: bus signal watches (the
    ``on_error``/``on_eos``/``on_warning`` hooks of :class:`~gstreamer.GstPipeline`), the RTSP
    server and GLib timeouts. Pipelines themselves work without it.

    It is a context manager; :meth:`startup` after :meth:`shutdown` starts a new loop.
    An exception raised in the loop thread (by a GLib callback, a signal handler or a
    function given to :meth:`call`) is kept, and raised by :meth:`raise_for_error` and
    :meth:`shutdown` in the caller's thread; it is never printed and dropped.

    Parameters
    ----------
    isolated : bool
        Run the loop on a new GLib main context of its own (:attr:`main_context`) instead
        of the default one. Only sources attached to that context run in it, and it does
        not count for :func:`main_loop_running`: an object that needs a loop for itself
        (the RTSP server) uses one, so that stopping it never stops a loop that other
        objects rely on.
    """

    def __init__(self, *, isolated: bool = False) -> None:
        self.isolated = isolated
        self._main_context: Any = None
        self._loop: Any = None
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self._lock = threading.Lock()
        self.log = log

    def __repr__(self) -> str:
        return f"<GstContext running={self.is_running}>"

    @property
    def is_running(self) -> bool:
        """True while the loop thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def main_context(self) -> Any:
        """The ``GLib.MainContext`` the loop runs (a new one while an isolated loop runs,
        else the default one)."""
        if self._main_context is not None:
            return self._main_context
        return _gi.GLib().MainContext.default()

    @property
    def error(self) -> Optional[BaseException]:
        """The first exception raised in the loop thread and not yet raised, if any."""
        return self._error

    def _keep(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        log.debug("exception in the GLib main loop thread: %r", exc)

    def startup(self) -> None:
        """Start the loop thread (no-op if it is already running)."""
        with self._lock:
            if self.is_running:
                return
            GLib = _gi.GLib()
            _gi.ensure_init()
            self._error = None
            self._main_context = GLib.MainContext.new() if self.isolated else None
            self._loop = GLib.MainLoop.new(self._main_context, False)
            started = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._loop, started), name="GstContext", daemon=True
            )
            with _running_lock:
                _install_hook()
            self._thread.start()
            if not started.wait(10):  # pragma: no cover - a stuck default main context
                raise TimeoutError("the GLib main loop did not start within 10 s")
            if not self.isolated:
                with _running_lock:
                    _running.add(self)

    def _run(self, loop: Any, started: threading.Event) -> None:
        ident = threading.get_ident()
        with _running_lock:
            _loop_threads[ident] = self

        def _started() -> bool:
            started.set()
            return False

        context = loop.get_context()
        isolated = self.isolated
        if isolated:
            context.push_thread_default()
        self._idle(_started, context)
        try:
            loop.run()
        except BaseException as exc:  # kept, re-raised by shutdown()
            self._keep(exc)
        finally:
            if isolated:
                context.pop_thread_default()
            started.set()
            with _running_lock:
                _loop_threads.pop(ident, None)
                _uninstall_hook()

    def call(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` once in the loop thread; an exception is kept for the caller."""

        def _once() -> bool:
            try:
                func(*args)
            except BaseException as exc:
                self._keep(exc)
            return False

        self._idle(_once, self.main_context)

    @staticmethod
    def _idle(func: Callable[[], bool], context: Any) -> None:
        """Run ``func`` once in the loop of ``context``."""
        source = _gi.GLib().idle_source_new()
        source.set_callback(lambda *_: func())
        source.attach(context)

    def raise_for_error(self) -> None:
        """Raise (once) the exception kept from the loop thread; no-op if there is none.

        Raises
        ------
        GstError
            The kept exception if it is one, else a :class:`GstError` caused by it.
        """
        error, self._error = self._error, None
        if error is None:
            return
        if isinstance(error, GstError):
            raise error
        raise GstError(f"exception in the GLib main loop thread: {error!r}") from error

    def shutdown(self, timeout: float = 2.0, *, raise_errors: bool = True) -> None:
        """Quit the loop and join its thread, waiting at most ``timeout`` seconds; idempotent.

        Raises
        ------
        GstError
            An exception was raised in the loop thread (see :meth:`raise_for_error`).
        TimeoutError
            The thread did not stop in time (a callback is still running); calling
            :meth:`shutdown` again later joins it.
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
                        raise TimeoutError(
                            f"GLib main loop did not stop within {timeout} s "
                            "(a callback in the loop thread is still running)"
                        )
                    return
            self._loop = None
            self._thread = None
            self._main_context = None
        if raise_errors:
            self.raise_for_error()
