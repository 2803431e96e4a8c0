"""The exception tree of :mod:`gstreamer`.

::

    GstError                                   (every error this library raises)
    ├── GstNotAvailableError(ImportError)      PyGObject / typelibs / GStreamer missing
    ├── PipelineError                          a GStreamer error message or failed state change
    │   ├── ParseError(ValueError)             the pipeline description does not parse
    │   │   └── MissingElementError            an element is not installed (names the package)
    │   ├── NegotiationError                   caps could not be negotiated ("not-negotiated")
    │   ├── StateChangeError                   a state change failed
    │   ├── NoDisplayError                     a window sink was asked for without a display
    │   ├── ConnectionLostError                a live source went away (and did not come back)
    │   ├── SourceNotFoundError(FileNotFoundError)  the file to read does not exist
    │   ├── InvalidMediaError(ValueError)      not a media file, corrupt, or without the stream
    │   └── TargetDirectoryError(FileNotFoundError) the folder to write into does not exist
    ├── ArgumentError(ValueError)              a parameter's value is wrong (extension, host, ...)
    ├── ArgumentTypeError(TypeError)           a parameter has the wrong type
    ├── CapsError(ValueError)                  array shape/dtype and caps disagree; bad format
    ├── BufferError(BufferError)               mapping a buffer failed / wrong writability
    ├── LifecycleError(RuntimeError)           started twice, used before start
    │   └── ClosedError                        use of a closed reader, writer or pipeline
    ├── NotSeekableError                       random access on a live stream, pipe or fragment
    └── TimeoutError(TimeoutError)             a blocking call ran past its timeout

End of stream is never an exception: iteration simply stops.
"""

from __future__ import annotations

import builtins
import re
from typing import TYPE_CHECKING, Any, Optional, TypedDict

if TYPE_CHECKING:
    from typing import Unpack

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "BufferError",
    "CapsError",
    "ClosedError",
    "ConnectionLostError",
    "GstError",
    "GstNotAvailableError",
    "InvalidMediaError",
    "LifecycleError",
    "MissingElementError",
    "NegotiationError",
    "NoDisplayError",
    "NotSeekableError",
    "ParseError",
    "PipelineError",
    "SourceNotFoundError",
    "StateChangeError",
    "TargetDirectoryError",
    "TimeoutError",
]


class GstError(Exception):
    """Base class of every exception raised by :mod:`gstreamer`."""


class GstNotAvailableError(GstError, ImportError):
    """GStreamer, PyGObject or a GObject-introspection typelib is not installed."""


class PipelineError(GstError):
    """An error reported by a GStreamer pipeline.

    Attributes
    ----------
    element : str or None
        Name of the element that posted the error (``"x264enc0"``).
    debug : str or None
        GStreamer's debug text: source file, function and details.
    domain : str or None
        The GError domain (``"gst-stream-error-quark"``).
    code : int or None
        The GError code within ``domain``.
    hint : str or None
        What to try next, when we know.
    """

    def __init__(
        self,
        message: str,
        *,
        element: Optional[str] = None,
        debug: Optional[str] = None,
        domain: Optional[str] = None,
        code: Optional[int] = None,
        hint: Optional[str] = None,
    ) -> None:
        self.message = message
        self.element = element
        self.debug = debug
        self.domain = domain
        self.code = code
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        text = self.message
        if self.element:
            text = f"{self.element}: {text}"
        if self.hint:
            text += f"\nHint: {self.hint}"
        if self.debug:
            text += f"\nDebug: {self.debug}"
        return text


class ParseError(PipelineError, ValueError):
    """The pipeline description could not be parsed."""


class MissingElementError(ParseError):
    """An element named in the description is not installed.

    Attributes
    ----------
    elements : list of str
        The element factory names that are missing.
    packages : list of str
        Debian packages that provide them (when known).
    """

    def __init__(self, message: str, *, elements: list[str], packages: list[str]) -> None:
        self.elements = elements
        self.packages = packages
        hint = None
        if packages:
            hint = "install it with: sudo apt-get install " + " ".join(sorted(set(packages)))
        super().__init__(message, hint=hint)


