"""Choosing encoders, parsers and muxers for files.

:func:`choose_encoder` picks a hardware encoder when one is installed *and* encodes a test
frame on this machine, else a fast software encoder; the choice is logged. :func:`file_format`
maps a file extension to a codec and a muxer; :func:`parser_for` finds the parser an encoded
stream needs before a muxer.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional, Union

from . import _gi
from .errors import CapsError, GstError, MissingElementError, package_for

__all__ = [
    "AUDIO_EXTENSIONS",
    "HARDWARE_ENCODERS",
    "SOFTWARE_ENCODERS",
    "VIDEO_EXTENSIONS",
    "EncoderChoice",
    "FileFormat",
    "choose_encoder",
    "describe",
    "element_name",
    "encoder_works",
    "file_format",
    "live_encoder",
    "output_media_type",
    "parser_for",
]

log = logging.getLogger("gstreamer.encoders")


@dataclass(frozen=True)
class EncoderChoice:
    """An encoder for one codec.

    Attributes
    ----------
    name : str
        The element factory name (``"x264enc"``).
    description : str
        The gst-launch fragment that makes it, with properties
        (``"x264enc speed-preset=ultrafast tune=zerolatency"``).
    hardware : bool
        True for a GPU / SoC encoder.
    input_caps : str or None
        Raw caps to put in front of the encoder (``"video/x-raw,format=I420"``), or None to
        let the encoder negotiate.
    """

    name: str
    description: str
    hardware: bool
    input_caps: Optional[str] = None


# Hardware encoders in order of preference; each is tried with a one-frame encode.
HARDWARE_ENCODERS: dict[str, tuple[str, ...]] = {
    "h264": ("vah264enc", "vaapih264enc", "nvh264enc", "v4l2h264enc"),
    "h265": ("vah265enc", "vaapih265enc", "nvh265enc", "v4l2h265enc"),
    "vp8": ("vavp8enc", "vaapivp8enc", "v4l2vp8enc"),
    "vp9": ("vavp9enc", "vaapivp9enc", "v4l2vp9enc"),
}

# Software fallbacks: (description, raw caps in front of it); the first installed one wins.
SOFTWARE_ENCODERS: dict[str, tuple[tuple[str, Optional[str]], ...]] = {
    "h264": (
        # constant quality 23 like ffmpeg's libx264 default; in that mode x264enc's
        # `bitrate` is a VBV cap (2 Mbit/s by default), so it is lifted
        (
            "x264enc speed-preset=ultrafast tune=zerolatency pass=qual quantizer=23 "
            "bitrate=2048000",
            "video/x-raw,format=I420",
        ),
        ("openh264enc", "video/x-raw,format=I420"),
        ("avenc_h264_omx", None),
    ),
    "h265": (("x265enc speed-preset=ultrafast tune=zerolatency", "video/x-raw,format=I420"),),
    "vp8": (("vp8enc deadline=1 cpu-used=8 end-usage=cq cq-level=8 target-bitrate=0", None),),
    "vp9": (("vp9enc deadline=1 cpu-used=8 end-usage=cq cq-level=8 target-bitrate=0", None),),
    "ffv1": (("avenc_ffv1", None),),
    "mjpeg": (("jpegenc", None),),
    "aac": (("avenc_aac", None), ("voaacenc", None), ("fdkaacenc", None)),
    "vorbis": (("vorbisenc", None),),
    "opus": (("opusenc", None),),
    "flac": (("flacenc", None),),
    "mp3": (("lamemp3enc", None),),
    "wav": (("", None),),  # raw PCM: the muxer (wavenc) takes it as is
}


@dataclass(frozen=True)
class FileFormat:
    """What a file extension means.

    Attributes
    ----------
    kind : {"video", "audio"}
    codec : str
        Key of :data:`SOFTWARE_ENCODERS` used when ``encoder="auto"``.
    muxer : str
        gst-launch fragment after the encoder (and parser), before ``filesink``; empty when
        the encoded stream is written as it is (FLAC, MP3).
    audio_codec : str or None
        For containers that can hold audio too (:class:`~gstreamer.writer.MuxWriter`).
    """

    kind: str
    codec: str
    muxer: str
    audio_codec: Optional[str] = None


VIDEO_EXTENSIONS: dict[str, FileFormat] = {
    ".mp4": FileFormat("video", "h264", "mp4mux", "aac"),
    ".m4v": FileFormat("video", "h264", "mp4mux", "aac"),
    ".mov": FileFormat("video", "h264", "qtmux", "aac"),
    ".mkv": FileFormat("video", "h264", "matroskamux", "vorbis"),
    ".avi": FileFormat("video", "h264", "avimux", "mp3"),
    ".ts": FileFormat("video", "h264", "mpegtsmux", "aac"),
    ".h264": FileFormat("video", "h264", "video/x-h264,stream-format=byte-stream"),
    ".264": FileFormat("video", "h264", "video/x-h264,stream-format=byte-stream"),
    ".webm": FileFormat("video", "vp8", "webmmux", "vorbis"),
}

AUDIO_EXTENSIONS: dict[str, FileFormat] = {
    ".wav": FileFormat("audio", "wav", "wavenc"),
    ".flac": FileFormat("audio", "flac", ""),
    ".ogg": FileFormat("audio", "vorbis", "oggmux"),
    ".oga": FileFormat("audio", "vorbis", "oggmux"),
    ".opus": FileFormat("audio", "opus", "oggmux"),
    ".m4a": FileFormat("audio", "aac", "mp4mux"),
    ".mka": FileFormat("audio", "vorbis", "matroskamux"),
    ".mp3": FileFormat("audio", "mp3", ""),
}


def file_format(path: os.PathLike[str] | str) -> Optional[FileFormat]:
    """The :class:`FileFormat` for ``path``'s extension (case-insensitive), or None."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    return VIDEO_EXTENSIONS.get(ext) or AUDIO_EXTENSIONS.get(ext)


