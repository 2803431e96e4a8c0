"""Pulling arrays from an ``appsink``: the one puller used by ``Reader``, the servers and
the seed's ``GstVideoSource``.

Samples are pulled in the caller's thread with ``try_pull_sample`` (the GIL is released
while GStreamer waits), so no Python runs in streaming threads.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from . import _convert, _gi
from .buffers import buffer_to_ndarray
from .caps import Layout, VideoLayout, layout_from_caps
from .errors import CapsError
from .frame import Frame, clock_time

__all__ = ["AppSinkPuller"]


class AppSinkPuller:
    """Pulls samples from one appsink and turns them into :class:`Frame` objects.

    Parameters
    ----------
    appsink : GstApp.AppSink
    max_buffers : int
        appsink's queue (0 = unlimited).
    leaky : bool
        Drop the oldest queued buffer when full (latest-only for live sources).
    copy : bool
        Give owned copies instead of zero-copy views.
    convert_to : str, optional
        A video format (``"RGB"``, ``"BGRx"``, ...): YUV frames that arrive are converted to
        it with libswscale in the pulling thread (see :mod:`gstreamer._convert`), as new
        owned arrays; frames already in it are handed out as usual.
    """

    def __init__(
        self,
        appsink: Any,
        *,
        max_buffers: int = 16,
        leaky: bool = False,
        copy: bool = False,
        check: Optional[Callable[[], None]] = None,
        convert_to: Optional[str] = None,
    ) -> None:
        self.appsink = appsink
        self.copy = copy
        self.convert_to = convert_to
        self._converter: Optional[_convert.YuvToRgb] = None
        self._check = check
        self._caps_str: Optional[str] = None
        self.layout: Optional[Layout] = None
        self.pulled = 0
        # keep_segment: remember the segment of the last sample (to compute stream times)
        self.keep_segment = False
        self.segment: Any = None
        appsink.set_property("emit-signals", False)
        appsink.set_property("max-buffers", max_buffers)
        appsink.set_property("drop", leaky)

    def pull(self, timeout: Optional[float]) -> Optional[Frame]:
        """The next frame; None at end of stream or when ``timeout`` seconds pass."""
        Gst = _gi.Gst()
        ns = Gst.CLOCK_TIME_NONE if timeout is None else int(timeout * Gst.SECOND)
        sample = self.appsink.try_pull_sample(ns)
        if sample is None:
            if self._check is not None:
                self._check()
            return None
        return self.to_frame(sample)

    @property
    def is_eos(self) -> bool:
        return bool(self.appsink.is_eos())

    def to_frame(self, sample: Any) -> Frame:
        Gst = _gi.Gst()
        buffer = sample.get_buffer()
        caps = sample.get_caps()
        caps_str = caps.to_string() if caps is not None else ""
        if caps_str != self._caps_str:
            self._caps_str = caps_str
            self._set_layout(caps)
        converter = self._converter
        if converter is not None:
            data: Any = converter.convert(buffer)
            caps_str = converter.caps
        else:
            data = buffer_to_ndarray(buffer, self.layout, copy=self.copy)
        if self.keep_segment:
            self.segment = sample.get_segment()
        self.pulled += 1
        return Frame(
            data=data,
            pts=clock_time(buffer.pts),
            dts=clock_time(buffer.dts),
            duration=clock_time(buffer.duration),
            offset=None if buffer.offset == Gst.BUFFER_OFFSET_NONE else int(buffer.offset),
            keyframe=not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT),
            caps=caps_str,
        )

    def _set_layout(self, caps: Any) -> None:
        if self._converter is not None:
            self._converter.close()
            self._converter = None
        try:
            layout: Optional[Layout] = layout_from_caps(caps)
        except CapsError:
            layout = None  # not raw: hand out bytes
        target = self.convert_to
        if (
            target is not None
            and isinstance(layout, VideoLayout)
            and layout.format != target
            and layout.format in _convert.INPUT_FORMATS
            and target in _convert.OUTPUT_FORMATS
            and _convert.available()
        ):
            self._converter = _convert.YuvToRgb(layout, target)
            layout = self._converter.layout
        self.layout = layout

    def close(self) -> None:
        """Free the converter (if any); idempotent."""
        if self._converter is not None:
            self._converter.close()
            self._converter = None