class NegotiationError(PipelineError):
    """Two elements could not agree on a format (GStreamer's ``not-negotiated``)."""


class StateChangeError(PipelineError):
    """The pipeline refused to change state."""


class NoDisplayError(PipelineError):
    """A sink that opens a window (``autovideosink``, ``ximagesink``, ...) was asked for, but
    there is no display: neither ``DISPLAY`` nor ``WAYLAND_DISPLAY`` is set.

    Raised when the pipeline starts, before any state change (GStreamer's own sinks would
    crash the process or fail later). The message is one line and says what to do instead.

    Attributes
    ----------
    sinks : list of str
        The factory names of the sinks that need a display.
    """

    def __init__(self, sinks: list[str]) -> None:
        self.sinks = sinks
        names = ", ".join(sinks)
        super().__init__(
            f"{names} needs a display, but neither DISPLAY nor WAYLAND_DISPLAY is set",
            element=None,
            hint="run it under a virtual display (xvfb-run -a COMMAND), or send the frames to "
            "a file (x264enc ! mp4mux ! filesink location=out.mp4) or a stream instead",
        )

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}"


class ErrorFacts(TypedDict, total=False):
    """What GStreamer said about an error: the :class:`PipelineError` attributes an error
    made from another one keeps (see :func:`facts`)."""

    element: Optional[str]
    debug: Optional[str]
    domain: Optional[str]
    code: Optional[int]


def facts(error: Optional[PipelineError]) -> ErrorFacts:
    """``element``, ``debug``, ``domain`` and ``code`` of ``error`` (none for None), as
    keyword arguments for the error that replaces it."""
    if error is None:
        return {}
    return ErrorFacts(
        element=error.element, debug=error.debug, domain=error.domain, code=error.code
    )


class ConnectionLostError(PipelineError):
    """A live source (RTSP, SRT, HTTP, TCP, UDP) went away and did not come back.

    Raised by :meth:`~gstreamer.Reader.read` when a live source ends or fails without
    ``reconnect``, or when the reconnect attempts ran out. The error that ended the last
    connection, if any, is the ``__cause__``.

    Attributes
    ----------
    source : str
        The source that was read.
    attempts : int
        Reconnect attempts made before giving up (0 without ``reconnect``).
    reason : str
        What ended the connection: ``"error"``, ``"end of stream"`` or ``"stall"``.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str,
        attempts: int = 0,
        reason: str = "error",
        **facts: Unpack[ErrorFacts],
    ) -> None:
        super().__init__(
            message,
            **facts,
            hint="pass reconnect=True (or gstreamer.Reconnect(...)) to the Reader to reconnect "
            "on its own; check that the server is up",
        )
        self.source = source
        self.attempts = attempts
        self.reason = reason


class SourceNotFoundError(PipelineError, FileNotFoundError):
    """The file to read does not exist (found before any pipeline is built)."""

    def __init__(self, message: str, *, filename: Optional[str] = None) -> None:
        super().__init__(message, hint="check the path; relative paths use the working directory")
        self.filename = filename


class InvalidMediaError(PipelineError, ValueError):
    """The source is not a media file GStreamer can read, is corrupt, or lacks the stream.

    Attributes
    ----------
    filename : str or None
        The file (or URI) that was read.
    """

    def __init__(self, message: str, *, filename: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.filename = filename


class TargetDirectoryError(PipelineError, FileNotFoundError):
    """The directory a file is to be written to does not exist.

    Attributes
    ----------
    filename : str
        The file that was to be written.
    """

    def __init__(self, message: str, *, filename: str) -> None:
        super().__init__(
            message,
            domain="gst-resource-error-quark",
            hint="create the directory first (os.makedirs(path, exist_ok=True)) or fix the path",
        )
        self.filename = filename


class ArgumentError(GstError, ValueError):
    """A parameter has a value this library cannot use (an unknown file extension, a host
    name with spaces, a port out of range...). Also a :class:`ValueError`."""


class ArgumentTypeError(GstError, TypeError):
    """A parameter has the wrong type. Also a :class:`TypeError`."""


class CapsError(GstError, ValueError):
    """An array's shape or dtype does not fit the caps, or a format is unsupported."""


