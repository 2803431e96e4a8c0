"""The only place that touches ``gi.require_version`` and ``Gst.init``.

Everything is lazy: importing :mod:`gstreamer` does not load GStreamer. The first
call that needs it runs :func:`ensure_init`, which is idempotent and thread-safe.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from types import ModuleType
from typing import Any

_VERSIONS = {
    "Gst": "1.0",
    "GstApp": "1.0",
    "GstVideo": "1.0",
    "GstAudio": "1.0",
    "GstBase": "1.0",
    "GstPbutils": "1.0",
    "GstRtspServer": "1.0",
    "GLib": "2.0",
    "GObject": "2.0",
}

_lock = threading.RLock()
_modules: dict[str, ModuleType] = {}


def module(name: str) -> Any:
    """Return the ``gi.repository`` module ``name``, with GStreamer initialised.

    Raises
    ------
    gstreamer.errors.GstNotAvailableError
        When PyGObject or the GObject-introspection data for ``name`` is missing.
    """
    mod = _modules.get(name)
    if mod is not None:
        return mod
    with _lock:
        mod = _modules.get(name)
        if mod is not None:
            return mod
        if name not in ("GLib", "GObject"):
            _unwinder_first()
        from .errors import GstNotAvailableError

        try:
            import gi
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise GstNotAvailableError(
                "PyGObject is not installed: pip install 'PyGObject>=3.42,<3.51' "
                "(needs libgirepository1.0-dev, libcairo2-dev and pkg-config to build)"
            ) from exc
        version = _VERSIONS.get(name)
        try:
            if version is not None:
                gi.require_version(name, version)
            mod = __import__("gi.repository", fromlist=[name]).__dict__[name]
        except (ValueError, ImportError, KeyError) as exc:
            pkg = _GIR_PACKAGES.get(name, "the gir1.2 package for " + name)
            raise GstNotAvailableError(
                f"GObject introspection data for {name} {version or ''} is missing: "
                f"apt-get install {pkg}"
            ) from exc
        if name != "GLib" and name != "GObject":
            _init_gst()
        _modules[name] = mod
        return mod


_unwinder_loaded = False


def _unwinder_first() -> None:
    """Put GCC's unwinder (``libgcc_s``) in the process's global symbols before GStreamer.

    Debian's ``libgstreamer-1.0`` links ``libunwind``, whose ``_Unwind_*`` functions then
    take the place of GCC's for every library loaded later. A C++ exception thrown inside a
    plugin's library (``libsrt`` throws one when an ``srtsrc`` waiting for data is stopped)
    is then unwound by the wrong unwinder, and the process dies with a segmentation fault
    (measured: a Reader of ``srt://`` whose server went away). With ``libgcc_s`` loaded
    first (``RTLD_GLOBAL``) the symbols resolve to GCC's unwinder, as ``LD_PRELOAD`` would
    do. It is too late when GStreamer was loaded before :mod:`gstreamer` first used it.
    """
    global _unwinder_loaded
    if _unwinder_loaded:
        return
    _unwinder_loaded = True
    import ctypes

    # not there (musl, macOS): nothing to do
    with contextlib.suppress(OSError):
        ctypes.CDLL("libgcc_s.so.1", mode=os.RTLD_GLOBAL)


_GIR_PACKAGES = {
    "Gst": "gir1.2-gstreamer-1.0",
    "GstBase": "gir1.2-gstreamer-1.0",
    "GstApp": "gir1.2-gst-plugins-base-1.0",
    "GstVideo": "gir1.2-gst-plugins-base-1.0",
    "GstAudio": "gir1.2-gst-plugins-base-1.0",
    "GstPbutils": "gir1.2-gst-plugins-base-1.0",
    "GstRtspServer": "gir1.2-gst-rtsp-server-1.0",
}

_initialised = False

# PyGObject makes the Python class of a GStreamer enum or flags type the first time it
# converts one of its values. When that first conversion is a C call's result (the
# ``FlowReturn`` of the first ``appsrc.emit("push-buffer", ...)``) and a Ctrl-C came during
# the call, the KeyboardInterrupt lands in the class's making and comes out as
# ``SystemError ... RuntimeError: can't create const`` (reproduced with a push that blocks
# while SIGINT arrives). So the types that calls return are made once, at initialisation.
_RETURNED_TYPES = (
    "BufferFlags",
    "BusSyncReply",
    "ClockReturn",
    "EventType",
    "FlowReturn",
    "Format",
    "MessageType",
    "PadDirection",
    "PadLinkReturn",
    "PadProbeReturn",
    "PadProbeType",
    "QueryType",
    "SeekFlags",
    "State",
    "StateChangeReturn",
    "StreamStatusType",
)


def _init_gst() -> None:
    global _initialised
    if _initialised:
        return
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    if not Gst.is_initialized():
        Gst.init(None)
    # PyGObject gives an object of a type whose typelib is not loaded yet a bare class and
    # keeps it: an appsink met before GstApp was imported never gets try_pull_sample. Load
    # the typelibs of the elements the library drives before any element exists.
    for name in ("GstApp",):
        with contextlib.suppress(ValueError, ImportError):
            gi.require_version(name, _VERSIONS[name])
            __import__("gi.repository", fromlist=[name])
    for name in _RETURNED_TYPES:
        getattr(Gst, name)
    _prepare_for_fork()
    _initialised = True


# -- fork ------------------------------------------------------------------------------------
#
# GLib's thread pools, where GStreamer's streaming threads come from, keep a finished thread
# waiting half a second for new work (then, by default, among the process-wide unused
# threads). A forked child (a torch DataLoader worker) inherits the pools' books but not their
# threads: work handed to a thread that "waits" is never done, and the child's first pipeline
# hangs. Therefore, once GStreamer is initialised, unused threads are not kept process-wide,
# and before a fork we wait (at most a second) for the waiting threads of finished pipelines
# to end: GLib names pool threads "pool-...", GstTask renames them "<element>:<pad>".
# Pipelines still running at the fork keep their threads (the wait then lasts the whole
# second); they belong to the parent and the child must not touch them (see
# gstreamer._clips.FileCache).

_FORK_WAIT = 1.0


def _prepare_for_fork() -> None:
    if not hasattr(os, "register_at_fork"):  # pragma: no cover - not POSIX
        return
    from gi.repository import GLib

    GLib.ThreadPool.set_max_unused_threads(0)
    os.register_at_fork(before=_before_fork)


def _pool_threads() -> int:
    """Threads of this process that GLib's pools or GStreamer's tasks may hold."""
    count = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        count += name.startswith("pool-") or ":" in name
    return count


def _before_fork() -> None:
    with contextlib.suppress(Exception):
        module("GLib").ThreadPool.stop_unused_threads()
        deadline = time.monotonic() + _FORK_WAIT
        while _pool_threads() and time.monotonic() < deadline:
            time.sleep(0.01)


def ensure_init() -> Any:
    """Initialise GStreamer once and return the ``Gst`` module."""
    return module("Gst")


# The namespaces the library calls into, each ``module(name)``: ``_gi.Gst().Buffer``.
Gst = functools.partial(module, "Gst")
GstApp = functools.partial(module, "GstApp")
GstVideo = functools.partial(module, "GstVideo")
GstAudio = functools.partial(module, "GstAudio")
GLib = functools.partial(module, "GLib")
