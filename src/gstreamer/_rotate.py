"""Turning decoded video upright from the stream's rotation tag, only when it has one.

A ``videoflip video-direction=auto`` that sits in the pipeline from the start costs memory
even when the stream is not rotated: it makes the decoder negotiate its buffers a second
time while the first frames are being decoded, and libav keeps the pictures of both rounds
(measured: 8 MiB more peak RSS reading a 720p H.264 file, the same with
``video-direction=identity``). So the files' pipelines link ``decodebin``'s video pad
straight on, and :func:`pad_added` inserts ``videoconvert ! videoflip
video-direction=auto`` after the caps filter it is linked to when the stream is tagged as
rotated or flipped.

The tag is known by then: ``decodebin`` exposes a pad once its decoder has made a first
frame, and the tags sent before that frame (an MP4's display matrix, EXIF orientation)
have reached the decoder's sink pad, in order with the data. Nothing has flowed past the
exposed pad yet, so the elements are inserted before any data reaches them.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from . import _gi
from .pipeline import post_error

__all__ = ["InsertAfter", "orientation", "pad_added"]

log = logging.getLogger("gstreamer")

_UPRIGHT = "rotate-0"
_MAX_HOPS = 32  # elements walked upstream looking for the tag


def _tagged(pad: Any) -> Optional[str]:
    """The ``image-orientation`` of the sticky tag events stored on ``pad``."""
    Gst = _gi.Gst()
    i = 0
    while True:
        event = pad.get_sticky_event(Gst.EventType.TAG, i)
        if event is None:
            return None
        ok, value = event.parse_tag().get_string("image-orientation")
        if ok:
            return str(value)
        i += 1


def orientation(pad: Any) -> Optional[str]:
    """The ``image-orientation`` tag (``"rotate-90"``, ``"flip-rotate-0"``, ...) that
    reached the element of the source pad ``pad`` or one upstream of it; None when there
    is none."""
    Gst = _gi.Gst()
    while isinstance(pad, Gst.GhostPad):
        target = pad.get_target()
        if target is None:
            return None
        pad = target
    for _ in range(_MAX_HOPS):
        element = pad.get_parent_element()
        if element is None or not element.sinkpads:
            return None
        sink = element.sinkpads[0]
        found = _tagged(sink)
        if found is not None:
            return found
        peer = sink.get_peer()
        if isinstance(peer, Gst.ProxyPad) and not isinstance(peer, Gst.GhostPad):
            peer = peer.get_parent()  # the inside of a bin's ghost sink pad: go round it
        if peer is None:
            return None
        pad = peer
    return None


def pad_added(decodebin: Any, pad: Any) -> None:
    """``pad-added`` handler of a ``decodebin``/``uridecodebin`` whose video pad is linked
    to a caps filter: turn the video upright when its tags say it is rotated or flipped,
    with ``videoconvert ! videoflip`` right after that caps filter.

    Connect it after the pipeline is parsed, so it runs after ``gst_parse_launch``'s own
    handler has linked the pad.
    """
    peer = pad.get_peer()
    if peer is not None:
        _insert_if_rotated(pad, peer.get_parent_element())


class InsertAfter:
    """A :func:`pad_added` that inserts after the element named ``name`` instead (for
    example after a probe that drops frames, so dropped frames are not turned)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, decodebin: Any, pad: Any) -> None:
        if pad.get_peer() is None:
            return
        pipeline = decodebin
        while pipeline.get_parent() is not None:
            pipeline = pipeline.get_parent()
        element = pipeline.get_by_name(self.name)
        if element is not None:
            _insert_if_rotated(pad, element)


def _insert_if_rotated(pad: Any, before: Any) -> None:
    """Insert ``videoconvert ! videoflip video-direction=auto`` after the element
    ``before`` when the stream that reached ``pad`` is tagged as rotated or flipped."""
    tag = orientation(pad)
    if tag is None or tag == _UPRIGHT:
        return
    Gst = _gi.Gst()
    src = before.get_static_pad("src")
    after = src.get_peer()
    bin = before.get_parent()
    if after is None or bin is None:
        return
    convert = Gst.ElementFactory.make("videoconvert", None)
    flip = Gst.ElementFactory.make("videoflip", None)
    Gst.util_set_object_arg(flip, "video-direction", "auto")
    src.unlink(after)
    bin.add(convert)
    bin.add(flip)
    if not (
        before.link(convert)
        and convert.link(flip)
        and flip.get_static_pad("src").link(after) == Gst.PadLinkReturn.OK
    ):  # pragma: no cover - videoconvert and videoflip take any raw video
        post_error(
            before,
            Gst.core_error_quark(),
            Gst.CoreError.NEGOTIATION,
            f"could not insert videoflip after {before.get_name()} for a stream tagged {tag}",
            "rotate='auto'",
        )
        return
    convert.sync_state_with_parent()
    flip.sync_state_with_parent()
    log.debug("stream tagged %s: videoflip inserted after %s", tag, before.get_name())
