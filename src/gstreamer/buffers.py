"""Zero-copy NumPy ⇄ ``Gst.Buffer``.

PyGObject alone copies: ``Gst.Buffer.new_wrapped(a.tobytes())`` copies twice and
``Buffer.map()`` returns ``bytes``. This module reaches the C API with :mod:`ctypes`:

* **In** — :func:`ndarray_to_buffer` wraps the array's memory in a read-only ``GstMemory``
  whose destroy-notify drops our reference to the array, so the array lives exactly as long
  as GStreamer uses it, and elements that write in place copy first.
* **Out** — :func:`buffer_to_ndarray` maps the buffer and returns a view whose base object
  holds the mapping and a buffer reference; the memory is unmapped when the last view dies.

When the C layer cannot be reached (an unexpected PyGObject object layout), both directions
fall back to one safe copy; :func:`zero_copy_available` says which is in use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import threading
from typing import Any, Optional, Union

import numpy as np

from . import _gi
from .caps import AudioLayout, Layout, VideoLayout, layout_from_caps
from .errors import BufferError, CapsError

__all__ = [
    "MappedBuffer",
    "buffer_to_ndarray",
    "buffer_to_planes",
    "live_wrapped_arrays",
    "ndarray_to_buffer",
    "zero_copy_available",
]

_MAP_READ = 1
_MAP_WRITE = 2
_MEMORY_FLAG_READONLY = 2


class _MapInfo(ctypes.Structure):
    _fields_ = [
        ("memory", ctypes.c_void_p),
        ("flags", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("size", ctypes.c_size_t),
        ("maxsize", ctypes.c_size_t),
        ("user_data", ctypes.c_void_p * 4),
        ("_gst_reserved", ctypes.c_void_p * 4),
    ]


_DestroyNotify = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class _Lib:
    """ctypes handles for the few C functions PyGObject cannot give us without copying."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("gstreamer-1.0") or "libgstreamer-1.0.so.0"
        lib = ctypes.CDLL(name)
        vp, sz = ctypes.c_void_p, ctypes.c_size_t
        self.memory_new_wrapped = lib.gst_memory_new_wrapped
        self.memory_new_wrapped.restype = vp
        self.memory_new_wrapped.argtypes = [ctypes.c_int, vp, sz, sz, sz, vp, _DestroyNotify]
        self.buffer_append_memory = lib.gst_buffer_append_memory
        self.buffer_append_memory.restype = None
        self.buffer_append_memory.argtypes = [vp, vp]
        self.buffer_map = lib.gst_buffer_map
        self.buffer_map.restype = ctypes.c_int
        self.buffer_map.argtypes = [vp, ctypes.POINTER(_MapInfo), ctypes.c_int]
        self.buffer_unmap = lib.gst_buffer_unmap
        self.buffer_unmap.restype = None
        self.buffer_unmap.argtypes = [vp, ctypes.POINTER(_MapInfo)]
        self.buffer_get_size = lib.gst_buffer_get_size
        self.buffer_get_size.restype = sz
        self.buffer_get_size.argtypes = [vp]
        self.mini_object_ref = lib.gst_mini_object_ref
        self.mini_object_ref.restype = vp
        self.mini_object_ref.argtypes = [vp]
        self.mini_object_unref = lib.gst_mini_object_unref
        self.mini_object_unref.restype = None
        self.mini_object_unref.argtypes = [vp]
        self.buffer_is_writable = lib.gst_mini_object_is_writable
        self.buffer_is_writable.restype = ctypes.c_int
        self.buffer_is_writable.argtypes = [vp]
        Gst = _gi.Gst()
        self.buffer_gtype = hash(Gst.Buffer.__gtype__)
        self.pointer_offset = _find_pointer_offset(self, Gst)


def _find_pointer_offset(lib: _Lib, Gst: Any) -> Optional[int]:
    """Offset of the C pointer inside a PyGObject boxed wrapper, verified on a probe buffer."""
    probe = Gst.Buffer.new_allocate(None, 12345, None)
    for offset in (2 * ctypes.sizeof(ctypes.c_void_p), 3 * ctypes.sizeof(ctypes.c_void_p)):
        ptr = ctypes.c_void_p.from_address(id(probe) + offset).value
        if not ptr:
            continue
        # GstMiniObject starts with its GType: check it before calling anything.
        if ctypes.c_size_t.from_address(ptr).value != lib.buffer_gtype:
            continue
        if lib.buffer_get_size(ptr) == 12345:
            return offset
    return None


_lib: Optional[_Lib] = None
_lib_lock = threading.Lock()


def _get_lib() -> Optional[_Lib]:
    global _lib
    if _lib is None:
        with _lib_lock:
            if _lib is None:
                try:
                    _lib = _Lib()
                except (OSError, AttributeError):  # pragma: no cover - exotic platforms
                    return None
    return _lib if _lib.pointer_offset is not None else None


