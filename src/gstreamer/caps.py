"""Raw caps ⇄ array shape and dtype.

A :class:`VideoLayout` or :class:`AudioLayout` is computed once from caps (GStreamer's own
``GstVideoInfo`` / ``GstAudioInfo`` give strides, plane offsets and sizes) and then turns
mapped bytes into array views, or checks an array before it is pushed.

Video arrays
------------
* packed RGB-like formats: ``(height, width, channels)``
* GRAY8 / GRAY16_LE / GRAY16_BE: ``(height, width)`` (``uint8``, ``<u2``, ``>u2``)
* YUY2 / UYVY / YVYU (packed 4:2:2): ``(height, width, 2)``
* planar formats: one array per plane (``planes``); I420/YV12/NV12/NV21 also as a single
  ``(height * 3 // 2, width)`` array and Y444/Y42B-like formats as ``(3, height, width)``
  whenever the memory layout allows it.

Audio arrays
------------
interleaved: ``(samples, channels)``; non-interleaved: ``(channels, samples)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional, Union

import numpy as np

from . import _gi
from ._time import fps_fraction
from .errors import CapsError

__all__ = [
    "AUDIO_FORMATS",
    "MAX_FRAME_BYTES",
    "VIDEO_FORMATS",
    "AudioLayout",
    "VideoLayout",
    "audio_caps",
    "check_frame_size",
    "layout_from_caps",
    "video_caps",
]


@dataclass(frozen=True)
class _Plane:
    """How one plane of a format appears as an array."""

    w_shift: int  # log2 horizontal subsampling
    h_shift: int  # log2 vertical subsampling
    components: int  # interleaved components per pixel in this plane (1 = 2-D plane)


@dataclass(frozen=True)
class VideoFormatSpec:
    """What a raw video format looks like as NumPy arrays."""

    name: str
    dtype: str
    planes: tuple[_Plane, ...]
    channels: int  # last axis of a packed frame; 1 means a 2-D frame
    pair: bool = False  # packed 4:2:2 (YUY2...): (h, w, 2)

    @property
    def planar(self) -> bool:
        return len(self.planes) > 1

    @property
    def stacking(self) -> str:
        """How the planes form one array: ``""`` (packed or planes only), ``"444"``
        (``(3, h, w)``), ``"420"`` (``(h * 3 // 2, w)``) or ``"422"`` (``(h * 2, w)``)."""
        if not self.planar:
            return ""
        if len(self.planes) == 3 and all(p == _P1 for p in self.planes):
            return "444"
        if self.planes[1] in (_P420, _UV420):
            return "420"
        if self.planes[1] in (_P422, _UV422):
            return "422"
        return ""


def _packed(name: str, channels: int, dtype: str = "|u1") -> VideoFormatSpec:
    return VideoFormatSpec(name, dtype, (_Plane(0, 0, channels),), channels)


_P1 = _Plane(0, 0, 1)
_P420 = _Plane(1, 1, 1)
_P422 = _Plane(1, 0, 1)
_UV420 = _Plane(1, 1, 2)
_UV422 = _Plane(1, 0, 2)

VIDEO_FORMATS: dict[str, VideoFormatSpec] = {
    spec.name: spec
    for spec in [
        _packed("RGB", 3),
        _packed("BGR", 3),
        _packed("RGBA", 4),
        _packed("BGRA", 4),
        _packed("ARGB", 4),
        _packed("ABGR", 4),
        _packed("RGBx", 4),
        _packed("BGRx", 4),
        _packed("xRGB", 4),
        _packed("xBGR", 4),
        _packed("AYUV", 4),
        _packed("VUYA", 4),
        _packed("v308", 3),
        _packed("IYU2", 3),
        _packed("GRAY8", 1),
        _packed("GRAY16_LE", 1, "<u2"),
        _packed("GRAY16_BE", 1, ">u2"),
        _packed("RGBA64_LE", 4, "<u2"),
        _packed("RGBA64_BE", 4, ">u2"),
        _packed("BGRA64_LE", 4, "<u2"),
        _packed("BGRA64_BE", 4, ">u2"),
        _packed("ARGB64_LE", 4, "<u2"),
        _packed("ARGB64_BE", 4, ">u2"),
        _packed("ABGR64_LE", 4, "<u2"),
        _packed("ABGR64_BE", 4, ">u2"),
        VideoFormatSpec("YUY2", "|u1", (_Plane(0, 0, 2),), 2, pair=True),
        VideoFormatSpec("UYVY", "|u1", (_Plane(0, 0, 2),), 2, pair=True),
        VideoFormatSpec("YVYU", "|u1", (_Plane(0, 0, 2),), 2, pair=True),
        VideoFormatSpec("VYUY", "|u1", (_Plane(0, 0, 2),), 2, pair=True),
        VideoFormatSpec("I420", "|u1", (_P1, _P420, _P420), 1),
        VideoFormatSpec("YV12", "|u1", (_P1, _P420, _P420), 1),
        VideoFormatSpec("Y42B", "|u1", (_P1, _P422, _P422), 1),
        VideoFormatSpec("Y444", "|u1", (_P1, _P1, _P1), 1),
        VideoFormatSpec("GBR", "|u1", (_P1, _P1, _P1), 1),
        VideoFormatSpec("RGBP", "|u1", (_P1, _P1, _P1), 1),
        VideoFormatSpec("BGRP", "|u1", (_P1, _P1, _P1), 1),
        VideoFormatSpec("Y444_16LE", "<u2", (_P1, _P1, _P1), 1),
        VideoFormatSpec("Y444_16BE", ">u2", (_P1, _P1, _P1), 1),
        VideoFormatSpec("NV12", "|u1", (_P1, _UV420), 1),
        VideoFormatSpec("NV21", "|u1", (_P1, _UV420), 1),
        VideoFormatSpec("NV16", "|u1", (_P1, _UV422), 1),
        VideoFormatSpec("NV61", "|u1", (_P1, _UV422), 1),
        VideoFormatSpec("NV24", "|u1", (_P1, _Plane(0, 0, 2)), 1),
    ]
}

AUDIO_FORMATS: dict[str, str] = {
    "S8": "|i1",
    "U8": "|u1",
    "S16LE": "<i2",
    "S16BE": ">i2",
    "U16LE": "<u2",
    "U16BE": ">u2",
    "S32LE": "<i4",
    "S32BE": ">i4",
    "U32LE": "<u4",
    "U32BE": ">u4",
    "F32LE": "<f4",
    "F32BE": ">f4",
    "F64LE": "<f8",
    "F64BE": ">f8",
}


def _unsupported(fmt: str, kind: str) -> CapsError:
    names = VIDEO_FORMATS if kind == "video" else AUDIO_FORMATS
    return CapsError(f"unsupported {kind} format {fmt!r}; supported formats: {', '.join(names)}")


def _info_from_caps(info_type: Any, caps: Any, problem: str) -> Any:
    """``info_type.new_from_caps(caps)`` (``GstVideo.VideoInfo``, ``GstAudio.AudioInfo``), or
    :class:`CapsError` saying ``problem`` when the caps do not describe one."""
    try:
        info = info_type.new_from_caps(caps)
    except TypeError:  # PyGObject: "constructor returned NULL"
        info = None
    if info is None:
        raise CapsError(problem)
    return info


def _ceil_shift(value: int, shift: int) -> int:
    return -((-value) >> shift)


@dataclass
class VideoLayout:
    """The memory layout of one raw video frame, from caps."""

    format: str
    width: int
    height: int
    fps: Optional[Fraction]
    spec: VideoFormatSpec
    offsets: tuple[int, ...]
    strides: tuple[int, ...]
    size: int
    caps_string: str = ""
    _info: Any = field(default=None, repr=False, compare=False)

    kind = "video"

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(self.spec.dtype)

    def plane_shape(self, index: int) -> tuple[int, ...]:
        plane = self.spec.planes[index]
        h = _ceil_shift(self.height, plane.h_shift)
        w = _ceil_shift(self.width, plane.w_shift)
        if self.spec.pair:
            # (h, w, 2): two bytes per pixel; a 4:2:2 macropixel covers two pixels, so an
            # odd width carries one more (padding) pixel that holds the last chroma pair.
            w = _ceil_shift(self.width, 1) * 2
        if plane.components == 1:
            return (h, w)
        return (h, w, plane.components)

    @property
    def one_array(self) -> bool:
        """Whether a frame of this size can be one array (see :attr:`shape`).

        Packed formats always can; 4:2:0 formats need an even width and height, planar
        4:2:2 formats an even width; NV24 never (its planes come as a list).
        """
        stacking = self.spec.stacking
        if not self.spec.planar or stacking == "444":
            return True
        if stacking == "420":
            return self.width % 2 == 0 and self.height % 2 == 0
        if stacking == "422":
            return self.width % 2 == 0
        return False

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the single array that represents a frame (the input shape).

        Raises
        ------
        CapsError
            When the frame cannot be one array (:attr:`one_array` is False): use planes.
        """
        spec = self.spec
        if not spec.planar:
            return self.plane_shape(0)
        if not self.one_array:
            raise CapsError(
                f"{self.describe()} cannot be one array (odd size or NV24): pass a list of "
                f"planes with shapes {self.plane_shapes()}"
            )
        if spec.stacking == "444":
            return (3, self.height, self.width)
        if spec.stacking == "420":
            return (self.height * 3 // 2, self.width)
        return (self.height * 2, self.width)

    def plane_shapes(self) -> list[tuple[int, ...]]:
        """The shape of every plane, in GStreamer's plane order."""
        return [self.plane_shape(i) for i in range(len(self.spec.planes))]

    def _row_bytes(self, index: int) -> int:
        shape = self.plane_shape(index)
        per = shape[2] if len(shape) == 3 else 1
        return shape[1] * per * self.dtype.itemsize

    def tight_layout(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Offsets and strides of a C-contiguous array holding this frame."""
        offsets, strides, pos = [], [], 0
        for i in range(len(self.spec.planes)):
            row = self._row_bytes(i)
            offsets.append(pos)
            strides.append(row)
            pos += row * self.plane_shape(i)[0]
        return tuple(offsets), tuple(strides)

    # -- bytes -> arrays ---------------------------------------------------------------

    def plane_views(
        self,
        base: np.ndarray,
        offsets: Optional[tuple[int, ...]] = None,
        strides: Optional[tuple[int, ...]] = None,
    ) -> list[np.ndarray]:
        """Views of each plane inside ``base`` (a 1-D ``uint8`` array), without padding."""
        offsets = self.offsets if offsets is None else offsets
        strides = self.strides if strides is None else strides
        item = self.dtype.itemsize
        views = []
        for i in range(len(self.spec.planes)):
            shape = self.plane_shape(i)
            comp = shape[2] if len(shape) == 3 else 1
            byte_strides: tuple[int, ...] = (strides[i], comp * item)
            if len(shape) == 3:
                byte_strides += (item,)
            end = offsets[i] + (shape[0] - 1) * strides[i] + shape[1] * comp * item
            if shape[0] == 0 or shape[1] == 0:
                end = offsets[i]
            if end > base.nbytes or offsets[i] < 0:
                raise CapsError(
                    f"buffer of {base.nbytes} bytes is too small for {self.describe()} "
                    f"(plane {i} needs {end} bytes)"
                )
            view = np.ndarray(
                shape,
                dtype=self.dtype,
                buffer=base.data,
                offset=offsets[i],
                strides=byte_strides,
            )
            views.append(view)
        return views

    def frame_view(
        self,
        base: np.ndarray,
        offsets: Optional[tuple[int, ...]] = None,
        strides: Optional[tuple[int, ...]] = None,
    ) -> Optional[np.ndarray]:
        """The frame as one array (see :attr:`shape`), or None if the layout does not allow."""
        offsets = self.offsets if offsets is None else offsets
        strides = self.strides if strides is None else strides
        if not self.spec.planar:
            return self.plane_views(base, offsets, strides)[0]
        if not self.one_array:
            return None
        shape = self.shape
        item = self.dtype.itemsize
        n = len(self.spec.planes)
        if self.spec.stacking == "444":
            # (3, h, w): equal strides, planes evenly spaced and not overlapping
            s = strides[0]
            gap = offsets[1] - offsets[0]
            if any(st != s for st in strides[:n]) or offsets[2] - offsets[1] != gap:
                return None
            if gap < s * self.height or s < self.width * item:
                return None
            end = offsets[0] + 2 * gap + (self.height - 1) * s + self.width * item
            if end > base.nbytes:
                return None
            return np.ndarray(shape, self.dtype, base.data, offsets[0], (gap, s, item))
        tight_offsets, tight_strides = self.tight_layout()
        if self.full_width_rows:
            # NV12-like: every plane row is `width` items; any common stride works
            s = strides[0]
            rows = 0
            for i in range(n):
                if strides[i] != s or offsets[i] != offsets[0] + rows * s:
                    return None
                rows += self.plane_shape(i)[0]
        else:
            # I420-like: half-width chroma rows pack two per array row, only without padding
            s = self.width * item
            if tuple(strides[:n]) != tight_strides:
                return None
            if any(offsets[i] - offsets[0] != tight_offsets[i] for i in range(n)):
                return None
        end = offsets[0] + (shape[0] - 1) * s + shape[1] * item
        if end > base.nbytes or s < shape[1] * item:
            return None
        return np.ndarray(shape, self.dtype, base.data, offsets[0], (s, item))

    @property
    def full_width_rows(self) -> bool:
        """Whether every plane row holds ``width`` items (NV12-like), so a one-array frame
        can have any row stride; I420-like half-width chroma rows need a packed array."""
        return all(
            self.plane_shape(i)[1] * self._components(i) == self.width
            for i in range(len(self.spec.planes))
        )

    def _components(self, index: int) -> int:
        shape = self.plane_shape(index)
        return shape[2] if len(shape) == 3 else 1

    def describe(self) -> str:
        return f"{self.format} {self.width}x{self.height}"

    # -- arrays -> bytes ---------------------------------------------------------------

    def check_array(self, array: np.ndarray) -> np.ndarray:
        """Validate ``array`` against these caps; return it with the caps' byte order.

        Raises :class:`CapsError` naming what was expected and what came.
        """
        if not self.one_array:
            raise CapsError(
                f"{self.describe()} cannot be one array (odd size or NV24), got an array of "
                f"shape {array.shape}: pass a list of {len(self.spec.planes)} planes with "
                f"shapes {self.plane_shapes()} and dtype {self.dtype.name}"
            )
        expected = self.shape
        if array.shape != expected:
            # accept (h, w, 1) for 2-D formats
            if not (array.ndim == 3 and array.shape[2] == 1 and array.shape[:2] == expected):
                raise CapsError(
                    f"array of shape {array.shape} does not fit caps {self.describe()}: "
                    f"expected shape {expected} and dtype {self.dtype.name}"
                )
            array = array[:, :, 0]
        if array.dtype != self.dtype:
            if array.dtype.kind == self.dtype.kind and array.dtype.itemsize == self.dtype.itemsize:
                array = array.astype(self.dtype)  # byte order differs: one copy
            else:
                raise CapsError(
                    f"array of dtype {array.dtype} does not fit caps {self.describe()}: "
                    f"expected dtype {self.dtype.name} ({self.dtype.str}) and shape {expected}"
                )
        return array

    def split(self, array: np.ndarray) -> list[np.ndarray]:
        """Planes of a checked single-array frame (views; a copy only for a non-contiguous
        I420-like array, whose half-width chroma rows are not addressable otherwise)."""
        if not self.spec.planar:
            return [array]
        if self.spec.stacking == "444":
            return [array[0], array[1], array[2]]
        n = len(self.spec.planes)
        planes: list[np.ndarray] = []
        if self.full_width_rows:
            row = 0
            for i in range(n):
                pshape = self.plane_shape(i)
                planes.append(array[row : row + pshape[0]].reshape(pshape))
                row += pshape[0]
            return planes
        flat = np.ascontiguousarray(array).reshape(-1)
        offsets, _ = self.tight_layout()
        item = self.dtype.itemsize
        for i in range(n):
            pshape = self.plane_shape(i)
            count = int(np.prod(pshape))
            start = offsets[i] // item
            planes.append(flat[start : start + count].reshape(pshape))
        return planes

    def copy_into(self, planes: list[np.ndarray], dest: np.ndarray) -> None:
        """Copy plane arrays into ``dest`` (1-D uint8) laid out as GStreamer expects."""
        for src, dst in zip(planes, self.plane_views(dest)):
            np.copyto(dst, src.reshape(dst.shape), casting="no")

    @property
    def info(self) -> Any:
        return self._info


@dataclass
class AudioLayout:
    """The layout of raw audio, from caps."""

    format: str
    rate: int
    channels: int
    interleaved: bool
    dtype: np.dtype[Any]
    caps_string: str = ""
    _info: Any = field(default=None, repr=False, compare=False)

    kind = "audio"

    @property
    def bytes_per_frame(self) -> int:
        return self.channels * self.dtype.itemsize

    def describe(self) -> str:
        layout = "interleaved" if self.interleaved else "non-interleaved"
        return f"{self.format} {self.channels}ch {self.rate}Hz {layout}"

    def shape_for(self, samples: int) -> tuple[int, int]:
        if self.interleaved:
            return (samples, self.channels)
        return (self.channels, samples)

    def check_array(self, array: np.ndarray) -> np.ndarray:
        if array.ndim == 1 and self.channels == 1:
            array = array.reshape(self.shape_for(array.shape[0]))
        ch_axis = 1 if self.interleaved else 0
        if array.ndim != 2 or array.shape[ch_axis] != self.channels:
            want = "(samples, channels)" if self.interleaved else "(channels, samples)"
            raise CapsError(
                f"audio array of shape {array.shape} does not fit caps {self.describe()}: "
                f"expected {want} with channels={self.channels} and dtype {self.dtype.name}"
            )
        if array.dtype != self.dtype:
            if array.dtype.kind == self.dtype.kind and array.dtype.itemsize == self.dtype.itemsize:
                array = array.astype(self.dtype)
            else:
                raise CapsError(
                    f"audio array of dtype {array.dtype} does not fit caps {self.describe()}: "
                    f"expected dtype {self.dtype.name} ({self.dtype.str})"
                )
        return array

    @property
    def info(self) -> Any:
        return self._info


Layout = Union[VideoLayout, AudioLayout]


def _caps_obj(caps: Any) -> Any:
    Gst = _gi.Gst()
    if isinstance(caps, str):
        parsed = Gst.Caps.from_string(caps)
        if parsed is None:
            raise CapsError(f"cannot parse caps {caps!r}")
        return parsed
    return caps


def layout_from_caps(caps: Any) -> Layout:
    """A :class:`VideoLayout` or :class:`AudioLayout` for fixed raw caps (string or Gst.Caps).

    Raises
    ------
    CapsError
        When the caps are not raw audio/video, not fixed, or the format is unsupported.
    """
    caps = _caps_obj(caps)
    if caps.get_size() == 0:
        raise CapsError("empty caps")
    st = caps.get_structure(0)
    name = st.get_name()
    fmt = st.get_string("format")
    if name in ("video/x-raw", "audio/x-raw") and fmt is None:
        raise CapsError(
            f"caps {caps.to_string()!r} have no fixed format; add format=... (one of "
            + ", ".join(VIDEO_FORMATS if name == "video/x-raw" else AUDIO_FORMATS)
            + ")"
        )
    if name == "video/x-raw":
        if fmt not in VIDEO_FORMATS:
            raise _unsupported(str(fmt), "video")
        info = _info_from_caps(
            _gi.GstVideo().VideoInfo,
            caps,
            f"caps {caps.to_string()!r} are incomplete: video/x-raw needs format, "
            "width and height (and framerate for most sinks and encoders)",
        )
        n = info.finfo.n_planes
        ok, num, den = st.get_fraction("framerate")
        fps = Fraction(num, den) if ok and den else None
        return VideoLayout(
            format=fmt,
            width=info.width,
            height=info.height,
            fps=fps,
            spec=VIDEO_FORMATS[fmt],
            offsets=tuple(int(x) for x in info.offset[:n]),
            strides=tuple(int(x) for x in info.stride[:n]),
            size=int(info.size),
            caps_string=caps.to_string(),
            _info=info,
        )
    if name == "audio/x-raw":
        if fmt not in AUDIO_FORMATS:
            raise _unsupported(str(fmt), "audio")
        ok_r, rate = st.get_int("rate")
        ok_c, channels = st.get_int("channels")
        if not (ok_r and ok_c):
            raise CapsError(f"caps {caps.to_string()!r} need rate and channels")
        layout = st.get_string("layout") or "interleaved"
        if not st.has_field("layout"):  # interleaved is GStreamer's usual default
            text = st.to_string().rstrip(";")
            caps = _gi.Gst().Caps.from_string(f"{text},layout=interleaved")
        info = _info_from_caps(
            _gi.GstAudio().AudioInfo,
            caps,
            f"caps {caps.to_string()!r} are not valid raw audio caps: they need format, "
            "rate, channels and layout=interleaved or layout=non-interleaved, and more "
            "than 2 channels need a channel-mask, e.g. "
            f"channel-mask=(bitmask)0x{(1 << channels) - 1:x} (0x0: unpositioned)",
        )
        return AudioLayout(
            format=fmt,
            rate=rate,
            channels=channels,
            interleaved=layout == "interleaved",
            dtype=np.dtype(AUDIO_FORMATS[fmt]),
            caps_string=caps.to_string(),
            _info=info,
        )
    raise CapsError(
        f"caps {caps.to_string()!r} are not raw video or audio (video/x-raw, audio/x-raw)"
    )


def fps_str(fps: Union[int, float, Fraction, str, None]) -> Optional[str]:
    """A frame rate as caps write it (``"30000/1001"``; ``"0/1"`` for variable)."""
    if fps is None:
        return None
    frac = fps_fraction(fps) or Fraction(0)
    return f"{frac.numerator}/{frac.denominator}"


_GUESS_BY_CHANNELS = {1: "GRAY8", 3: "RGB", 4: "RGBA"}


#: Bytes one raw frame may take: GStreamer computes frame sizes in a signed 32-bit int.
MAX_FRAME_BYTES = 2**31 - 1


def check_frame_size(width: int, height: int, bytes_per_pixel: int = 1) -> None:
    """Raise :class:`CapsError` naming the size when a frame is empty or too large.

    Raises
    ------
    CapsError
        ``width`` or ``height`` is below 1, or the frame would exceed
        :data:`MAX_FRAME_BYTES`.
    """
    if width < 1 or height < 1:
        raise CapsError(
            f"frame size {width}x{height} is empty: width and height must be at least 1"
        )
    size = int(width) * int(height) * max(1, int(bytes_per_pixel))
    if size > MAX_FRAME_BYTES:
        raise CapsError(
            f"frame size {width}x{height} is too large: {size} bytes per frame, more than "
            f"GStreamer's limit of {MAX_FRAME_BYTES} bytes"
        )


def video_caps(
    shape: tuple[int, ...],
    dtype: Any = np.uint8,
    *,
    format: Optional[str] = None,
    fps: Union[int, float, Fraction, str, None] = None,
) -> str:
    """Caps string for frames of ``shape``/``dtype``.

    ``format`` picks among formats with the same shape (``"BGR"`` vs ``"RGB"``); without it
    ``(h, w)`` uint8 is GRAY8, ``(h, w)`` uint16 is GRAY16_LE, ``(h, w, 3)`` is RGB and
    ``(h, w, 4)`` is RGBA.
    """
    dt = np.dtype(dtype)
    if format is None:
        if dt.kind != "u":
            raise CapsError(
                f"cannot guess a video format for an array of shape {shape} and dtype {dt}: "
                "video formats hold unsigned integers; convert the frame (for example "
                "(frame * 255).clip(0, 255).astype(np.uint8)) or pass format= one of "
                f"{', '.join(VIDEO_FORMATS)}"
            )
        if len(shape) == 2:
            format = (
                "GRAY8"
                if dt.itemsize == 1
                else ("GRAY16_BE" if dt.byteorder == ">" else "GRAY16_LE")
            )
        elif len(shape) == 3 and shape[2] in _GUESS_BY_CHANNELS and dt.itemsize == 1:
            format = _GUESS_BY_CHANNELS[shape[2]]
        elif len(shape) == 3 and shape[2] == 4 and dt.itemsize == 2:
            format = "RGBA64_BE" if dt.byteorder == ">" else "RGBA64_LE"
        else:
            raise CapsError(
                f"cannot guess a video format for shape {shape} and dtype {dt}; pass format="
                f" one of {', '.join(VIDEO_FORMATS)}"
            )
    if format not in VIDEO_FORMATS:
        raise _unsupported(format, "video")
    spec = VIDEO_FORMATS[format]
    if len(shape) < 2:
        raise CapsError(f"a video frame needs at least 2 dimensions, got shape {shape}")
    stacking = spec.stacking
    if stacking == "444" and len(shape) == 3 and shape[0] == 3:
        height, width = shape[1], shape[2]
    elif stacking == "420" and len(shape) == 2 and shape[0] % 3 == 0:
        height, width = shape[0] * 2 // 3, shape[1]
    elif stacking == "422" and len(shape) == 2 and shape[0] % 2 == 0:
        height, width = shape[0] // 2, shape[1]
    elif spec.planar:
        raise CapsError(
            f"shape {shape} is not a one-array {format} frame; expected "
            + {"444": "(3, height, width)", "420": "(height * 3 // 2, width)"}.get(
                stacking, "(height * 2, width)" if stacking else "a list of planes"
            )
            + "; for odd sizes pass width and height to the caps directly"
        )
    else:
        height, width = shape[0], shape[1]
    check_frame_size(width, height, int(np.prod(shape[2:], dtype=np.int64)) * dt.itemsize)
    caps = f"video/x-raw,format={format},width={width},height={height}"
    rate = fps_str(fps)
    if rate:
        caps += f",framerate={rate}"
    return caps


def audio_caps(
    dtype: Any,
    channels: int,
    rate: int,
    *,
    interleaved: bool = True,
) -> str:
    """Caps string for audio samples of ``dtype`` with ``channels`` at ``rate`` Hz."""
    dt = np.dtype(dtype)
    if dt.byteorder == "=":
        dt = dt.newbyteorder("<" if np.little_endian else ">")
    want = dt.str if dt.itemsize > 1 else "|" + dt.str[1:]
    for name, code in AUDIO_FORMATS.items():
        if code == want:
            layout = "interleaved" if interleaved else "non-interleaved"
            caps = f"audio/x-raw,format={name},rate={rate},channels={channels},layout={layout}"
            if channels > 2 or not interleaved:
                caps += f",channel-mask=(bitmask)0x{(1 << channels) - 1:x}" if channels > 2 else ""
            return caps
    raise CapsError(
        f"no raw audio format for dtype {dt}; supported: "
        + ", ".join(f"{k} ({v})" for k, v in AUDIO_FORMATS.items())
    )
