"""Progress reporting for long reads and writes: a text bar, or your own callback.

``progress=True`` on :func:`~gstreamer.read_frames`, :func:`~gstreamer.write_frames` and
:func:`~gstreamer.write_audio` draws a one-line bar on stderr; ``on_progress=fn`` calls
``fn(done, total)`` instead (``total`` is None when unknown) for any bar you like (tqdm, rich,
a GUI). The command line's ``convert`` uses the same bar.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional, TextIO

__all__ = ["ProgressBar", "ProgressCallback", "progress_hook", "stream_duration"]

ProgressCallback = Callable[[int, Optional[int]], None]


class ProgressBar:
    """``[##########----------]  50.0%  150/300 frames  212.4 fps`` on one line of stderr.

    On a terminal the line is redrawn in place (at most every ``every`` seconds); otherwise
    a line is printed at most every 2 seconds, so logs stay short.

    Parameters
    ----------
    total : int, optional
        The expected count; without it the bar shows the count and rate only.
    unit : str
        What is counted (``"frames"``, ``"samples"``).
    stream : file, optional
        Where to draw (``sys.stderr``).
    """

    def __init__(
        self,
        total: Optional[int] = None,
        unit: str = "frames",
        stream: Optional[TextIO] = None,
        every: float = 0.1,
    ) -> None:
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.every = every if self.tty else 2.0
        self.start = time.perf_counter()
        self.done = 0
        self._last = self.start  # first drawn after `every`: quick jobs print one line
        self._drawn = False

    def __call__(self, done: int, total: Optional[int] = None) -> None:
        """Record ``done`` (and a newly known ``total``); redraw when it is time."""
        self.done = done
        if total is not None:
            self.total = total
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            self._draw()

    def text(self) -> str:
        """The bar as it would be drawn now."""
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = f"{self.done / elapsed:.1f} {'fps' if self.unit == 'frames' else self.unit + '/s'}"
        if self.total:
            frac = min(1.0, self.done / self.total)
            filled = int(frac * 24)
            return (
                f"[{'#' * filled}{'-' * (24 - filled)}] {frac * 100:5.1f}%  "
                f"{self.done}/{self.total} {self.unit}  {rate}"
            )
        return f"{self.done} {self.unit}  {rate}"

    def _draw(self) -> None:
        end = "\r" if self.tty else "\n"
        print(self.text(), end=end, file=self.stream, flush=True)
        self._drawn = True

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.total is not None and self.done > self.total:
            self.total = self.done  # the estimate was low: end at 100 %
        self._draw()
        if self.tty:
            print(file=self.stream, flush=True)


def progress_hook(
    progress: bool, on_progress: Optional[ProgressCallback], unit: str = "frames"
) -> Optional[ProgressCallback]:
    """The callback to call with ``(done, total)``: ``on_progress``, a new bar, or None."""
    if on_progress is not None:
        return on_progress
    if progress:
        return ProgressBar(unit=unit)
    return None


def finish(hook: Optional[ProgressCallback]) -> None:
    """End a bar made by :func:`progress_hook` (a user's callback needs nothing)."""
    if isinstance(hook, ProgressBar):
        hook.close()


def stream_duration(gst_pipeline: Any) -> Optional[int]:
    """The pipeline's duration in nanoseconds, when it knows it."""
    from . import _gi

    if gst_pipeline is None:
        return None
    Gst = _gi.Gst()
    ok, value = gst_pipeline.query_duration(Gst.Format.TIME)
    if not ok or value <= 0 or value == Gst.CLOCK_TIME_NONE:
        return None
    return int(value)
