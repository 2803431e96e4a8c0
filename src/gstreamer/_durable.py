"""Files that survive a power cut: ``fsync`` a ``filesink``'s file at every fragment.

A crash-safe MP4/MOV (see :mod:`gstreamer.writer`) is readable after ``kill -9`` because the
operating system keeps what the process wrote. After a power cut only what reached the
disk counts, and the kernel writes dirty pages back when it likes (tens of seconds later).
:class:`DiskSync` closes that gap: a probe on the ``filesink``'s sink pad calls
``fsync(2)`` each time the muxer finishes a fragment (it seeks back to patch a header, a
``segment`` event) and at end-of-stream, so the file on disk is at most about one fragment
behind the file the process wrote. The first time a file is synced, its folder is synced
too (the file's name is part of the folder).

The ``fsync`` runs in the streaming thread, once per fragment (every half second of media
by default), not once per frame: its cost does not grow with the frame rate
(``benchmarks/bench_write.py --durable`` measures it). An ``fsync`` that fails (``EIO``,
``ENOSPC``) is posted as an error of the sink, so the writer raises it at its next call.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any, Optional

from . import _gi
from .pipeline import post_error

__all__ = ["DiskSync"]

log = logging.getLogger("gstreamer.writer")


class DiskSync:
    """``fsync`` the file of one ``filesink`` at every fragment and at end-of-stream.

    The sink may change its ``location`` between files (``splitmuxsink``): each new file
    is opened (read-only, only to sync it) when its first event arrives, and the previous
    one is synced and closed.

    Attributes
    ----------
    syncs : int
        ``fsync`` calls that succeeded.
    """

    def __init__(self) -> None:
        self.syncs = 0
        self._lock = threading.Lock()
        self._fd: Optional[int] = None
        self._path: Optional[str] = None
        self._closer: Optional[weakref.finalize[Any, Any]] = None  # the fd, if dropped open

    def attach(self, sink: Any) -> None:
        """Watch ``sink`` (a ``filesink``): sync its file on each ``segment`` and EOS."""
        Gst = _gi.Gst()
        pad = sink.get_static_pad("sink")
        pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, self._probe, sink)

    def _probe(self, pad: Any, info: Any, sink: Any) -> Any:
        """Streaming thread: ``segment`` (a fragment was finished, the muxer seeks) or EOS."""
        Gst = _gi.Gst()
        event = info.get_event()
        if event is not None and event.type in (Gst.EventType.SEGMENT, Gst.EventType.EOS):
            try:
                self.sync(sink.get_property("location"), last=event.type == Gst.EventType.EOS)
            except OSError as exc:
                self._post_error(sink, exc)
        return Gst.PadProbeReturn.OK

    def sync(self, path: Optional[str], last: bool = False) -> None:
        """``fsync`` ``path`` (opening it, and syncing its folder, the first time).

        Parameters
        ----------
        path : str or None
            The file the sink writes; None (no location yet) does nothing.
        last : bool
            The file is finished: close it after the sync.

        Raises
        ------
        OSError
            ``open`` or ``fsync`` failed.
        """
        if not path:
            return
        with self._lock:
            if path != self._path:
                self._close_locked()
                if not os.path.exists(path):  # the sink has not opened it yet
                    return
                self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                self._path = path
                self._closer = weakref.finalize(self, os.close, self._fd)
                _sync_folder(path)
            assert self._fd is not None
            os.fsync(self._fd)
            self.syncs += 1
            if last:
                self._close_locked()

    def close(self) -> None:
        """Sync and close the open file, if any; idempotent."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        fd, self._fd, self._path = self._fd, None, None
        if fd is None:
            return
        if self._closer is not None:
            self._closer.detach()
            self._closer = None
        try:
            os.fsync(fd)
            self.syncs += 1
        except OSError:
            log.warning("fsync of a finished file failed", exc_info=True)
        finally:
            os.close(fd)

    @staticmethod
    def _post_error(sink: Any, exc: OSError) -> None:
        Gst = _gi.Gst()
        post_error(
            sink,
            Gst.resource_error_quark(),
            Gst.ResourceError.SYNC,
            f"could not sync {sink.get_property('location')!r} to the disk: {exc}",
            "fsync failed (durable=True)",
        )


def _sync_folder(path: str) -> None:
    """``fsync`` the folder holding ``path`` so that the new file's name is on the disk."""
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