def zero_copy_available() -> bool:
    """True when buffers are wrapped and mapped without copying (the C layer is reachable)."""
    return _get_lib() is not None


def _buffer_pointer(lib: _Lib, buffer: Any) -> int:
    Gst = _gi.Gst()
    if not isinstance(buffer, Gst.Buffer):
        raise TypeError(f"expected Gst.Buffer, got {type(buffer).__name__}")
    assert lib.pointer_offset is not None
    ptr = ctypes.c_void_p.from_address(id(buffer) + lib.pointer_offset).value
    if not ptr or ctypes.c_size_t.from_address(ptr).value != lib.buffer_gtype:
        raise BufferError("could not read the GstBuffer pointer from its Python wrapper")
    return ptr


# -- in: ndarray -> Gst.Buffer -----------------------------------------------------------

# Arrays kept alive while GStreamer holds memory that points into them.
_alive: dict[int, Any] = {}
_alive_lock = threading.Lock()
_keys = itertools.count(1)


@_DestroyNotify
def _release(key: Optional[int]) -> None:  # called by GStreamer when the memory is freed
    with _alive_lock:
        _alive.pop(key or 0, None)


def live_wrapped_arrays() -> int:
    """How many arrays are currently kept alive by GStreamer memory (for leak checks)."""
    return len(_alive)


def _as_array(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data
    if hasattr(data, "__array_interface__") or hasattr(data, "__array__"):
        return np.asarray(data)
    try:
        return np.frombuffer(memoryview(data), dtype=np.uint8)
    except TypeError:
        pass
    numpy_method = getattr(data, "numpy", None)  # e.g. a CPU torch tensor
    if callable(numpy_method):
        return np.asarray(numpy_method())
    raise TypeError(
        f"cannot make a buffer from {type(data).__name__}: expected a NumPy array or an object "
        "with the buffer protocol or __array_interface__"
    )


def _wrap_region(lib: _Lib, owner: Any, address: int, size: int) -> Any:
    """A new Gst.Buffer whose single read-only memory is ``size`` bytes at ``address``."""
    Gst = _gi.Gst()
    buf = Gst.Buffer.new()
    key = next(_keys)
    with _alive_lock:
        _alive[key] = owner
    mem = lib.memory_new_wrapped(_MEMORY_FLAG_READONLY, address, size, 0, size, key, _release)
    if not mem:
        with _alive_lock:
            _alive.pop(key, None)
        raise BufferError("gst_memory_new_wrapped failed")
    lib.buffer_append_memory(_buffer_pointer(lib, buf), mem)
    return buf


def _copy_buffer(data: Union[bytes, np.ndarray]) -> Any:
    Gst = _gi.Gst()
    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    return Gst.Buffer.new_wrapped(raw)


def _row_strided(array: np.ndarray) -> bool:
    """Rows contiguous inside, positive row stride at least one row long."""
    if array.ndim < 2 or array.strides[0] <= 0:
        return False
    inner = array[0]
    if not inner.flags.c_contiguous:
        return False
    return array.strides[0] >= inner.nbytes


def ndarray_to_buffer(
    data: Any,
    caps: Any = None,
    *,
    video_meta: bool = True,
) -> Any:
    """Wrap ``data`` in a ``Gst.Buffer`` without copying when possible.

    Parameters
    ----------
    data : array_like or list of arrays
        A NumPy array, anything with the buffer protocol or ``__array_interface__`` (a CPU
        torch tensor works through NumPy), or — for planar video — a list of plane arrays.
    caps : str, Gst.Caps, VideoLayout or AudioLayout, optional
        When given, the array is checked against the caps before anything is pushed
        (:class:`~gstreamer.errors.CapsError` on mismatch), and a row-strided or tightly
        packed array whose layout differs from GStreamer's default gets a ``GstVideoMeta``
        describing it.
    video_meta : bool
        If False, such arrays are copied once into GStreamer's default (padded) layout
        instead, for downstream elements that ignore ``GstVideoMeta``.

    Returns
    -------
    Gst.Buffer
        A buffer whose memory is the array's own (read-only; the array is kept alive until
        GStreamer frees the memory), or one copy of it when the array is not contiguous.
    """
    layout: Optional[Layout] = None
    if caps is not None:
        layout = caps if isinstance(caps, (VideoLayout, AudioLayout)) else layout_from_caps(caps)
    if isinstance(layout, VideoLayout):
        return _video_to_buffer(data, layout, video_meta)
    if isinstance(data, (list, tuple)):
        raise CapsError("a list of planes needs caps= to know the format")
    array = _as_array(data)
    if isinstance(layout, AudioLayout):
        array = layout.check_array(array)
        if not layout.interleaved:
            return _planar_audio_to_buffer(array, layout)
    return _wrap_contiguous(array)


def _wrap_contiguous(array: np.ndarray) -> Any:
    lib = _get_lib()
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)  # the one copy
    if lib is None:
        return _copy_buffer(array)
    if array.nbytes == 0:
        return _gi.Gst().Buffer.new()
    return _wrap_region(lib, array, array.ctypes.data, array.nbytes)


