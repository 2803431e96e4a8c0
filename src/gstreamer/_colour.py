"""Which YUV colorimetry (matrix and range) frames are converted with, in one place.

* **Writer**: the YUV frames given to H.264/H.265 encoders are full-range BT.601
  (:data:`WRITER_COLORIMETRY`), tagged in the caps, so x264 writes it into the stream's VUI.
  Full range keeps the luma coefficient at exactly 1 in GStreamer's 8-bit converter, so a
  grey 128 written reads back as 128 here and in FFmpeg.
* **Reader**: a decoded stream keeps the colorimetry it is tagged with. An untagged stream
  (no colour description in the file) is read as limited-range BT.601
  (:data:`UNTAGGED_COLORIMETRY`), FFmpeg's convention, so pixels match FFmpeg, PyAV and
  OpenCV (GStreamer alone would guess BT.709 for HD). ``Reader(colorimetry=...)`` pins the
  colorimetry whatever the tags say.

:func:`pin_colorimetry` applies the Reader's rule on the converter's sink pad.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

from . import _gi
from .errors import ArgumentError

__all__ = [
    "UNTAGGED_COLORIMETRY",
    "prefer_stream_tags",
    "WRITER_COLORIMETRY",
    "check_colorimetry",
    "pin_colorimetry",
    "writer_caps",
]

#: Full range, BT.601 matrix, sRGB transfer, BT.709 primaries: sYCC, what JPEG uses for
#: sRGB pictures (arrays hold sRGB).
WRITER_COLORIMETRY = "1:4:7:1"

#: FFmpeg's reading of a stream without colour tags: limited-range BT.601.
UNTAGGED_COLORIMETRY = "bt601"


def check_colorimetry(colorimetry: str) -> str:
    """Return ``colorimetry`` if GStreamer knows it (``"bt601"``, ``"bt709"``,
    ``"bt2020"``, ``"smpte240m"`` or ``"range:matrix:transfer:primaries"`` such as
    ``"1:4:5:4"``), else raise :class:`~gstreamer.ArgumentError`."""
    GstVideo = _gi.module("GstVideo")
    value = GstVideo.VideoColorimetry()
    if not isinstance(colorimetry, str) or not value.from_string(colorimetry):
        raise ArgumentError(
            f"unknown colorimetry {colorimetry!r}: use 'bt601', 'bt709', 'bt2020', "
            "'smpte240m' or 'range:matrix:transfer:primaries' such as '1:4:5:4' (full-range "
            "BT.601)"
        )
    return colorimetry


def writer_caps(input_caps: Optional[str]) -> Optional[str]:
    """The encoder's input caps with :data:`WRITER_COLORIMETRY` when they are YUV."""
    if input_caps is None or not input_caps.startswith("video/x-raw"):
        return input_caps
    if "colorimetry=" in input_caps or not any(
        f"format={f}" in input_caps for f in ("I420", "NV12", "Y42B", "Y444")
    ):
        return input_caps
    return f"{input_caps},colorimetry={WRITER_COLORIMETRY}"


def _is_yuv(caps: Any) -> bool:
    GstVideo = _gi.module("GstVideo")
    info = GstVideo.VideoInfo.new_from_caps(caps)
    return info is not None and bool(info.finfo.flags & GstVideo.VideoFormatFlags.YUV)


def _rewrite_caps(pad: Any, rewrite: Callable[[Any], Optional[str]]) -> None:
    """Replace each caps event going through ``pad`` by one with ``rewrite(caps)`` (a caps
    string; None lets the event pass). The new event passes the probe too, so ``rewrite``
    must return None for caps it made."""
    Gst = _gi.Gst()

    def probe(pad: Any, info: Any) -> Any:
        event = info.get_event()
        if event is None or event.type != Gst.EventType.CAPS:
            return Gst.PadProbeReturn.OK
        text = rewrite(event.parse_caps())
        if text is None:
            return Gst.PadProbeReturn.OK
        pad.send_event(Gst.Event.new_caps(Gst.Caps.from_string(text)))
        return Gst.PadProbeReturn.DROP

    pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, probe)


def _untagged(text: str) -> str:
    """Caps text without its colorimetry field."""
    return re.sub(r",\s*colorimetry=[^,]*", "", text)


def pin_colorimetry(pad: Any, colorimetry: Optional[str]) -> None:
    """Rewrite the YUV caps arriving at ``pad``: ``colorimetry`` when given, else
    :data:`UNTAGGED_COLORIMETRY` when the stream is untagged (no colorimetry field)."""
    wanted = colorimetry if colorimetry is not None else UNTAGGED_COLORIMETRY

    def pinned(caps: Any) -> Optional[str]:
        structure = caps.get_structure(0)
        if structure.get_name() != "video/x-raw" or not _is_yuv(caps):
            return None
        current = structure.get_string("colorimetry")
        if current == wanted or (colorimetry is None and current is not None):
            return None  # pinned already (the event this probe sent), or tagged
        return f"{_untagged(caps.to_string())}, colorimetry=(string){wanted}"

    _rewrite_caps(pad, pinned)


_PARSERS = ("h264parse", "h265parse")


def prefer_stream_tags(bin: Any, sub_bin: Any, element: Any) -> None:
    """``deep-element-added`` handler: H.264/H.265 parsers take the colorimetry from the
    stream (its VUI), not from the container.

    GStreamer 1.22's ``qtdemux`` reads the ``colr`` box of MP4/MOV files as limited range
    even when its full-range flag is set (measured on files from ``mp4mux`` and FFmpeg),
    and the parsers prefer the container's value. The stream's own VUI is right.
    """
    factory = element.get_factory()
    if factory is None or factory.get_name() not in _PARSERS:
        return

    def stripped(caps: Any) -> Optional[str]:
        text = caps.to_string()
        return _untagged(text) if "colorimetry=" in text else None

    _rewrite_caps(element.get_static_pad("sink"), stripped)
