"""SIGTERM handled like SIGINT while a writer is open.

Services are stopped with SIGTERM (systemd, ``docker stop``, Kubernetes). Its default action
kills the process at once, so a writer open at that moment never sends end-of-stream and an
MP4 is left without its index. While at least one writer holds this guard (:func:`hold`),
SIGTERM is handled in the main thread like Ctrl-C: :class:`KeyboardInterrupt` is raised, so
``with`` blocks close their writers and the files are complete.

A handler the user installed before is called instead (chained): it decides. An ignored
SIGTERM stays ignored. The handler is installed and restored from the main thread only (a
Python rule); when the last writer closes elsewhere, the next SIGTERM restores the previous
handler and delivers the signal to it. Opt out with ``Writer(..., handle_sigterm=False)``
or ``gstreamer.writer.HANDLE_SIGTERM = False``.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any, Callable, Optional

__all__ = ["hold", "holders"]

_lock = threading.Lock()
_holders = 0
_previous: Any = None
_installed = False


def holders() -> int:
    """How many open writers hold the SIGTERM guard."""
    return _holders


def _on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
    previous = _previous
    if _holders == 0:  # the last writer closed outside the main thread: give it back
        _restore()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            os.kill(os.getpid(), signum)
        return
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        raise KeyboardInterrupt("SIGTERM")


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install() -> None:
    global _installed, _previous
    if _installed or not _in_main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current is None:  # installed from C: leave it alone
        return
    _previous = current
    signal.signal(signal.SIGTERM, _on_sigterm)
    _installed = True


def _restore() -> None:
    global _installed, _previous
    if not _installed or not _in_main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:  # not replaced since
        signal.signal(signal.SIGTERM, _previous)
    _installed = False
    _previous = None


def hold() -> Callable[[], None]:
    """Handle SIGTERM like SIGINT until the returned ``release()`` is called (idempotent)."""
    global _holders
    with _lock:
        _holders += 1
        _install()
    released = False

    def release() -> None:
        nonlocal released
        global _holders
        with _lock:
            if released:
                return
            released = True
            _holders -= 1
            if _holders == 0:
                _restore()

    return release