class BufferError(GstError, builtins.BufferError):
    """A buffer could not be mapped as asked (for example writable but read-only)."""


class LifecycleError(GstError, RuntimeError):
    """The object is not in a state that allows this call (not started, started twice)."""


class ClosedError(LifecycleError):
    """The object was used after :meth:`close`."""


class NotSeekableError(GstError):
    """Random access or seeking was asked of a source that cannot seek (live, pipe, fragment)."""


class TimeoutError(GstError, builtins.TimeoutError):
    """A blocking call did not complete within its timeout."""


# Known element -> Debian package (GStreamer 1.22 on Debian 12).
ELEMENT_PACKAGES: dict[str, str] = {
    "x264enc": "gstreamer1.0-plugins-ugly",
    "x265enc": "gstreamer1.0-plugins-bad",
    "mpeg2enc": "gstreamer1.0-plugins-bad",
    "lamemp3enc": "gstreamer1.0-plugins-good",
    "mp4mux": "gstreamer1.0-plugins-good",
    "qtmux": "gstreamer1.0-plugins-good",
    "qtdemux": "gstreamer1.0-plugins-good",
    "matroskamux": "gstreamer1.0-plugins-good",
    "matroskademux": "gstreamer1.0-plugins-good",
    "jpegenc": "gstreamer1.0-plugins-good",
    "jpegdec": "gstreamer1.0-plugins-good",
    "pngenc": "gstreamer1.0-plugins-good",
    "multipartmux": "gstreamer1.0-plugins-good",
    "souphttpsrc": "gstreamer1.0-plugins-good",
    "rtph264pay": "gstreamer1.0-plugins-good",
    "rtph264depay": "gstreamer1.0-plugins-good",
    "rtpjpegpay": "gstreamer1.0-plugins-good",
    "rtspsrc": "gstreamer1.0-plugins-good",
    "udpsrc": "gstreamer1.0-plugins-good",
    "udpsink": "gstreamer1.0-plugins-good",
    "v4l2src": "gstreamer1.0-plugins-good",
    "v4l2h264enc": "gstreamer1.0-plugins-good",
    "fpsdisplaysink": "gstreamer1.0-plugins-bad",
    "autovideosink": "gstreamer1.0-plugins-good",
    "ximagesink": "gstreamer1.0-x",
    "xvimagesink": "gstreamer1.0-x",
    "mpegtsmux": "gstreamer1.0-plugins-bad",
    "tsdemux": "gstreamer1.0-plugins-bad",
    "h264parse": "gstreamer1.0-plugins-bad",
    "h265parse": "gstreamer1.0-plugins-bad",
    "vaapih264enc": "gstreamer1.0-vaapi",
    "vah264enc": "gstreamer1.0-plugins-bad",
    "nvh264enc": "gstreamer1.0-plugins-bad",
    "avdec_h264": "gstreamer1.0-libav",
    "avenc_mpeg4": "gstreamer1.0-libav",
    "avenc_aac": "gstreamer1.0-libav",
    "avmux_mp4": "gstreamer1.0-libav",
    "openh264enc": "gstreamer1.0-plugins-bad",
    "vp8enc": "gstreamer1.0-plugins-good",
    "vp9enc": "gstreamer1.0-plugins-good",
    "voaacenc": "gstreamer1.0-plugins-bad",
    "opusenc": "gstreamer1.0-plugins-base",
    "vorbisenc": "gstreamer1.0-plugins-base",
    "tcpserversink": "gstreamer1.0-plugins-base",
    "tcpclientsrc": "gstreamer1.0-plugins-base",
    "videoconvert": "gstreamer1.0-plugins-base",
    "videoscale": "gstreamer1.0-plugins-base",
    "videorate": "gstreamer1.0-plugins-base",
    "videotestsrc": "gstreamer1.0-plugins-base",
    "audiotestsrc": "gstreamer1.0-plugins-base",
    "audioconvert": "gstreamer1.0-plugins-base",
    "audioresample": "gstreamer1.0-plugins-base",
    "appsrc": "gstreamer1.0-plugins-base",
    "appsink": "gstreamer1.0-plugins-base",
    "decodebin": "gstreamer1.0-plugins-base",
    "uridecodebin": "gstreamer1.0-plugins-base",
    "wavenc": "gstreamer1.0-plugins-good",
    "flacenc": "gstreamer1.0-plugins-good",
    "fakesink": "libgstreamer1.0-0",
    "filesink": "libgstreamer1.0-0",
    "filesrc": "libgstreamer1.0-0",
    "queue": "libgstreamer1.0-0",
    "tee": "libgstreamer1.0-0",
}