def element_name(description: str) -> str:
    """The factory name at the start of a gst-launch fragment (``"x264enc a=b"`` → x264enc)."""
    for part in description.split("!"):
        word = part.strip().split(None, 1)[0] if part.strip() else ""
        if word and "/" not in word and "=" not in word:
            return word
    return ""


def _installed(name: str) -> bool:
    Gst = _gi.Gst()
    return bool(name) and Gst.ElementFactory.find(name) is not None


def output_media_type(description: str) -> Optional[str]:
    """The media type an element puts out (``"video/x-h264"``), from its src pad template."""
    Gst = _gi.Gst()
    factory = Gst.ElementFactory.find(element_name(description))
    if factory is None:
        return None
    for template in factory.get_static_pad_templates():
        if template.direction != Gst.PadDirection.SRC:
            continue
        caps = template.get_caps()
        if caps.get_size() and not caps.is_any():
            return str(caps.get_structure(0).get_name())
    return None


_PARSERS = {
    "video/x-h264": "h264parse",
    "video/x-h265": "h265parse",
    "audio/mpeg": "aacparse",
    "video/mpeg": "mpegvideoparse",
    "audio/x-flac": "flacparse",
}


def parser_for(encoder: str) -> str:
    """The parser to put between ``encoder`` and a muxer ("" when none is needed)."""
    media = output_media_type(encoder)
    name = element_name(encoder)
    if media == "audio/mpeg" and name in ("lamemp3enc", "avenc_mp3"):
        return "mpegaudioparse"
    parser = _PARSERS.get(media or "", "")
    return parser if _installed(parser) else ""


# Largest frame side an encoder takes, where its pad template says more than it does
# (x264enc advertises 2147483647; libx264 fails to open above 16384, measured).
_MAX_SIDE = {"x264enc": 16384}


def max_frame_size(encoder: str) -> Optional[tuple[int, int]]:
    """``(width, height)`` an encoder accepts at most, or None when it says no limit.

    From :data:`_MAX_SIDE` when the element's pad template promises more than it does,
    else from the template's ``width``/``height`` ranges (``vp8enc``: 16383).
    """
    name = element_name(encoder)
    if not name:
        return None
    if name in _MAX_SIDE:
        return (_MAX_SIDE[name], _MAX_SIDE[name])
    factory = _gi.Gst().ElementFactory.find(name)
    if factory is None:
        return None
    Gst = _gi.Gst()
    limit: Optional[tuple[int, int]] = None
    for template in factory.get_static_pad_templates():
        if template.direction != Gst.PadDirection.SINK:
            continue
        caps = template.get_caps()
        for i in range(caps.get_size()):
            # GstIntRange has no PyGObject conversion without gst-python: read the text
            text = caps.get_structure(i).to_string()
            sides = [
                re.search(rf"{f}=\(int\)\[ *\d+, *(\d+) *\]", text) for f in ("width", "height")
            ]
            if sides[0] is None or sides[1] is None:
                return None
            w, h = int(sides[0].group(1)), int(sides[1].group(1))
            limit = (max(w, limit[0]), max(h, limit[1])) if limit else (w, h)
    if limit is None or min(limit) >= 2**31 - 1:
        return None
    return limit


_cache: dict[tuple[str, bool], EncoderChoice] = {}
_cache_lock = threading.Lock()
_TEST_CAPS = {
    "video": "video/x-raw,format=I420,width=320,height=240,framerate=30/1",
}


