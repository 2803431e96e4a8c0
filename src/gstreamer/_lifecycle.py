"""One lifecycle vocabulary for readers, writers and servers.

* :class:`State`: ``NEW`` (built, not started), ``OPEN`` (running), ``CLOSED`` (closed, or
  failed to start). Nothing goes back to ``NEW``.
* :class:`ErrorSlot`: the first error seen on a GStreamer or helper thread, kept until the
  caller's thread raises it (once).
"""

from __future__ import annotations

import enum
import logging
import threading
import weakref
from types import TracebackType
from typing import Any, Callable, Generic, Optional, TypeVar

from .errors import ClosedError, GstError, PipelineError

__all__ = ["ErrorSlot", "Lifecycle", "Readable", "StartStop", "State", "Stateful", "weak_method"]

log = logging.getLogger("gstreamer")


class State(enum.Enum):
    """Where an object is in its life."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"

    def __str__(self) -> str:
        return self.value


class Stateful:
    """``state`` and ``closed``, read from ``self._state``."""

    _state: State

    @property
    def state(self) -> State:
        """:class:`~gstreamer.State`: NEW (not started), OPEN or CLOSED."""
        return self._state

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (or a start failed)."""
        return self._state is State.CLOSED

    def _require_not_closed(self) -> None:
        """ClosedError once closed."""
        if self._state is State.CLOSED:
            raise ClosedError(f"{type(self).__name__} is closed")


_Self = TypeVar("_Self", bound="Lifecycle")
_Started = TypeVar("_Started", bound="StartStop")


class StartStop:
    """``with`` for the seed's objects, which have ``startup()`` and ``shutdown()``.

    Entering starts. Leaving shuts down in every case (a pipeline still sends end-of-stream
    when the body raised, KeyboardInterrupt included, so files are finalised), but raises
    the object's own error only when the body did not: the body's exception wins.
    """

    def startup(self) -> None:
        """Start (the subclass's own)."""
        raise NotImplementedError

    def shutdown(self, *, raise_errors: bool = True) -> None:
        """Stop; idempotent (the subclass's own)."""
        raise NotImplementedError

    def __enter__(self: _Started) -> _Started:
        self.startup()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown(raise_errors=exc_info[1] is None)


class Lifecycle(Stateful):
    """``with`` for objects that have a ``close()``.

    Leaving a ``with`` block closes. When the block raised, the close still runs (files are
    finalised) but its own error is only logged: the block's exception is the one that
    propagates.
    """

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
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
        try:
            self.close()
        except GstError as close_error:
            log.warning("%s: closing after %r failed: %s", type(self).__name__, exc, close_error)


_Item = TypeVar("_Item")
_Reading = TypeVar("_Reading", bound="Readable[Any]")


class Readable(Generic[_Item]):
    """Iteration over :meth:`read` until it returns None (the end of the stream)."""

    def read(self) -> Optional[_Item]:
        """The next item, or None at the end (the subclass's own)."""
        raise NotImplementedError

    def __iter__(self: _Reading) -> _Reading:
        return self

    def __next__(self) -> _Item:
        item = self.read()
        if item is None:
            raise StopIteration
        return item


class ErrorSlot:
    """Keeps the first error; :meth:`raise_once` raises it in the caller, once.

    Threads that cannot raise (bus handlers, HTTP or encoder threads, GLib callbacks)
    :meth:`keep` what went wrong; the caller's next call raises it. Exceptions that are not
    a :class:`~gstreamer.GstError` are wrapped in a :class:`~gstreamer.PipelineError` whose
    ``__cause__`` is the original, so that every error a caller sees is in one tree.
    """

    def __init__(self, what: str = "a background thread") -> None:
        self._what = what
        self._lock = threading.Lock()
        self._error: Optional[GstError] = None
        self._raised = False

    def keep(self, exc: BaseException) -> None:
        """Keep ``exc`` unless an earlier error is already kept."""
        if not isinstance(exc, GstError):
            wrapped = PipelineError(f"{self._what} failed: {exc!r}")
            wrapped.__cause__ = exc
            exc = wrapped
        with self._lock:
            if self._error is None:
                self._error = exc
                self._raised = False

    @property
    def error(self) -> Optional[GstError]:
        """The kept error, raised or not."""
        return self._error

    @property
    def pending(self) -> bool:
        """True while a kept error has not been raised yet."""
        return self._error is not None and not self._raised

    def raise_once(self) -> None:
        """Raise the kept error if it was not raised before; else do nothing."""
        with self._lock:
            error = self._error
            if error is None or self._raised:
                return
            self._raised = True
        raise error

    def mark_raised(self) -> None:
        """Count the kept error as raised (it reached the caller another way)."""
        with self._lock:
            self._raised = True

    def clear(self) -> None:
        """Forget the error (a pipeline that starts again starts clean)."""
        with self._lock:
            self._error = None
            self._raised = False


def weak_method(method: Callable[..., Any]) -> Callable[..., Any]:
    """A callable that calls the bound ``method`` while its object lives (else does nothing).

    Handed to GStreamer or to a pipeline, it does not keep the object alive, so an
    abandoned reader or writer can be collected.
    """
    ref = weakref.WeakMethod(method)  # type: ignore[arg-type]

    def call(*args: Any) -> Any:
        bound = ref()
        return None if bound is None else bound(*args)

    return call