def _video_to_buffer(data: Any, layout: VideoLayout, video_meta: bool) -> Any:
    lib = _get_lib()
    if isinstance(data, (list, tuple)):
        planes = [np.asarray(p) for p in data]
        if len(planes) != len(layout.spec.planes):
            raise CapsError(
                f"{layout.format} has {len(layout.spec.planes)} planes, got {len(planes)} arrays"
            )
        for i, p in enumerate(planes):
            if p.shape != layout.plane_shape(i) or p.dtype.str[1:] != layout.dtype.str[1:]:
                raise CapsError(
                    f"plane {i} of shape {p.shape} and dtype {p.dtype} does not fit "
                    f"{layout.describe()}: expected {layout.plane_shape(i)} {layout.dtype.name}"
                )
        return _copy_planes(planes, layout)
    array = layout.check_array(_as_array(data))
    planes = None
    offsets: Optional[tuple[int, ...]] = None
    strides: Optional[tuple[int, ...]] = None
    if array.flags.c_contiguous:
        if layout.spec.planar:
            offsets, strides = layout.tight_layout()
        else:
            offsets, strides = (0,), (array.strides[0],)
        size = array.nbytes
    elif not layout.spec.planar and _row_strided(array):
        offsets, strides = (0,), (array.strides[0],)
        size = (array.shape[0] - 1) * array.strides[0] + array[0].nbytes
    else:
        planes = layout.split(array)
    if planes is not None or lib is None:
        return _copy_planes(planes or layout.split(array), layout)
    assert offsets is not None and strides is not None
    if offsets == layout.offsets and strides == layout.strides:
        return _wrap_region(lib, array, array.ctypes.data, size)
    if not video_meta:
        return _copy_planes(layout.split(array), layout)
    buf = _wrap_region(lib, array, array.ctypes.data, size)
    _add_video_meta(buf, layout, offsets, strides)
    return buf


def _add_video_meta(
    buf: Any, layout: VideoLayout, offsets: tuple[int, ...], strides: tuple[int, ...]
) -> None:
    GstVideo = _gi.GstVideo()
    n = len(offsets)
    fmt = GstVideo.VideoFormat.from_string(layout.format)
    GstVideo.buffer_add_video_meta_full(
        buf,
        GstVideo.VideoFrameFlags.NONE,
        fmt,
        layout.width,
        layout.height,
        n,
        list(offsets) + [0] * (4 - n),
        list(strides) + [0] * (4 - n),
    )


def _copy_planes(planes: list[np.ndarray], layout: VideoLayout) -> Any:
    dest = np.zeros(layout.size, dtype=np.uint8)
    layout.copy_into(planes, dest)
    return _wrap_contiguous(dest)


def _planar_audio_to_buffer(array: np.ndarray, layout: AudioLayout) -> Any:
    array = np.ascontiguousarray(array)  # (channels, samples) planes back to back
    buf = _wrap_contiguous(array)
    GstAudio = _gi.module("GstAudio")
    samples = array.shape[1]
    GstAudio.buffer_add_audio_meta(buf, layout.info, samples, None)
    return buf


# -- out: Gst.Buffer -> ndarray ----------------------------------------------------------


class MappedBuffer:
    """A mapping of a ``Gst.Buffer`` that lives as long as any array made from it.

    It holds its own reference on the buffer, so the array stays valid after the sample,
    the appsink and the whole pipeline are gone. NumPy keeps it as the arrays' ``base``.
    """

    __slots__ = ("__weakref__", "_info", "_lib", "_ptr", "nbytes", "readonly")

    def __init__(self, buffer: Any, *, writable: bool = False) -> None:
        lib = _get_lib()
        if lib is None:  # pragma: no cover - exercised only without the C layer
            raise BufferError("zero-copy mapping is not available")
        ptr = _buffer_pointer(lib, buffer)
        info = _MapInfo()
        if writable:
            if not lib.buffer_is_writable(ptr):
                raise BufferError(
                    "cannot map a shared or read-only buffer writable; use copy=True for an "
                    "owned writable array"
                )
            flags = _MAP_READ | _MAP_WRITE
        else:
            flags = _MAP_READ
        if not lib.buffer_map(ptr, ctypes.byref(info), flags):
            raise BufferError(
                "gst_buffer_map failed"
                + (" (its memory is read-only; use copy=True)" if writable else "")
            )
        lib.mini_object_ref(ptr)
        self._lib = lib
        self._ptr = ptr
        self._info = info
        self.nbytes = int(info.size)
        self.readonly = not writable

    @property
    def __array_interface__(self) -> dict[str, Any]:
        return {
            "version": 3,
            "shape": (self.nbytes,),
            "typestr": "|u1",
            "data": (self._info.data or 0, self.readonly),
        }

    def array(self) -> np.ndarray:
        """The whole mapping as a 1-D ``uint8`` array whose base is this object."""
        if self.nbytes == 0:
            return np.zeros(0, np.uint8)
        return np.asarray(self)

    def __del__(self) -> None:
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            self._lib.buffer_unmap(ptr, ctypes.byref(self._info))
            self._lib.mini_object_unref(ptr)


