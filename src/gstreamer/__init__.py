"""NumPy arrays in and out of GStreamer pipelines.

``import gstreamer`` has no side effects: GStreamer is loaded and initialised on first use.
``Gst``, ``GstApp``, ``GstVideo``, ``GstAudio``, ``GLib`` and ``GObject`` can be imported from
here (as the seed library allowed); the first access initialises GStreamer.
"""

from __future__ import annotations

from typing import Any

from ._lifecycle import State
from ._seed import GstVideoSink, GstVideoSource, LeakyQueue
from .buffers import buffer_to_ndarray, ndarray_to_buffer, zero_copy_available
from .caps import audio_caps, video_caps
from .context import GstContext
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    BufferError,
    CapsError,
    ClosedError,
    ConnectionLostError,
    GstError,
    GstNotAvailableError,
    InvalidMediaError,
    LifecycleError,
    MissingElementError,
    NegotiationError,
    NoDisplayError,
    NotSeekableError,
    ParseError,
    PipelineError,
    SourceNotFoundError,
    StateChangeError,
    TargetDirectoryError,
    TimeoutError,
)
from .frame import Frame, GstBuffer
from .live import Reconnect
from .multireader import Batch, MultiReader
from .mux import MuxWriter
from .pipeline import GstPipeline
from .probe import AudioInfo, MediaInfo, StreamInfo, VideoInfo, probe
from .reader import Reader, read_frames
from .recording import HlsWriter, SegmentWriter
from .thumbnails import thumbnails
from .videofile import VideoFile
from .writer import AudioWriter, Writer, write_audio, write_frames

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "AudioInfo",
    "AudioWriter",
    "Batch",
    "BufferError",
    "CapsError",
    "ClosedError",
    "ConnectionLostError",
    "Frame",
    "GstBuffer",
    "GstContext",
    "GstError",
    "GstNotAvailableError",
    "GstPipeline",
    "GstVideoSink",
    "GstVideoSource",
    "HlsWriter",
    "InvalidMediaError",
    "LeakyQueue",
    "LifecycleError",
    "MediaInfo",
    "MissingElementError",
    "MultiReader",
    "MuxWriter",
    "NegotiationError",
    "NoDisplayError",
    "NotSeekableError",
    "ParseError",
    "PipelineError",
    "Reader",
    "Reconnect",
    "SegmentWriter",
    "SourceNotFoundError",
    "State",
    "StateChangeError",
    "StreamInfo",
    "TargetDirectoryError",
    "TimeoutError",
    "VideoFile",
    "VideoInfo",
    "Writer",
    "__version__",
    "audio_caps",
    "buffer_to_ndarray",
    "ndarray_to_buffer",
    "probe",
    "read_frames",
    "thumbnails",
    "video_caps",
    "write_audio",
    "write_frames",
    "zero_copy_available",
]

_GI_MODULES = ("Gst", "GstApp", "GstVideo", "GstAudio", "GstBase", "GstPbutils", "GLib", "GObject")


def __getattr__(name: str) -> Any:
    if name in _GI_MODULES:
        from . import _gi

        mod = _gi.module(name)
        if name in ("GLib", "GObject"):
            _gi.ensure_init()
        return mod
    raise AttributeError(f"module 'gstreamer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_GI_MODULES])
