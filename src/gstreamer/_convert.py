"""Colour conversion on the caller's thread, through :mod:`ctypes`: decoded YUV → RGB with
FFmpeg's libswscale, and RGB → I420 for the encoders with libyuv.

Reading
-------

``videoconvert`` turns 720p I420 into RGB at about 1.1 ms of CPU per frame on this kind of
machine; libswscale's SIMD path does it in about 0.35 ms and gives the very bytes the
``ffmpeg`` CLI, PyAV, OpenCV and decord give (all use libswscale). So the :class:`Reader`
lets the decoder's YUV frames reach its appsink unconverted and converts each one here,
in the thread that reads (the GIL is released while libswscale runs), into a new owned
array. The decoded buffer goes back to the decoder's pool at once, so the appsink queue
holds YUV frames (half the bytes of RGB).

libswscale comes with FFmpeg's libraries, which ``gstreamer1.0-libav`` already pulls in;
when it cannot be loaded, :func:`available` is False and the Reader keeps ``videoconvert``.

Colours: the matrix (BT.601, BT.709, ...) and range (limited or full) are read from the
caps through ``GstVideoInfo``, so they follow GStreamer's reading of the stream exactly as
``videoconvert`` did; :func:`colorspace` is the one place that maps them.

Writing
-------
``videoconvert`` turns a 720p RGB frame into I420 in about 1.8 ms of CPU (libswscale, as
PyAV and the ffmpeg CLI use it: 1.5 ms); libyuv's SIMD ``RAWToJ420`` takes about 0.13 ms.
The :class:`~gstreamer.Writer` converts with :class:`RgbToI420` before pushing when its
encoder takes I420 (x264enc, openh264enc, x265enc) and the size is even. libyuv's J420 is
full-range BT.601, the Writer's colorimetry (:data:`gstreamer._colour.WRITER_COLORIMETRY`),
so the caps and the stream are tagged with it as with ``videoconvert``.
"""

from __future__ import annotations

import ctypes
import mmap
import threading
import weakref
from typing import Any, Callable, Optional

import numpy as np

from . import _gi
from ._colour import WRITER_COLORIMETRY
from .buffers import LoadOnce, MappedBuffer, _meta_layout, c_function, load_library
from .caps import VideoLayout, layout_from_caps
from .errors import BufferError

__all__ = [
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "RGB_TO_I420",
    "RgbToI420",
    "YuvToRgb",
    "appsink_caps",
    "available",
    "colorspace",
    "i420_available",
]

# GStreamer format -> FFmpeg pixel format (YV12 is yuv420p with its chroma planes swapped).
INPUT_FORMATS: dict[str, str] = {
    "I420": "yuv420p",
    "YV12": "yuv420p",
    "NV12": "nv12",
    "NV21": "nv21",
    "Y42B": "yuv422p",
    "Y444": "yuv444p",
}
OUTPUT_FORMATS: dict[str, tuple[str, int]] = {
    "RGB": ("rgb24", 3),
    "BGR": ("bgr24", 3),
    "RGBA": ("rgba", 4),
    "BGRA": ("bgra", 4),
    "ARGB": ("argb", 4),
    "ABGR": ("abgr", 4),
    "RGBx": ("rgb0", 4),
    "BGRx": ("bgr0", 4),
    "xRGB": ("0rgb", 4),
    "xBGR": ("0bgr", 4),
}

_AV_LOG_INFO, _AV_LOG_WARNING = 32, 24
_PAD = 256  # bytes after arrays libswscale writes or reads (its SIMD works in 8-32 px blocks)
_SWS_BICUBIC = 4  # the ffmpeg CLI's default flags: the same bytes as `ffmpeg -pix_fmt rgb24`
# GstVideoColorMatrix -> SWS_CS_*
_MATRIX = {1: 5, 2: 4, 3: 1, 4: 5, 5: 7, 6: 9}  # RGB(unused), FCC, BT709, BT601, 240M, BT2020
_SWS_CS_DEFAULT = 5  # BT.601
_RANGE_FULL = 1  # GST_VIDEO_COLOR_RANGE_0_255


