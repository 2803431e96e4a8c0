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
import itertools
import threading
from typing import Any, Callable, Generic, Optional, TypeVar, Union

import numpy as np

from . import _gi
from .caps import AudioLayout, Layout, VideoLayout, layout_from_caps
from .errors import ArgumentTypeError, BufferError, CapsError

__all__ = [
    "FrameViews",
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
_MINI_OBJECT_FLAGS = 16  # offset of GstMiniObject.flags


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

_T = TypeVar("_T")


class LoadOnce(Generic[_T]):
    """A C binding made at its first use, once (thread-safe); ``get()`` is None, for good,
    when making it raised one of ``errors`` (the library or a symbol is missing)."""

    def __init__(
        self,
        load: Callable[[], _T],
        errors: tuple[type[Exception], ...] = (OSError, AttributeError),
    ) -> None:
        self._load = load
        self._errors = errors
        self._lock = threading.Lock()
        self._value: Optional[_T] = None
        self._failed = False

    def get(self) -> Optional[_T]:
        """The binding, or None when it cannot be made."""
        if self._value is None and not self._failed:
            with self._lock:
                if self._value is None and not self._failed:
                    try:
                        self._value = self._load()
                    except self._errors:
                        self._failed = True
        return self._value


def load_library(soname: str, name: str) -> ctypes.CDLL:
    """A C library by its soname (``"libswscale.so.6"``), else where
    ``ctypes.util.find_library(name)`` finds it.

    ``find_library`` runs ``ldconfig -p`` in a subprocess on every call (10-30 ms, more on a
    busy machine, and inside the first ``Reader``'s start-up); the soname loads directly
    wherever the library is installed the usual way, and at once when it is loaded already.
    ``ctypes.util`` itself is imported only then: it brings ``shutil``, ``tempfile``, ``bz2``
    and ``lzma`` along (1 MiB of a Reader's memory).

    Raises
    ------
    OSError
        The library cannot be loaded.
    """
    try:
        return ctypes.CDLL(soname)
    except OSError:
        from ctypes.util import find_library

        found = find_library(name)
        if found is None:
            raise
        return ctypes.CDLL(found)


def c_function(lib: Any, name: str, restype: Any, *argtypes: Any) -> Any:
    """The C function ``name`` of ``lib`` (a ``ctypes.CDLL``), declared with its return
    type and argument types."""
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


class _Lib:
    """ctypes handles for the few C functions PyGObject cannot give us without copying."""

    def __init__(self) -> None:
        lib = load_library("libgstreamer-1.0.so.0", "gstreamer-1.0")
        vp, sz = ctypes.c_void_p, ctypes.c_size_t
        self.memory_new_wrapped = c_function(
            lib, "gst_memory_new_wrapped", vp, ctypes.c_int, vp, sz, sz, sz, vp, _DestroyNotify
        )
        self.buffer_append_memory = c_function(lib, "gst_buffer_append_memory", None, vp, vp)
        self.buffer_map = c_function(
            lib, "gst_buffer_map", ctypes.c_int, vp, ctypes.POINTER(_MapInfo), ctypes.c_int
        )
        self.buffer_unmap = c_function(lib, "gst_buffer_unmap", None, vp, ctypes.POINTER(_MapInfo))
        self.buffer_get_size = c_function(lib, "gst_buffer_get_size", sz, vp)
        self.mini_object_ref = c_function(lib, "gst_mini_object_ref", vp, vp)
        self.mini_object_unref = c_function(lib, "gst_mini_object_unref", None, vp)
        self.buffer_is_writable = c_function(lib, "gst_mini_object_is_writable", ctypes.c_int, vp)
        self.buffer_n_memory = c_function(lib, "gst_buffer_n_memory", ctypes.c_uint, vp)
        self.buffer_peek_memory = c_function(lib, "gst_buffer_peek_memory", vp, vp, ctypes.c_uint)
        self.buffer_get_meta = c_function(lib, "gst_buffer_get_meta", vp, vp, ctypes.c_size_t)
        Gst = _gi.Gst()
        self.buffer_gtype = hash(Gst.Buffer.__gtype__)
        self.pointer_offset = _find_pointer_offset(self, Gst)
        self._audio = LoadOnce(lambda: _AudioLib(self), (OSError, AttributeError, BufferError))

    def audio(self) -> Optional[_AudioLib]:
        """The GstAudio meta functions, or None when they cannot be verified."""
        return self._audio.get()


# GstAudioMeta: GstMeta (16 bytes) + GstAudioInfo (320) + gsize samples + gsize *offsets.
_AUDIO_META_CHANNELS = 16 + 20
_AUDIO_META_SAMPLES = 16 + 320
_AUDIO_META_OFFSETS = _AUDIO_META_SAMPLES + 8


class _AudioLib:
    """``gst_buffer_add_audio_meta`` / ``GstAudioMeta.offsets``, which GI cannot pass or read."""

    def __init__(self, lib: _Lib) -> None:
        audio = load_library("libgstaudio-1.0.so.0", "gstaudio-1.0")
        vp, sz = ctypes.c_void_p, ctypes.c_size_t
        self.add_meta = c_function(
            audio, "gst_buffer_add_audio_meta", vp, vp, vp, sz, ctypes.POINTER(sz)
        )
        api_type = c_function(audio, "gst_audio_meta_api_get_type", sz)
        self.api_type = int(api_type())
        self._lib = lib
        self._verify()

    def _verify(self) -> None:
        """Check the struct offsets above on a probe buffer before trusting them."""
        GstAudio = _gi.GstAudio()
        Gst = _gi.Gst()
        info = GstAudio.AudioInfo.new_from_caps(
            Gst.Caps.from_string(
                "audio/x-raw,format=S16LE,rate=8000,channels=2,layout=non-interleaved"
            )
        )
        probe = Gst.Buffer.new_allocate(None, 64, None)
        offsets = (ctypes.c_size_t * 2)(0, 40)
        ptr = _buffer_pointer(self._lib, probe)
        meta = self.add_meta(ptr, _boxed_pointer(self._lib, info), 10, offsets)
        got = self.read(ptr, 2)
        if not meta or got != (10, [0, 40]):
            raise BufferError("unexpected GstAudioMeta layout")

    def read(self, buffer_ptr: int, channels: int) -> Optional[tuple[int, list[int]]]:
        """(samples, per-channel byte offsets) from a buffer's GstAudioMeta, if it has one."""
        meta = self._lib.buffer_get_meta(buffer_ptr, self.api_type)
        if not meta:
            return None
        if ctypes.c_int.from_address(meta + _AUDIO_META_CHANNELS).value != channels:
            raise BufferError("GstAudioMeta does not match the caps' channel count")
        samples = ctypes.c_size_t.from_address(meta + _AUDIO_META_SAMPLES).value
        offsets_ptr = ctypes.c_void_p.from_address(meta + _AUDIO_META_OFFSETS).value
        if not offsets_ptr:
            return None
        offsets = (ctypes.c_size_t * channels).from_address(offsets_ptr)
        return int(samples), [int(o) for o in offsets]


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


_lib = LoadOnce(_Lib)


def _get_lib() -> Optional[_Lib]:
    lib = _lib.get()
    return lib if lib is not None and lib.pointer_offset is not None else None


def zero_copy_available() -> bool:
    """True when buffers are wrapped and mapped without copying (the C layer is reachable)."""
    return _get_lib() is not None


def _boxed_pointer(lib: _Lib, boxed: Any) -> int:
    """The C pointer inside a PyGObject boxed wrapper (same layout as ``Gst.Buffer``'s)."""
    assert lib.pointer_offset is not None
    ptr = ctypes.c_void_p.from_address(id(boxed) + lib.pointer_offset).value
    if not ptr:
        raise BufferError(f"could not read the C pointer of {type(boxed).__name__}")
    return ptr


def _buffer_pointer(lib: _Lib, buffer: Any) -> int:
    Gst = _gi.Gst()
    if not isinstance(buffer, Gst.Buffer):
        raise ArgumentTypeError(f"expected Gst.Buffer, got {type(buffer).__name__}")
    assert lib.pointer_offset is not None
    ptr = ctypes.c_void_p.from_address(id(buffer) + lib.pointer_offset).value
    if not ptr or ctypes.c_size_t.from_address(ptr).value != lib.buffer_gtype:
        raise BufferError("could not read the GstBuffer pointer from its Python wrapper")
    return ptr


# -- in: ndarray -> Gst.Buffer -----------------------------------------------------------

# Arrays kept alive while GStreamer holds memory that points into them (each key once;
# a dict's item assignment and pop are atomic).
_alive: dict[int, Any] = {}
_keys = itertools.count(1)

# Called by GStreamer when wrapped memory is freed, in the thread that frees it: the dict's
# own pop, a C function, so that no Python code runs there. When that thread is the main
# thread (the last reference dropped as a push returns), Python code would be where a
# pending Ctrl-C lands, and a KeyboardInterrupt raised in a ctypes callback is printed and
# lost ("Exception ignored on calling ctypes callback function").
_release: Any = _DestroyNotify(_alive.pop)


def live_wrapped_arrays() -> int:
    """How many arrays are currently kept alive by GStreamer memory (for leak checks)."""
    return len(_alive)


def _has_array_protocol(data: Any) -> bool:
    """True for objects NumPy converts itself (``__array_interface__`` or ``__array__``).

    Objects with only ``__dlpack__`` go through :func:`numpy.from_dlpack` instead; torch
    tensors have both and take NumPy's path, which shares their memory as well.
    """
    return hasattr(data, "__array_interface__") or hasattr(data, "__array__")


def _as_array(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data
    if hasattr(data, "__dlpack__") and not _has_array_protocol(data):
        return np.from_dlpack(data)  # zero-copy; CPU memory only
    if hasattr(data, "__array_interface__") or hasattr(data, "__array__"):
        return np.asarray(data)
    try:
        view = memoryview(data)
    except TypeError:
        pass
    else:
        return np.asarray(view) if view.ndim else np.frombuffer(view, np.uint8)
    numpy_method = getattr(data, "numpy", None)  # e.g. a CPU torch tensor
    if callable(numpy_method):
        return np.asarray(numpy_method())
    raise ArgumentTypeError(
        f"cannot make a buffer from {type(data).__name__}: expected a NumPy array or an object "
        "with the buffer protocol or __array_interface__"
    )


def _wrap_region(lib: _Lib, owner: Any, address: int, size: int) -> Any:
    """A new Gst.Buffer whose single read-only memory is ``size`` bytes at ``address``."""
    Gst = _gi.Gst()
    buf = Gst.Buffer.new()
    key = next(_keys)
    _alive[key] = owner
    mem = lib.memory_new_wrapped(_MEMORY_FLAG_READONLY, address, size, 0, size, key, _release)
    if not mem:
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
    return bool(array.strides[0] >= inner.nbytes)


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
        return _copy_planes(_check_planes(data, layout), layout)
    array = layout.check_array(_as_array(data))
    if layout.spec.planar and not array.flags.c_contiguous and not layout.full_width_rows:
        # half-width chroma rows of a strided I420-like array are not addressable
        array = np.ascontiguousarray(array)  # the one copy
    if lib is None:
        return _copy_planes(layout.split(array), layout)
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
        return _copy_planes(layout.split(array), layout)  # the one copy
    if size == 0:
        return _copy_planes(layout.split(array), layout)
    if offsets == layout.offsets and strides == layout.strides:
        return _wrap_region(lib, array, array.ctypes.data, size)
    if not video_meta:
        return _copy_planes(layout.split(array), layout)
    buf = _wrap_region(lib, array, array.ctypes.data, size)
    _add_video_meta(buf, layout, offsets, strides)
    return buf


def _check_planes(data: Any, layout: VideoLayout) -> list[np.ndarray]:
    planes = [_as_array(p) for p in data]
    expected = layout.plane_shapes()
    if len(planes) != len(expected):
        raise CapsError(
            f"{layout.describe()} has {len(expected)} planes of shapes {expected}, "
            f"got {len(planes)} arrays"
        )
    out = []
    for i, p in enumerate(planes):
        if p.ndim == len(expected[i]) + 1 and p.shape[-1] == 1:
            p = p[..., 0]
        same_kind = p.dtype.kind == layout.dtype.kind and p.dtype.itemsize == layout.dtype.itemsize
        if p.shape != expected[i] or not same_kind:
            raise CapsError(
                f"plane {i} of shape {p.shape} and dtype {p.dtype} does not fit "
                f"{layout.describe()}: expected shape {expected[i]} and dtype "
                f"{layout.dtype.name} ({layout.dtype.str})"
            )
        out.append(p.astype(layout.dtype, copy=False))
    return out


def _add_video_meta(
    buf: Any, layout: VideoLayout, offsets: tuple[int, ...], strides: tuple[int, ...]
) -> None:
    GstVideo = _gi.GstVideo()
    n = len(offsets)
    fmt = GstVideo.VideoFormat.from_string(layout.format)
    meta = GstVideo.buffer_add_video_meta_full(
        buf,
        GstVideo.VideoFrameFlags.NONE,
        fmt,
        layout.width,
        layout.height,
        n,
        list(offsets) + [0] * (4 - n),
        list(strides) + [0] * (4 - n),
    )
    if meta is None:
        raise BufferError(f"could not add a GstVideoMeta for {layout.describe()}")


def _copy_planes(planes: list[np.ndarray], layout: VideoLayout) -> Any:
    dest = np.zeros(layout.size, dtype=np.uint8)
    layout.copy_into(planes, dest)
    return _wrap_contiguous(dest)


def _planar_audio_to_buffer(array: np.ndarray, layout: AudioLayout) -> Any:
    array = np.ascontiguousarray(array)  # (channels, samples) planes back to back
    buf = _wrap_contiguous(array)
    samples = array.shape[1]
    lib = _get_lib()
    audio = lib.audio() if lib is not None else None
    if audio is None:  # pragma: no cover - exotic platforms
        raise BufferError("non-interleaved audio needs GstAudioMeta, which is unavailable here")
    assert lib is not None
    if not audio.add_meta(
        _buffer_pointer(lib, buf), _boxed_pointer(lib, layout.info), samples, None
    ):
        raise BufferError(f"could not add a GstAudioMeta for {layout.describe()}")
    return buf


# -- out: Gst.Buffer -> ndarray ----------------------------------------------------------


class MappedBuffer:
    """A mapping of a ``Gst.Buffer`` that lives as long as any array made from it.

    It holds its own reference on the buffer, so the array stays valid after the sample,
    the appsink and the whole pipeline are gone. NumPy keeps it as the arrays' ``base``.

    Parameters
    ----------
    buffer : Gst.Buffer
    writable : bool
        Map for writing. Raises :class:`~gstreamer.errors.BufferError` unless the buffer is
        held only by the caller and all its memory is writable (not read-only — as memory
        wrapped from a NumPy array is — and not shared with another buffer), because
        GStreamer would otherwise silently map a copy.
    """

    __slots__ = ("__weakref__", "_info", "_lib", "_ptr", "nbytes", "readonly")
    _ptr: Optional[int]

    def __init__(self, buffer: Any, *, writable: bool = False) -> None:
        lib = _get_lib()
        if lib is None:  # pragma: no cover - exercised only without the C layer
            raise BufferError("zero-copy mapping is not available")
        ptr = _buffer_pointer(lib, buffer)
        info = _MapInfo()
        flags = _MAP_READ
        if writable:
            _check_writable(lib, ptr)
            flags |= _MAP_WRITE
        if not lib.buffer_map(ptr, ctypes.byref(info), flags):
            raise BufferError(
                "gst_buffer_map failed" + (" (try writable=False or copy=True)" if writable else "")
            )
        if (
            writable
            and lib.buffer_n_memory(ptr) == 1
            and info.memory != lib.buffer_peek_memory(ptr, 0)
        ):  # pragma: no cover - guarded by _check_writable
            lib.buffer_unmap(ptr, ctypes.byref(info))
            raise BufferError("GStreamer mapped a copy of the memory; use copy=True")
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

    @property
    def address(self) -> int:
        """Address of the mapped bytes (0 once released)."""
        return int(self._info.data or 0) if self._ptr else 0

    def release(self) -> None:
        """Unmap and drop the buffer reference now; idempotent. Only for a mapping that no
        array uses (arrays made by :meth:`array` rely on it staying mapped)."""
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            self._lib.buffer_unmap(ptr, ctypes.byref(self._info))
            self._lib.mini_object_unref(ptr)

    def __del__(self) -> None:
        self.release()


def _check_writable(lib: _Lib, ptr: int) -> None:
    if not lib.buffer_is_writable(ptr):
        raise BufferError(
            "cannot map the buffer writable: it is shared (held by a sample, a queue or "
            "another reference); use copy=True for an owned writable array"
        )
    for i in range(lib.buffer_n_memory(ptr)):
        mem = lib.buffer_peek_memory(ptr, i)
        if ctypes.c_uint.from_address(mem + _MINI_OBJECT_FLAGS).value & _MEMORY_FLAG_READONLY:
            raise BufferError(
                "cannot map the buffer writable: its memory is read-only (for example wrapped "
                "from a NumPy array, which GStreamer must not write to); use copy=True"
            )
        if not lib.buffer_is_writable(mem):
            raise BufferError(
                "cannot map the buffer writable: its memory is shared with another buffer; "
                "use copy=True"
            )


def _bytes_of(buffer: Any, writable: bool, copy: bool) -> np.ndarray:
    """The buffer's bytes: a view (mapped for as long as it lives) or an owned copy."""
    if _get_lib() is None:
        size = buffer.get_size()
        data = buffer.extract_dup(0, size) if size else b""
        return np.frombuffer(bytearray(data), dtype=np.uint8)
    if copy:
        return MappedBuffer(buffer).array().copy()
    return MappedBuffer(buffer, writable=writable).array()


def _meta_layout(buffer: Any, layout: VideoLayout) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Offsets/strides from the buffer's GstVideoMeta, else the caps' defaults."""
    GstVideo = _gi.GstVideo()
    meta = GstVideo.buffer_get_video_meta(buffer)
    if meta is None:
        return layout.offsets, layout.strides
    n = len(layout.offsets)
    # the same consistency rules as gst_video_frame_map()
    meta_format = GstVideo.VideoFormat.to_string(meta.format)
    if (
        meta_format != layout.format
        or int(meta.n_planes) != n
        or meta.width < layout.width
        or meta.height < layout.height
    ):
        raise BufferError(
            f"the buffer's GstVideoMeta ({meta_format} {meta.width}x{meta.height}, "
            f"{meta.n_planes} planes) "
            f"does not match the caps {layout.describe()}"
        )
    return tuple(int(x) for x in meta.offset[:n]), tuple(int(x) for x in meta.stride[:n])


def _video_layout(caps: Any) -> VideoLayout:
    layout = caps if isinstance(caps, (VideoLayout, AudioLayout)) else layout_from_caps(caps)
    if not isinstance(layout, VideoLayout):
        raise CapsError(f"video caps needed, got {layout.describe()}")
    return layout


def buffer_to_planes(
    buffer: Any, caps: Any, *, writable: bool = False, copy: bool = False
) -> list[np.ndarray]:
    """Per-plane arrays of a raw video buffer, padding excluded.

    Parameters
    ----------
    buffer : Gst.Buffer
    caps : str, Gst.Caps or VideoLayout
        Raw video caps.
    writable, copy : bool
        As in :func:`buffer_to_ndarray`.

    Returns
    -------
    list of numpy.ndarray
        One array per plane in GStreamer's plane order (one element for packed formats),
        shaped as :meth:`~gstreamer.caps.VideoLayout.plane_shapes`.
    """
    layout = _video_layout(caps)
    base = _bytes_of(buffer, writable and not copy, False)
    offsets, strides = _meta_layout(buffer, layout)
    planes = layout.plane_views(base, offsets, strides)
    return [p.copy() for p in planes] if copy else planes


def _audio_view(buffer: Any, layout: AudioLayout, base: np.ndarray) -> np.ndarray:
    item = layout.dtype.itemsize
    if layout.interleaved:
        samples = base.nbytes // layout.bytes_per_frame
        return np.ndarray(
            (samples, layout.channels), layout.dtype, base.data, 0, (layout.bytes_per_frame, item)
        )
    lib = _get_lib()
    audio = lib.audio() if lib is not None else None
    found = None
    if lib is not None and audio is not None:
        found = audio.read(_buffer_pointer(lib, buffer), layout.channels)
    if found is None:  # no GstAudioMeta: planes back to back
        samples = base.nbytes // layout.bytes_per_frame
        offsets = [c * samples * item for c in range(layout.channels)]
    else:
        samples, offsets = found
    for c, off in enumerate(offsets):
        if off < 0 or off + samples * item > base.nbytes:
            raise BufferError(
                f"channel {c} at byte {off} with {samples} samples does not fit the "
                f"{base.nbytes}-byte buffer ({layout.describe()})"
            )
    gap = offsets[1] - offsets[0] if layout.channels > 1 else samples * item
    if all(offsets[c] == offsets[0] + c * gap for c in range(layout.channels)):
        return np.ndarray(
            (layout.channels, samples), layout.dtype, base.data, offsets[0], (gap, item)
        )
    # irregular channel offsets: one copy into (channels, samples)
    return np.stack([np.ndarray((samples,), layout.dtype, base.data, o) for o in offsets])


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
        Map for writing. Only a buffer nobody else holds, whose memory is writable and not
        shared, can be; otherwise :class:`~gstreamer.errors.BufferError` (see
        :class:`MappedBuffer`). Ignored with ``copy=True``.
    copy : bool
        Return an owned, writable copy instead of a view.

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray
        A view that keeps the buffer mapped and referenced for as long as it (or any view of
        it) lives. Row padding is excluded (strides come from ``GstVideoMeta`` or the caps).
        Video formats that cannot be one array at this size (see
        :attr:`~gstreamer.caps.VideoLayout.one_array`) or whose memory layout does not allow
        it come back as a list of planes. Audio is ``(samples, channels)`` when interleaved
        and ``(channels, samples)`` otherwise.
    """
    writable = writable and not copy
    if caps is None:
        return _bytes_of(buffer, writable, copy)
    layout = caps if isinstance(caps, (VideoLayout, AudioLayout)) else layout_from_caps(caps)
    base = _bytes_of(buffer, writable, False)
    if isinstance(layout, AudioLayout):
        out = _audio_view(buffer, layout, base)
        return out.copy() if copy else out
    offsets, strides = _meta_layout(buffer, layout)
    frame = layout.frame_view(base, offsets, strides)
    if frame is None:
        planes = layout.plane_views(base, offsets, strides)
        return [p.copy() for p in planes] if copy else planes
    return frame.copy() if copy else frame


class FrameViews:
    """:func:`buffer_to_ndarray` for a stream of raw video buffers of one layout.

    :func:`buffer_to_ndarray` checks the layout against each buffer and works the view out
    plane by plane on every call (about a third of a puller's per-frame Python time). The
    buffers of one stream nearly always share their size, offsets and strides, so the
    checked geometry of the view is kept per distinct ``(size, offsets, strides)`` and later
    buffers are viewed with one NumPy call. The views are the same (zero-copy, read-only,
    keeping the buffer mapped for as long as they live).

    Parameters
    ----------
    layout : VideoLayout, AudioLayout or None
        The caps' layout (None: flat bytes); anything but video goes to
        :func:`buffer_to_ndarray` unchanged.
    """

    _KEEP = 8  # geometries remembered at most

    def __init__(self, layout: Optional[Layout]) -> None:
        self.layout = layout
        self._geometry: dict[
            tuple[int, tuple[int, ...], tuple[int, ...]],
            Optional[tuple[tuple[int, ...], tuple[int, ...], int]],
        ] = {}

    def view(self, buffer: Any, *, copy: bool = False) -> Union[np.ndarray, list[np.ndarray]]:
        """As ``buffer_to_ndarray(buffer, layout, copy=copy)``."""
        layout = self.layout
        if copy or not isinstance(layout, VideoLayout) or _get_lib() is None:
            return buffer_to_ndarray(buffer, layout, copy=copy)
        mapping = MappedBuffer(buffer)
        if mapping.nbytes == 0:
            mapping.release()
            return buffer_to_ndarray(buffer, layout)
        offsets, strides = _meta_layout(buffer, layout)
        key = (mapping.nbytes, offsets, strides)
        base = mapping.array()
        if key in self._geometry:
            geometry = self._geometry[key]
            if geometry is None:  # a list of planes
                return layout.plane_views(base, offsets, strides)
            shape, byte_strides, start = geometry
            return np.ndarray(shape, layout.dtype, base.data, start, byte_strides)
        frame = layout.frame_view(base, offsets, strides)
        if len(self._geometry) >= self._KEEP:
            self._geometry.clear()
        if frame is None:
            self._geometry[key] = None
            return layout.plane_views(base, offsets, strides)
        start = int(frame.ctypes.data) - int(base.ctypes.data)
        self._geometry[key] = (tuple(frame.shape), tuple(frame.strides), start)
        return frame