def package_for(element: str) -> Optional[str]:
    """The Debian package that provides ``element``, if known."""
    return ELEMENT_PACKAGES.get(element)


_NOT_NEGOTIATED_HINT = (
    "two elements could not agree on a format. Check that the caps you give (for appsrc: "
    "format, width, height and framerate) are complete and that a converter "
    "(videoconvert / audioconvert ! audioresample) sits between elements that need "
    "different formats; run with GST_DEBUG=3 to see which pad refused which caps"
)


def from_gerror(gerror: Any, debug: Optional[str], element: Optional[str]) -> PipelineError:
    """Map a GStreamer error message to the most specific exception."""
    message = getattr(gerror, "message", str(gerror))
    domain = getattr(gerror, "domain", None)
    found = ErrorFacts(
        element=element, debug=debug, domain=domain, code=getattr(gerror, "code", None)
    )
    text = f"{message} {debug or ''}"
    if "not-negotiated" in text or "not negotiated" in text.lower():
        return NegotiationError(
            f"caps could not be negotiated (not-negotiated): {message}",
            **found,
            hint=_NOT_NEGOTIATED_HINT,
        )
    hint = None
    if domain == "gst-resource-error-quark":
        hint = "check that the file, device or address exists and is accessible"
        # filesrc: 'Resource not found.' with 'No such file "x.mp4"' in the debug text
        missing = re.search(r'No such file "([^"]*)"', debug or "")
        if missing:
            message = f"no such file: {missing.group(1)!r} ({message.rstrip('.')})"
        bind = _BIND_RE.search(debug or "")
        if bind is not None:
            address, reason = bind.group(1), bind.group(2).strip()
            message = bind_message(address, reason)
            hint = _bind_hint(reason)
    return PipelineError(message, **found, hint=hint)


# GIO's text, as GStreamer's network elements pass it on in their debug string
_BIND_RE = re.compile(r"Error binding to address:? ?\[?([^\s\]]*\]?:?\d*)\]?:\s*([^\n]*)")


def bind_message(address: str, reason: str = "Address already in use") -> str:
    """One wording for every failed bind: the address, and "in use" when it is."""
    if "in use" in reason.lower():
        return f"cannot bind {address}: address already in use"
    return f"cannot bind {address}: {reason}"


def bind_error(address: str, reason: str = "Address already in use") -> PipelineError:
    """The :class:`PipelineError` for a server that could not bind ``address``."""
    return PipelineError(bind_message(address, reason), hint=_bind_hint(reason))


def _bind_hint(reason: str) -> str:
    if "in use" in reason.lower():
        return (
            "another program (or another server of yours) listens there; stop it, choose "
            "another port, or pass port=0 to pick a free one"
        )
    return "check that the address belongs to this machine"