def encoder_works(description: str, *, timeout: float = 5.0) -> bool:
    """True if ``description`` encodes one 320x240 test frame here without an error.

    Hardware encoders are often installed where the device is missing or busy; only a real
    encode tells.
    """
    from .pipeline import GstPipeline

    test = GstPipeline(
        f"videotestsrc num-buffers=1 ! {_TEST_CAPS['video']} ! videoconvert ! {description} "
        "! fakesink"
    )
    try:
        test.startup()
        test.wait(timeout)
    except GstError as exc:
        log.debug("encoder %r does not work here: %s", description, exc)
        return False
    finally:
        test.shutdown(timeout=timeout, eos=False, raise_errors=False)
    return True


def choose_encoder(codec: str = "h264", *, hardware: bool = True) -> EncoderChoice:
    """The encoder ``encoder="auto"`` uses for ``codec``.

    Parameters
    ----------
    codec : str
        ``"h264"``, ``"h265"``, ``"vp8"``, ``"vp9"``, ``"ffv1"``, ``"mjpeg"``, ``"aac"``,
        ``"vorbis"``, ``"opus"``, ``"flac"``, ``"mp3"`` or ``"wav"``.
    hardware : bool
        Consider hardware encoders (each is tested with a one-frame encode; the result is
        cached for the process).

    Returns
    -------
    EncoderChoice
        The first working hardware encoder, else the first installed software one.

    Raises
    ------
    CapsError
        ``codec`` is unknown.
    MissingElementError
        No encoder for ``codec`` is installed; the message names the Debian package.
    """
    codec = codec.lower()
    if codec not in SOFTWARE_ENCODERS:
        raise CapsError(f"unknown codec {codec!r}; known: {', '.join(SOFTWARE_ENCODERS)}")
    key = (codec, hardware)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        choice = _choose(codec, hardware)
        _cache[key] = choice
    log.info(
        "encoder for %s: %s (%s)",
        codec,
        choice.description or "raw",
        "hardware" if choice.hardware else "software",
    )
    return choice


def _choose(codec: str, hardware: bool) -> EncoderChoice:
    if hardware:
        for name in HARDWARE_ENCODERS.get(codec, ()):
            if not _installed(name):
                continue
            start = time.monotonic()
            ok = encoder_works(name)
            log.debug("hardware encoder %s works=%s (%.2f s)", name, ok, time.monotonic() - start)
            if ok:
                return EncoderChoice(name, name, True)
    candidates = SOFTWARE_ENCODERS[codec]
    for description, caps in candidates:
        if description == "":
            return EncoderChoice("", "", False)
        name = element_name(description)
        if _installed(name):
            return EncoderChoice(name, description, False, caps)
    names = [element_name(d) for d, _ in candidates]
    raise _missing(names, f"no {codec} encoder is installed (tried {', '.join(names)})")


def _missing(names: list[str], message: str) -> MissingElementError:
    """None of the encoders ``names`` is installed: the error names their Debian packages."""
    packages = [p for p in (package_for(n) for n in names) if p]
    return MissingElementError(message, elements=names, packages=packages)


# Live streaming (RTSP, TCP, UDP): a keyframe every second so that joining clients start
# quickly, no B-frames (no reordering delay), the most widely decodable profile.
# {gop}: frames per keyframe; the second entry is appended when a bit rate is given.
LIVE_ENCODERS: dict[str, tuple[tuple[str, str], ...]] = {
    "h264": (
        (
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bframes=0"
            "{bitrate} ! video/x-h264,profile=constrained-baseline",
            " bitrate={kbps}",
        ),
        ("openh264enc gop-size={gop} complexity=low{bitrate}", " bitrate={bps}"),
    ),
}


def live_encoder(
    codec: str = "h264", fps: Union[int, float, Fraction] = 30, *, bitrate: Optional[int] = None
) -> str:
    """The gst-launch fragment of a low-latency encoder for live streaming.

    Parameters
    ----------
    codec : str
        Only ``"h264"`` for now.
    fps : number
        Frame rate; a keyframe is forced every second so that late clients start quickly.
    bitrate : int, optional
        Target bit rate in kbit/s.

    Raises
    ------
    MissingElementError
        No live encoder for ``codec`` is installed; the message names the Debian packages.
    """
    candidates = LIVE_ENCODERS.get(codec.lower())
    if candidates is None:
        raise CapsError(f"no live encoder for {codec!r}; known: {', '.join(LIVE_ENCODERS)}")
    gop = max(1, round(float(fps)))
    for template, rate in candidates:
        if _installed(element_name(template)):
            extra = rate.format(kbps=int(bitrate), bps=int(bitrate) * 1000) if bitrate else ""
            return template.format(gop=gop, bitrate=extra)
    names = [element_name(t) for t, _ in candidates]
    raise _missing(names, f"no {codec} encoder: {' or '.join(names)} is needed")


def _reset_cache() -> None:
    """Forget earlier choices (for tests)."""
    with _cache_lock:
        _cache.clear()


def describe(choice: EncoderChoice) -> str:
    """The gst-launch fragment for ``choice`` including its input caps."""
    parts = [p for p in (choice.input_caps, choice.description) if p]
    return " ! ".join(parts)