class _Sws:
    """ctypes handles for the few libswscale / libavutil functions used."""

    def __init__(self) -> None:
        sws = load_library("libswscale.so.6", "swscale")
        avutil = load_library("libavutil.so.57", "avutil")
        vp, ci = ctypes.c_void_p, ctypes.c_int
        self.get_context = c_function(
            sws, "sws_getContext", vp, ci, ci, ci, ci, ci, ci, ci, vp, vp, vp
        )
        pvp, pci = ctypes.POINTER(vp), ctypes.POINTER(ci)
        self.scale = c_function(sws, "sws_scale", ci, vp, pvp, pci, ci, ci, pvp, pci)
        self.free_context = c_function(sws, "sws_freeContext", None, vp)
        self.coefficients = c_function(sws, "sws_getCoefficients", vp, ci)
        self.set_details = c_function(
            sws, "sws_setColorspaceDetails", ci, vp, vp, ci, vp, ci, ci, ci, ci
        )
        pix_fmt = c_function(avutil, "av_get_pix_fmt", ci, ctypes.c_char_p)
        # libswscale says at INFO level which of its paths it takes ("No accelerated
        # colorspace conversion found ..."); keep those off stderr, warnings and errors stay
        get_level = c_function(avutil, "av_log_get_level", ci)
        set_level = c_function(avutil, "av_log_set_level", None, ci)
        if get_level() == _AV_LOG_INFO:
            set_level(_AV_LOG_WARNING)
        names = set(INPUT_FORMATS.values()) | {v[0] for v in OUTPUT_FORMATS.values()}
        self.pix_fmts = {name: int(pix_fmt(name.encode())) for name in names}
        if any(v < 0 for v in self.pix_fmts.values()):
            raise OSError("libavutil does not know some pixel formats")


_lib = LoadOnce(_Sws)


def _get() -> Optional[_Sws]:
    return _lib.get()


def available() -> bool:
    """True when libswscale can be loaded (the Reader then converts with it)."""
    return _get() is not None


def appsink_caps(format: str, fields: str = "") -> str:
    """Caps for an appsink whose :class:`~gstreamer.appsink.AppSinkPuller` converts to
    ``format``: ``format`` itself first (a source that makes it is handed over untouched),
    else any YUV layout of :data:`INPUT_FORMATS` (converted here with libswscale).

    ``fields`` (``",width=320"`` ...) apply to both. Without libswscale, or for a format
    it does not make, the caps ask for ``format`` only (``videoconvert`` makes it).
    """
    caps = f"video/x-raw,format={format}{fields}"
    if format in OUTPUT_FORMATS and available():
        yuv = ", ".join(INPUT_FORMATS)
        caps += f";video/x-raw,format=(string){{{yuv}}}{fields}"
    return caps


def colorspace(info: Any) -> tuple[int, bool]:
    """``(SWS_CS_* matrix, full_range)`` for a ``GstVideoInfo``'s colorimetry.

    GStreamer fills in a default colorimetry for caps that carry none (BT.709 from 720p
    up, BT.601 below), as ``videoconvert`` would use it.
    """
    colorimetry = info.colorimetry
    matrix = _MATRIX.get(int(colorimetry.matrix), _SWS_CS_DEFAULT)
    return matrix, int(colorimetry.range) == _RANGE_FULL


def memory_root(array: Any) -> Any:
    """The array that owns the memory behind ``array`` (NumPy's ``base`` chain of views)."""
    root = array
    while isinstance(root, np.ndarray) and isinstance(root.base, np.ndarray):
        root = root.base
    return root


class _Recycled:
    """Output memory for one converter's arrays, reused once the arrays are freed.

    Each array is a view of its own anonymous memory map. When the caller frees the array,
    its map goes back to a short free list and a later frame is converted into it: its pages
    are in memory already (no page faults), and no allocator arena keeps freed frames
    around (glibc keeps up to twice the largest freed block at the top of each thread's
    arena). At most :data:`_KEEP` free maps are kept; the others, and every map after
    :meth:`close`, are unmapped as soon as their array is freed. A map is never reused while
    an array (or a view of it) still points into it.
    """

    def __init__(self, nbytes: int) -> None:
        self._nbytes = max(1, nbytes)
        self._free: list[mmap.mmap] = []  # list.append/pop are atomic: no lock needed
        self._closed = False
        # id of each array in use -> the finaliser that gives its map back
        self._finalizers: dict[int, weakref.finalize[Any, Any]] = {}
        self.made = 0  # maps made so far (the tests count them)

    @property
    def free(self) -> int:
        """Maps waiting to be reused."""
        return len(self._free)

    def take(self) -> np.ndarray:
        """A flat ``uint8`` array of ``nbytes`` (contents undefined)."""
        try:
            mm = self._free.pop()
        except IndexError:
            mm = mmap.mmap(-1, self._nbytes)
            self.made += 1
        flat = np.frombuffer(mm, np.uint8)
        # NumPy points every view of ``flat`` (and views of views) at ``flat`` itself: it
        # lives exactly as long as the memory is in use
        key = id(flat)
        finalizer = weakref.finalize(flat, self._give_back, mm, key)
        finalizer.atexit = False
        self._finalizers[key] = finalizer
        return flat

    def giver_back(self, array: Any) -> Optional[Callable[[], Any]]:
        """What gives the memory behind ``array`` back (None if it is not from here).

        Calling it once ``array`` and its views are freed returns the map at once (later
        calls, and the finaliser's own, do nothing): a weak-reference callback on the same
        array may otherwise run first (Python runs the newest first) and find no free map.
        """
        return self._finalizers.get(id(memory_root(array)))

    def _give_back(self, mm: mmap.mmap, key: int) -> None:
        self._finalizers.pop(key, None)
        if not self._closed and len(self._free) < _KEEP:
            self._free.append(mm)

    def close(self) -> None:
        """Drop the free maps; maps of arrays still in use go when the arrays are freed."""
        self._closed = True
        self._free.clear()


