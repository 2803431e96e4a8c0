"""The seed library's helpers, now correct (strides, mapping lifetime) and zero-copy."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Optional, Union

import numpy as np

from . import _gi
from .buffers import buffer_to_ndarray, ndarray_to_buffer
from .caps import VIDEO_FORMATS, layout_from_caps
from .errors import CapsError

__all__ = [
    "flatten_list",
    "fraction_to_str",
    "get_np_dtype",
    "get_num_channels",
    "gst_buffer_to_ndarray",
    "gst_buffer_with_caps_to_ndarray",
    "gst_buffer_with_pad_to_ndarray",
    "gst_state_to_str",
    "gst_video_format_from_string",
    "ndarray_to_gst_buffer",
    "to_gst_string",
]


def _format_name(fmt: Any) -> str:
    if isinstance(fmt, str):
        return fmt
    GstVideo = _gi.GstVideo()
    return str(GstVideo.VideoFormat.to_string(fmt))


def get_num_channels(fmt: Any) -> int:
    """Channels of a packed video format (GstVideo.VideoFormat or name): RGB → 3, GRAY8 → 1."""
    name = _format_name(fmt)
    spec = VIDEO_FORMATS.get(name)
    if spec is None:
        raise CapsError(f"unsupported video format {name!r}; supported: {', '.join(VIDEO_FORMATS)}")
    return spec.channels


def get_np_dtype(fmt: Any) -> np.dtype[Any]:
    """NumPy dtype of one sample of a video format (GRAY16_BE → ``>u2``)."""
    name = _format_name(fmt)
    spec = VIDEO_FORMATS.get(name)
    if spec is None:
        raise CapsError(f"unsupported video format {name!r}; supported: {', '.join(VIDEO_FORMATS)}")
    return np.dtype(spec.dtype)


def fraction_to_str(fraction: Union[Fraction, int]) -> str:
    """``Fraction(30000, 1001)`` → ``"30000/1001"``."""
    fraction = Fraction(fraction)
    return f"{fraction.numerator}/{fraction.denominator}"


def gst_state_to_str(state: Any) -> str:
    """``Gst.State.PLAYING`` → ``"PLAYING"``."""
    return str(_gi.Gst().Element.state_get_name(state))


def gst_video_format_from_string(frmt: str) -> Any:
    return _gi.GstVideo().VideoFormat.from_string(frmt)


def ndarray_to_gst_buffer(array: Any, caps: Any = None) -> Any:
    """Wrap an array in a ``Gst.Buffer`` without copying.

    The buffer's memory is the array's own (read-only) and keeps the array alive for as long
    as GStreamer uses it; a non-contiguous array is copied once. With ``caps`` the array is
    checked against them first (:class:`~gstreamer.CapsError`). See
    :func:`gstreamer.buffers.ndarray_to_buffer`.
    """
    return ndarray_to_buffer(array, caps)


def gst_buffer_to_ndarray(
    buffer: Any,
    *,
    width: int,
    height: int,
    channels: int,
    dtype: Any = np.uint8,
    copy: bool = False,
    do_copy: Optional[bool] = None,
    bpp: Optional[int] = None,
) -> np.ndarray:
    """View a packed-format buffer as ``(height, width, channels)`` (``(height, width)`` for
    one channel, as the seed returned).

    The row stride comes from the buffer's ``GstVideoMeta`` or, without it, from GStreamer's
    default 4-byte row alignment, so padded rows are read correctly. The view keeps the buffer
    mapped for as long as it lives; ``copy=True`` (seed: ``do_copy``) returns an owned copy.
    ``bpp`` is accepted for seed compatibility and ignored (``dtype`` gives the sample size).
    """
    del bpp
    if do_copy is not None:
        copy = do_copy
    dt = np.dtype(dtype)
    guess = {1: "GRAY8", 3: "RGB", 4: "RGBA"}
    if dt.itemsize == 2 and channels == 1:
        fmt = "GRAY16_BE" if dt.byteorder == ">" else "GRAY16_LE"
    elif dt.itemsize == 2 and channels == 4:
        fmt = "RGBA64_BE" if dt.byteorder == ">" else "RGBA64_LE"
    elif dt.itemsize == 1 and channels in guess:
        fmt = guess[channels]
    else:
        raise CapsError(f"no packed video format with {channels} channels of {dt}")
    layout = layout_from_caps(f"video/x-raw,format={fmt},width={width},height={height}")
    out = buffer_to_ndarray(buffer, layout, copy=copy)
    if not isinstance(out, np.ndarray):  # pragma: no cover - packed formats are one array
        raise CapsError(f"{fmt} buffer did not map to a single array")
    shape = (height, width) if channels == 1 else (height, width, channels)
    return out.reshape(shape)


def gst_buffer_with_caps_to_ndarray(
    buffer: Any, caps: Any, *, copy: bool = False, do_copy: Optional[bool] = None
) -> Any:
    """View a buffer with the given caps as an array (shape and dtype from the caps).

    Row padding is dropped; the view keeps the buffer mapped for as long as it lives.
    """
    if do_copy is not None:
        copy = do_copy
    return buffer_to_ndarray(buffer, caps, copy=copy)


def gst_buffer_with_pad_to_ndarray(
    buffer: Any, pad: Any, *, copy: bool = False, do_copy: Optional[bool] = None
) -> Any:
    """View a buffer using the current caps of ``pad``."""
    return gst_buffer_with_caps_to_ndarray(
        buffer, pad.get_current_caps(), copy=copy, do_copy=do_copy
    )


def flatten_list(in_list: list[Any]) -> list[Any]:
    """Flatten nested lists."""
    result: list[Any] = []
    for item in in_list:
        if isinstance(item, list):
            result.extend(flatten_list(item))
        else:
            result.append(item)
    return result


def to_gst_string(plugins: list[Any]) -> str:
    """``["a", "b", "c"]`` → ``"a ! b ! c"``; a pad reference such as ``"t."`` gets no ``!``."""
    items = flatten_list(plugins)
    if not items:
        return ""
    out = str(items[0])
    for item in items[1:]:
        text = str(item)
        out += f"{'' if text.endswith('.') else ' !'} {text}"
    return out
