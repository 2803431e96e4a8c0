"""What the torch and Ray modules share: frame numbers at a rate, and per-process VideoFiles.

Frames are read through :class:`~gstreamer.VideoFile` (random access on the frame index of
:mod:`gstreamer.index`). A VideoFile belongs to the process that opened it: :class:`FileCache`
keeps one per file and per process, and after a fork the child leaves the parent's alone
(their streaming threads do not exist in the child: stopping them would hang) and opens its own.
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any, Optional, Union

import numpy as np

from . import _gi
from ._time import fps_fraction
from .index import FrameIndex
from .videofile import VideoFile

__all__ = ["FileCache", "frame_rate", "resampled"]

FrameRate = Union[int, float, Fraction, str, None]


def frame_rate(index: FrameIndex) -> Optional[Fraction]:
    """The stream's frame rate from its caps, else the average over its frames."""
    Gst = _gi.Gst()
    caps = Gst.Caps.from_string(index.caps) if index.caps else None
    if caps is not None and caps.get_size():
        ok, num, den = caps.get_structure(0).get_fraction("framerate")
        if ok and num > 0 and den > 0:
            return Fraction(num, den)
    n = len(index)
    span = int(index.end_ns - index.time_ns[0]) if n else 0
    return Fraction(n * 1_000_000_000, span).limit_denominator(1001000) if span > 0 else None


def resampled(index: FrameIndex, fps: FrameRate) -> np.ndarray:
    """Source frame numbers at ``fps`` (all of them when ``fps`` is None).

    As torchvision's ``VideoClips``: frame ``k`` at the new rate is source frame
    ``floor(k * source_fps / fps)``.
    """
    n = len(index)
    target = fps_fraction(fps)
    source = frame_rate(index)
    if target is None or source is None:
        return np.arange(n, dtype=np.int64)
    total = int(n * target / source)
    return np.array([int(k * source / target) for k in range(total)], dtype=np.int64)


def end_times(index: FrameIndex) -> np.ndarray:
    """float64 seconds at which each frame ends (the next frame's time; the stream's end)."""
    times = index.time_ns
    ends = np.empty(len(times), dtype=np.int64)
    ends[:-1] = times[1:]
    if len(times):
        ends[-1] = index.end_ns
    return ends / 1e9


_orphans: list[Any] = []  # VideoFiles inherited through fork: never stopped, never collected


class FileCache:
    """One :class:`~gstreamer.VideoFile` per file, per process (see the module documentation)."""

    def __init__(self, size: Optional[tuple[int, int]], format: str) -> None:
        self.size = size
        self.format = format
        self._pid = os.getpid()
        self._files: dict[str, VideoFile] = {}

    def get(self, path: str) -> VideoFile:
        if os.getpid() != self._pid:
            self._forget_inherited()
        video = self._files.get(path)
        if video is None:
            width, height = self.size if self.size is not None else (None, None)
            video = VideoFile(path, self.format, width, height)
            self._files[path] = video
        return video

    def _forget_inherited(self) -> None:
        for video in self._files.values():
            finalizer = getattr(video, "_finalizer", None)
            if finalizer is not None:
                finalizer.detach()
            _orphans.append(video)
        self._files = {}
        self._pid = os.getpid()

    def close(self) -> None:
        """Close this process's files (they open again when needed)."""
        if os.getpid() != self._pid:
            self._forget_inherited()
            return
        for video in self._files.values():
            video.close()
        self._files = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"size": self.size, "format": self.format}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["size"], state["format"])  # type: ignore[misc]