# Free output maps a converter keeps: the caller's next frame and the one converted ahead.
_KEEP = 2


class YuvToRgb:
    """Converts raw YUV buffers of one layout into RGB-like arrays.

    Parameters
    ----------
    layout : VideoLayout
        The decoded frames (a format of :data:`INPUT_FORMATS`).
    format : str
        The wanted format (a key of :data:`OUTPUT_FORMATS`).

    Attributes
    ----------
    layout : VideoLayout
        The layout of the arrays :meth:`convert` returns (C-contiguous).
    caps : str
        Caps describing them.
    """

    def __init__(self, layout: VideoLayout, format: str) -> None:
        lib = _get()
        if lib is None:
            raise BufferError("libswscale is not available")
        if layout.format not in INPUT_FORMATS or format not in OUTPUT_FORMATS:
            raise BufferError(f"cannot convert {layout.format} to {format} with libswscale")
        self._lib = lib
        self._in = layout
        self._swap = layout.format == "YV12"
        w, h = layout.width, layout.height
        name, channels = OUTPUT_FORMATS[format]
        self._shape = (h, w, channels)
        self._stride = w * channels
        self.caps = _output_caps(layout, format)
        out = layout_from_caps(self.caps)
        assert isinstance(out, VideoLayout)
        self.layout = VideoLayout(
            format=out.format,
            width=w,
            height=h,
            fps=out.fps,
            spec=out.spec,
            offsets=(0,),
            strides=(self._stride,),
            size=self._stride * h,
            caps_string=self.caps,
            _info=out.info,
        )
        ctx = lib.get_context(
            w,
            h,
            lib.pix_fmts[INPUT_FORMATS[layout.format]],
            w,
            h,
            lib.pix_fmts[name],
            _SWS_BICUBIC,
            None,
            None,
            None,
        )
        if not ctx:
            raise BufferError(f"libswscale cannot convert {layout.describe()} to {format}")
        self._ctx: Optional[int] = ctx
        matrix, full = colorspace(layout.info)
        table = lib.coefficients(matrix)
        lib.set_details(ctx, table, int(full), table, 1, 0, 1 << 16, 1 << 16)
        self._planes = len(layout.spec.planes)
        self._src = (ctypes.c_void_p * 4)()
        self._src_strides = (ctypes.c_int * 4)()
        self._dst = (ctypes.c_void_p * 4)()
        self._dst_strides = (ctypes.c_int * 4)(self._stride, 0, 0, 0)
        self._call_lock = threading.Lock()
        self._memory = _Recycled(self._stride * h + _PAD)

    def convert(self, buffer: Any) -> np.ndarray:
        """A new ``(height, width, channels)`` array from a buffer of the input layout."""
        size = self._stride * self._shape[0]
        # libswscale's SIMD loops work in blocks of up to 32 pixels: they may write past the
        # end of the last row (and read past the end of the last input rows), as FFmpeg's
        # own padded frames allow; the array is a C-contiguous view of a padded allocation
        flat = self._memory.take()
        out = flat[:size].reshape(self._shape)
        if size == 0:
            return out
        mapping = MappedBuffer(buffer)
        try:
            offsets, strides = _meta_layout(buffer, self._in)
            base = mapping.address
            order = [0, 2, 1] if self._swap else list(range(self._planes))
            rows = [self._in.plane_shape(i)[0] for i in range(self._planes)]
            ends = [offsets[i] + strides[i] * (rows[i] - 1) for i in range(self._planes)]
            if max(ends) > mapping.nbytes:
                raise BufferError(
                    f"a {mapping.nbytes}-byte buffer is too small for {self._in.describe()}"
                )
            row_bytes = [self._in._row_bytes(i) for i in range(self._planes)]
            if max(e + -(-r // 64) * 64 for e, r in zip(ends, row_bytes)) > mapping.nbytes:
                # no room after the last rows for the SIMD loops' over-read: one copy
                scratch = np.zeros(mapping.nbytes + 2 * _PAD, np.uint8)
                scratch[: mapping.nbytes] = mapping.array()
                base = scratch.ctypes.data
            with self._call_lock:
                if self._ctx is None:
                    raise BufferError("the converter is closed")
                for slot, plane in enumerate(order):
                    self._src[slot] = base + offsets[plane]
                    self._src_strides[slot] = strides[plane]
                self._dst[0] = out.ctypes.data
                self._lib.scale(
                    self._ctx,
                    self._src,
                    self._src_strides,
                    0,
                    self._shape[0],
                    self._dst,
                    self._dst_strides,
                )
        finally:
            mapping.release()
        return out

    def giver_back(self, array: Any) -> Optional[Callable[[], Any]]:
        """See :meth:`_Recycled.giver_back` (for an array :meth:`convert` returned)."""
        return self._memory.giver_back(array)

    def close(self) -> None:
        """Free the libswscale context; idempotent."""
        with self._call_lock:
            ctx, self._ctx = self._ctx, None
        if ctx:
            self._lib.free_context(ctx)
        self._memory.close()

    def __del__(self) -> None:
        ctx, self._ctx = getattr(self, "_ctx", None), None
        if ctx:
            self._lib.free_context(ctx)


def _output_caps(layout: VideoLayout, format: str) -> str:
    """The input caps with the output format, without the YUV-only fields."""
    Gst = _gi.Gst()
    caps = Gst.Caps.from_string(layout.caps_string)
    st = caps.get_structure(0).copy()
    st.set_value("format", format)
    for name in ("chroma-site", "colorimetry"):
        st.remove_field(name)
    out = Gst.Caps.new_empty()
    out.append_structure(st)
    return str(out.to_string())


# -- RGB -> I420 with libyuv ---------------------------------------------------------------

# GStreamer format -> libyuv function (libyuv names formats by their little-endian word:
# its "RAW" is R, G, B in memory, its "ABGR" is R, G, B, A in memory). J420 is full-range
# BT.601 (JPEG's), the Writer's colorimetry (gstreamer._colour.WRITER_COLORIMETRY).
RGB_TO_I420: dict[str, str] = {
    "RGB": "RAWToJ420",
    "BGR": "RGB24ToJ420",
    "RGBA": "ABGRToJ420",
    "RGBx": "ABGRToJ420",
    "BGRA": "ARGBToJ420",
    "BGRx": "ARGBToJ420",
}


class _Yuv:
    def __init__(self) -> None:
        lib = load_library("libyuv.so.0", "yuv")
        vp, ci = ctypes.c_void_p, ctypes.c_int
        self.functions = {}
        for name in set(RGB_TO_I420.values()):
            self.functions[name] = c_function(lib, name, ci, vp, ci, vp, ci, vp, ci, vp, ci, ci, ci)


_yuv = LoadOnce(_Yuv)


def _get_yuv() -> Optional[_Yuv]:
    return _yuv.get()


def i420_available() -> bool:
    """True when libyuv can be loaded (the Writer then converts RGB to I420 with it)."""
    return _get_yuv() is not None


class RgbToI420:
    """Converts RGB-like arrays of one layout into I420 buffers (full-range BT.601).

    Attributes
    ----------
    caps : str
        The I420 caps of the buffers :meth:`convert` returns.
    """

    def __init__(self, layout: VideoLayout) -> None:
        lib = _get_yuv()
        if lib is None:
            raise BufferError("libyuv is not available")
        if layout.format not in RGB_TO_I420:
            raise BufferError(f"cannot convert {layout.format} to I420 with libyuv")
        self._fn = lib.functions[RGB_TO_I420[layout.format]]
        self._in = layout
        Gst = _gi.Gst()
        caps = Gst.Caps.from_string(layout.caps_string)
        st = caps.get_structure(0).copy()
        st.set_value("format", "I420")
        st.set_value("colorimetry", WRITER_COLORIMETRY)
        out = Gst.Caps.new_empty()
        out.append_structure(st)
        self.caps = str(out.to_string())
        i420 = layout_from_caps(self.caps)
        assert isinstance(i420, VideoLayout)
        self.layout = i420

    def convert(self, array: np.ndarray) -> np.ndarray:
        """The frame as a flat ``uint8`` array in GStreamer's default I420 layout."""
        layout = self._in
        array = layout.check_array(array)
        if array.strides[1:] != (array.shape[2], 1) or array.strides[0] < 0:
            array = np.ascontiguousarray(array)
        out = np.empty(self.layout.size, np.uint8)
        if out.size == 0 or array.size == 0:
            return out
        base = out.ctypes.data
        (oy, ou, ov), (sy, su, sv) = self.layout.offsets, self.layout.strides
        self._fn(
            array.ctypes.data,
            array.strides[0],
            base + oy,
            sy,
            base + ou,
            su,
            base + ov,
            sv,
            layout.width,
            layout.height,
        )
        return out