def _bytes_of(buffer: Any, writable: bool, copy: bool) -> np.ndarray:
    if copy or _get_lib() is None:
        size = buffer.get_size()
        data = buffer.extract_dup(0, size) if size else b""
        return np.frombuffer(bytearray(data), dtype=np.uint8)
    return MappedBuffer(buffer, writable=writable).array()


def _meta_layout(buffer: Any, layout: VideoLayout) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Offsets/strides from the buffer's GstVideoMeta, else the caps' defaults."""
    GstVideo = _gi.GstVideo()
    meta = GstVideo.buffer_get_video_meta(buffer)
    if meta is None:
        return layout.offsets, layout.strides
    n = len(layout.offsets)
    return tuple(int(x) for x in meta.offset[:n]), tuple(int(x) for x in meta.stride[:n])


def buffer_to_planes(
    buffer: Any, caps: Any, *, writable: bool = False, copy: bool = False
) -> list[np.ndarray]:
    """Per-plane views of a raw video buffer (padding excluded)."""
    layout = caps if isinstance(caps, VideoLayout) else layout_from_caps(caps)
    if not isinstance(layout, VideoLayout):
        raise CapsError("buffer_to_planes needs video caps")
    base = _bytes_of(buffer, writable, False)
    offsets, strides = _meta_layout(buffer, layout)
    planes = layout.plane_views(base, offsets, strides)
    return [p.copy() for p in planes] if copy else planes


def buffer_to_ndarray(
    buffer: Any,
    caps: Any = None,
    *,
    writable: bool = False,
    copy: bool = False,
) -> Union[np.ndarray, list[np.ndarray]]:
    """View a ``Gst.Buffer`` as a NumPy array.

    Parameters
    ----------
    buffer : Gst.Buffer
    caps : str, Gst.Caps or layout, optional
        Raw video or audio caps giving shape and dtype. Without caps the result is the flat
        ``uint8`` bytes.
    writable : bool
        Map for writing. Only a buffer nobody else holds, with writable memory, can be;
        otherwise :class:`~gstreamer.errors.BufferError`.
    copy : bool
        Return an owned copy instead of a view.

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray
        A view that keeps the buffer mapped and referenced for as long as it (or any view of
        it) lives. Row padding is excluded (strides come from ``GstVideoMeta`` or the caps).
        Planar formats whose planes cannot be one array come back as a list of planes.
    """
    if caps is None:
        arr = _bytes_of(buffer, writable, copy)
        return arr
    layout = caps if isinstance(caps, (VideoLayout, AudioLayout)) else layout_from_caps(caps)
    if isinstance(layout, AudioLayout):
        base = _bytes_of(buffer, writable, False)
        samples = base.nbytes // layout.bytes_per_frame
        shape = layout.shape_for(samples)
        if layout.interleaved:
            out = base[: samples * layout.bytes_per_frame].view(layout.dtype).reshape(shape)
        else:
            GstAudio = _gi.module("GstAudio")
            meta = GstAudio.buffer_get_audio_meta(buffer)
            if meta is not None and meta.offsets is not None:
                offs = [int(o) for o in meta.offsets[: layout.channels]]
                samples = int(meta.samples)
            else:
                per = samples
                offs = [c * per * layout.dtype.itemsize for c in range(layout.channels)]
            item = layout.dtype.itemsize
            gap = offs[1] - offs[0] if layout.channels > 1 else samples * item
            if all(offs[c] == offs[0] + c * gap for c in range(layout.channels)) and gap >= 0:
                out = np.ndarray(
                    (layout.channels, samples), layout.dtype, base.data, offs[0], (gap, item)
                )
            else:
                out = np.stack(
                    [np.ndarray((samples,), layout.dtype, base.data, o) for o in offs]
                )
        return out.copy() if copy else out
    base = _bytes_of(buffer, writable, False)
    offsets, strides = _meta_layout(buffer, layout)
    frame = layout.frame_view(base, offsets, strides)
    if frame is None:
        planes = layout.plane_views(base, offsets, strides)
        return [p.copy() for p in planes] if copy else planes
    return frame.copy() if copy else frame
