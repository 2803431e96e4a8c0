"""Zero-copy ndarray <-> Gst.Buffer: memory sharing, read-only protection, lifetimes, leaks."""

from __future__ import annotations

import ctypes
import gc
import os
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest

from gstreamer import _gi, buffers, utils
from gstreamer.caps import VideoLayout, layout_from_caps
from gstreamer.errors import BufferError, CapsError

RGB_ODD = "video/x-raw,format=RGB,width=318,height=238,framerate=30/1"


@pytest.fixture
def pipe(passthrough):
    """Passthrough pipelines, RGB 318x238 unless told otherwise."""

    def make(caps: str = RGB_ODD, middle: str = ""):
        return passthrough(caps, middle)

    return make


def rgb_frame(seed: int = 0, height: int = 238, width: int = 318) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (height, width, 3), dtype=np.uint8, endpoint=True)


def mapped_address(buf) -> int:
    """Address of the buffer's data as GStreamer maps it (read-only map, no copy)."""
    return int(buffers.MappedBuffer(buf).array().ctypes.data)


# -- memory sharing ------------------------------------------------------------------------


def test_zero_copy_layer_is_available():
    assert buffers.zero_copy_available()


@pytest.mark.parametrize(
    ("caps", "shape", "dtype"),
    [
        (RGB_ODD, (238, 318, 3), np.uint8),
        ("video/x-raw,format=GRAY16_BE,width=7,height=5", (5, 7), ">u2"),
        ("video/x-raw,format=I420,width=64,height=48", (72, 64), np.uint8),
        ("video/x-raw,format=NV12,width=318,height=238", (357, 318), np.uint8),
        ("audio/x-raw,format=F32LE,rate=8000,channels=2,layout=interleaved", (100, 2), "<f4"),
    ],
    ids=["RGB", "GRAY16_BE", "I420", "NV12", "F32LE"],
)
def test_appsink_array_shares_the_pushed_memory(pipe, caps, shape, dtype):
    data = np.arange(int(np.prod(shape))).astype(dtype).reshape(shape)
    p = pipe(caps)
    sample = p.roundtrip(buffers.ndarray_to_buffer(data, caps))
    got = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
    assert isinstance(got, np.ndarray)
    assert got.ctypes.data == data.ctypes.data  # same memory: no copy on the way
    np.testing.assert_array_equal(got, data)
    assert not got.flags.writeable


def test_seed_helper_wraps_without_copy():
    a = rgb_frame()
    buf = utils.ndarray_to_gst_buffer(a)
    assert buf.get_size() == a.nbytes
    assert mapped_address(buf) == a.ctypes.data


def test_row_strided_crop_is_zero_copy_with_video_meta(pipe):
    big = rgb_frame(height=300, width=400)
    crop = big[10:248, 20:338]  # 318x238 rows inside a 1200-byte stride
    p = pipe(RGB_ODD)
    sample = p.roundtrip(buffers.ndarray_to_buffer(crop, RGB_ODD))
    meta = _gi.GstVideo().buffer_get_video_meta(sample.get_buffer())
    assert meta is not None and meta.stride[0] == 1200
    got = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
    assert got.ctypes.data == crop.ctypes.data
    np.testing.assert_array_equal(got, crop)


def test_non_contiguous_array_costs_one_copy(pipe):
    big = rgb_frame(height=238, width=636)
    view = big[:, ::2]  # every other pixel: rows are not contiguous
    buf = buffers.ndarray_to_buffer(view, RGB_ODD)
    layout = layout_from_caps(RGB_ODD)
    # copied once straight into GStreamer's padded layout: no meta needed
    assert buf.get_size() == layout.size
    assert _gi.GstVideo().buffer_get_video_meta(buf) is None
    p = pipe(RGB_ODD)
    got = buffers.buffer_to_ndarray(p.roundtrip(buf).get_buffer(), layout)
    np.testing.assert_array_equal(got, view)
    assert not np.shares_memory(got, big)


def test_padded_layout_when_downstream_cannot_take_meta(pipe):
    a = rgb_frame()
    buf = buffers.ndarray_to_buffer(a, RGB_ODD, video_meta=False)
    assert _gi.GstVideo().buffer_get_video_meta(buf) is None
    assert buf.get_size() == 956 * 238  # row stride 956 = 318 * 3 rounded up to 4
    raw = np.frombuffer(buf.extract_dup(0, buf.get_size()), np.uint8).reshape(238, 956)
    np.testing.assert_array_equal(raw[:, :954].reshape(238, 318, 3), a)


class ArrayInterfaceOnly:
    """Exposes memory only through ``__array_interface__`` (as a CPU tensor would)."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array
        self.__array_interface__ = array.__array_interface__


def test_array_interface_object_is_wrapped_and_kept_alive(pipe):
    backing = rgb_frame(3)
    obj = ArrayInterfaceOnly(backing)
    ref = weakref.ref(obj)
    buf = buffers.ndarray_to_buffer(obj, RGB_ODD)
    del obj
    gc.collect()
    assert ref() is not None  # GStreamer's memory keeps the object alive
    p = pipe(RGB_ODD)
    got = buffers.buffer_to_ndarray(p.roundtrip(buf).get_buffer(), RGB_ODD)
    assert got.ctypes.data == backing.ctypes.data
    np.testing.assert_array_equal(got, backing)
    del buf, got
    p.close()
    gc.collect()
    assert ref() is None


def test_buffer_protocol_objects_are_wrapped():
    data = bytearray(range(256)) * 4
    buf = buffers.ndarray_to_buffer(data)
    assert buf.get_size() == len(data)
    assert mapped_address(buf) == np.frombuffer(data, np.uint8).ctypes.data
    floats = memoryview(np.linspace(0, 1, 12, dtype="<f4").reshape(6, 2))
    caps = "audio/x-raw,format=F32LE,rate=8000,channels=2,layout=interleaved"
    out = buffers.buffer_to_ndarray(buffers.ndarray_to_buffer(floats, caps), caps)
    np.testing.assert_array_equal(out, np.asarray(floats))
    with pytest.raises(TypeError, match="buffer protocol"):
        buffers.ndarray_to_buffer(object())


# -- read-only protection ------------------------------------------------------------------


def test_writable_map_of_pushed_buffer_is_an_error():
    a = rgb_frame()
    buf = buffers.ndarray_to_buffer(a, RGB_ODD)
    with pytest.raises(BufferError, match="read-only"):
        buffers.MappedBuffer(buf, writable=True)
    with pytest.raises(BufferError, match="read-only"):
        buffers.buffer_to_ndarray(buf, RGB_ODD, writable=True)
    owned = buffers.buffer_to_ndarray(buf, RGB_ODD, writable=True, copy=True)
    owned[...] = 0  # an owned copy is writable and independent
    assert a.any()


def test_c_level_writable_map_does_not_touch_the_users_array():
    """A C element mapping the buffer for writing gets a private copy of the memory."""
    a = rgb_frame(5)
    before = a.copy()
    buf = buffers.ndarray_to_buffer(a)
    lib = ctypes.CDLL("libgstreamer-1.0.so.0")
    lib.gst_buffer_map.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.gst_buffer_unmap.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    info = buffers._MapInfo()
    ptr = buffers._buffer_pointer(buffers._get_lib(), buf)
    assert lib.gst_buffer_map(ptr, ctypes.byref(info), 1 | 2)  # READ | WRITE
    try:
        assert info.data != a.ctypes.data
        ctypes.memset(info.data, 0xAB, info.size)
    finally:
        lib.gst_buffer_unmap(ptr, ctypes.byref(info))
    np.testing.assert_array_equal(a, before)
    assert buf.extract_dup(0, 4) == b"\xab" * 4


def test_in_place_element_copies_instead_of_writing_users_array(pipe):
    caps = "video/x-raw,format=RGBx,width=64,height=48,framerate=30/1"
    a = np.full((48, 64, 4), 100, np.uint8)
    p = pipe(caps, "videobalance brightness=0.5")
    got = buffers.buffer_to_ndarray(
        p.roundtrip(buffers.ndarray_to_buffer(a, caps)).get_buffer(), caps
    )
    assert (got[..., :3] > 100).all()  # the element did its work ...
    assert (a == 100).all()  # ... on a copy, not on the user's array
    assert got.ctypes.data != a.ctypes.data


def test_writable_view_of_an_owned_buffer_writes_through():
    Gst = _gi.Gst()
    buf = Gst.Buffer.new_allocate(None, 16, None)
    buf.memset(0, 0, 16)
    view = buffers.buffer_to_ndarray(buf, writable=True)
    assert view.flags.writeable and view.shape == (16,)
    view[:4] = [1, 2, 3, 4]
    del view
    assert buf.extract_dup(0, 5) == b"\x01\x02\x03\x04\x00"


def test_writable_view_of_a_shared_buffer_is_an_error(pipe):
    p = pipe(RGB_ODD)
    sample = p.roundtrip(buffers.ndarray_to_buffer(rgb_frame(), RGB_ODD))
    with pytest.raises(BufferError, match="copy=True"):
        buffers.buffer_to_ndarray(sample.get_buffer(), RGB_ODD, writable=True)


def test_memory_shared_between_buffers_cannot_be_mapped_writable():
    Gst = _gi.Gst()
    buf = Gst.Buffer.new_allocate(None, 16, None)
    other = buf.copy()  # shallow copy: same memory, now shared
    with pytest.raises(BufferError, match="shared"):
        buffers.MappedBuffer(other, writable=True)
    del buf


# -- lifetimes and leaks -------------------------------------------------------------------


def test_view_is_valid_after_pipeline_is_gone():
    Gst = _gi.Gst()
    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=1 pattern=smpte ! "
        "video/x-raw,format=RGB,width=318,height=238 ! appsink name=sink sync=false"
    )
    try:
        pipeline.set_state(Gst.State.PLAYING)
        sample = pipeline.get_by_name("sink").emit("try-pull-sample", 5 * Gst.SECOND)
        assert sample is not None
        view = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
        copy = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps(), copy=True)
    finally:
        pipeline.set_state(Gst.State.NULL)
    owner = view.base
    while isinstance(owner, np.ndarray):
        owner = owner.base
    assert isinstance(owner, buffers.MappedBuffer)
    mapping = weakref.ref(owner)
    del owner
    del pipeline, sample
    gc.collect()
    # only our view holds the buffer now; allocations over the freed pipeline memory
    junk = [np.full(318 * 238 * 3, 0x5A, np.uint8) for _ in range(8)]
    np.testing.assert_array_equal(view, copy)
    assert copy.base is None and copy.flags.writeable
    assert view.shape == (238, 318, 3) and view.strides == (956, 3, 1)
    sub = view[100:, ::2]  # a view of the view keeps the mapping too
    del view, junk
    gc.collect()
    assert mapping() is not None
    np.testing.assert_array_equal(sub, copy[100:, ::2])
    del sub
    gc.collect()
    assert mapping() is None  # unmapped and unreferenced with the last view


def test_pushed_arrays_are_released_and_nothing_leaks(pipe):
    p = pipe(RGB_ODD, "queue")
    refs = []
    for i in range(40):
        a = rgb_frame(i)
        refs.append(weakref.ref(a))
        p.push(buffers.ndarray_to_buffer(a, RGB_ODD))
        del a
        got = buffers.buffer_to_ndarray(p.pull().get_buffer(), RGB_ODD)
        assert got[0, 0].tolist() == rgb_frame(i)[0, 0].tolist()
        del got
    p.close()
    gc.collect()
    assert buffers.live_wrapped_arrays() == 0
    assert all(r() is None for r in refs)


def test_pulled_view_pushed_into_another_pipeline(pipe):
    """A view of one pipeline's buffer wrapped into another: releases nest without deadlock."""
    first, second = pipe(RGB_ODD), pipe(RGB_ODD)
    a = rgb_frame(9)
    view = buffers.buffer_to_ndarray(
        first.roundtrip(buffers.ndarray_to_buffer(a, RGB_ODD)).get_buffer(), RGB_ODD
    )
    got = buffers.buffer_to_ndarray(
        second.roundtrip(buffers.ndarray_to_buffer(view, RGB_ODD)).get_buffer(), RGB_ODD
    )
    assert got.ctypes.data == a.ctypes.data
    del view, a
    first.close()
    second.close()
    gc.collect()
    np.testing.assert_array_equal(got, rgb_frame(9))
    del got
    gc.collect()
    assert buffers.live_wrapped_arrays() == 0


DEBUG_SCRIPT = textwrap.dedent(
    """
    import gc
    import numpy as np
    from gstreamer import _gi, buffers

    Gst = _gi.Gst()
    caps = "video/x-raw,format=RGB,width=37,height=11,framerate=30/1"
    pipeline = Gst.parse_launch(
        "appsrc name=src format=time ! queue max-size-buffers=8 ! appsink name=sink sync=false"
    )
    src, sink = pipeline.get_by_name("src"), pipeline.get_by_name("sink")
    src.set_property("caps", Gst.Caps.from_string(caps))
    pipeline.set_state(Gst.State.PLAYING)
    views = []
    for i in range(300):
        a = np.full((11, 37, 3), i % 251, np.uint8)
        a[0, 0] = (1, 2, 3)
        src.emit("push-buffer", buffers.ndarray_to_buffer(a[:, :], caps))
        del a  # only GStreamer keeps the array alive now
        sample = sink.emit("try-pull-sample", 5 * Gst.SECOND)
        view = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
        if i % 10 == 0:
            views.append((i, view[1:]))  # keep a sub-view past the pipeline's life
        del sample, view
        gc.collect(0)
    pipeline.set_state(Gst.State.NULL)
    del pipeline, src, sink
    gc.collect()
    junk = [bytearray(11 * 37 * 3) for _ in range(200)]
    for i, view in views:
        assert (view == i % 251).all(), i
    del views, junk, view
    gc.collect()
    assert buffers.live_wrapped_arrays() == 0
    print("ok")
    """
)


@pytest.mark.e2e  # a fresh interpreter in a child process
def test_no_use_after_free_under_debug_allocator(tmp_path):
    script = tmp_path / "debug_push_pull.py"
    script.write_text(DEBUG_SCRIPT)
    env = dict(os.environ, PYTHONMALLOC="debug", MALLOC_PERTURB_="165", PYTHONFAULTHANDLER="1")
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok"


# -- bad input -----------------------------------------------------------------------------


def test_wrong_shape_says_what_was_expected_and_what_came():
    with pytest.raises(CapsError) as err:
        buffers.ndarray_to_buffer(np.zeros((238, 318, 4), np.uint8), RGB_ODD)
    assert "(238, 318, 4)" in str(err.value) and "(238, 318, 3)" in str(err.value)


def test_wrong_dtype_says_what_was_expected_and_what_came():
    with pytest.raises(CapsError) as err:
        buffers.ndarray_to_buffer(np.zeros((238, 318, 3), np.float32), RGB_ODD)
    assert "float32" in str(err.value) and "uint8" in str(err.value)


def test_odd_sized_i420_needs_planes():
    caps = "video/x-raw,format=I420,width=7,height=5"
    with pytest.raises(CapsError, match=r"\(5, 7\), \(3, 4\), \(3, 4\)"):
        buffers.ndarray_to_buffer(np.zeros((7, 7), np.uint8), caps)
    with pytest.raises(CapsError, match="plane 1"):
        buffers.ndarray_to_buffer(
            [np.zeros((5, 7), np.uint8)] + [np.zeros((2, 3), np.uint8)] * 2, caps
        )
    with pytest.raises(CapsError, match="3 planes"):
        buffers.ndarray_to_buffer([np.zeros((5, 7), np.uint8)], caps)


def test_wrong_audio_channels():
    caps = "audio/x-raw,format=S16LE,rate=8000,channels=2,layout=interleaved"
    with pytest.raises(CapsError, match=r"\(samples, channels\)"):
        buffers.ndarray_to_buffer(np.zeros((10, 3), np.int16), caps)


def test_buffer_too_small_for_caps_is_an_error():
    buf = buffers.ndarray_to_buffer(np.zeros(100, np.uint8))
    with pytest.raises(CapsError, match="too small"):
        buffers.buffer_to_ndarray(buf, RGB_ODD)


def test_flat_bytes_and_copies_without_caps():
    a = np.arange(10, dtype=np.uint8)
    buf = buffers.ndarray_to_buffer(a)
    view = buffers.buffer_to_ndarray(buf)
    copy = buffers.buffer_to_ndarray(buf, copy=True)
    np.testing.assert_array_equal(view, a)
    np.testing.assert_array_equal(copy, a)
    assert view.ctypes.data == a.ctypes.data and copy.ctypes.data != a.ctypes.data
    assert copy.flags.writeable and not view.flags.writeable


def test_planes_of_a_packed_frame():
    a = rgb_frame(2)
    layout = layout_from_caps(RGB_ODD)
    assert isinstance(layout, VideoLayout)
    planes = buffers.buffer_to_planes(buffers.ndarray_to_buffer(a, layout), layout)
    assert len(planes) == 1
    np.testing.assert_array_equal(planes[0], a)
    with pytest.raises(CapsError, match="video caps"):
        buffers.buffer_to_planes(
            buffers.ndarray_to_buffer(a),
            "audio/x-raw,format=U8,rate=8000,channels=1,layout=interleaved",
        )


@pytest.mark.e2e  # a fresh interpreter in a child process
def test_an_appsink_made_before_any_reader_still_pulls():
    """PyGObject keeps the bare class of an object met before its typelib is loaded.

    An appsink made with plain ``Gst.parse_launch`` in a fresh process, before anything
    imported GstApp, must still have ``try_pull_sample`` (it failed when test_convert ran
    after test_buffers).
    """
    code = (
        "from gstreamer import _gi\n"
        "Gst = _gi.Gst()\n"
        "p = Gst.parse_launch('videotestsrc num-buffers=1 ! appsink name=sink')\n"
        "sink = p.get_by_name('sink')\n"
        "print(type(sink).__name__, hasattr(sink, 'try_pull_sample'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["AppSink", "True"]


@pytest.mark.parametrize(
    ("caps", "make"),
    [
        # tight frames and row-strided crops (a GstVideoMeta with another stride), alternating
        (RGB_ODD, lambda i: rgb_frame(i) if i % 2 else rgb_frame(i, 240, 330)[1:239, 2:320]),
        (
            "video/x-raw,format=I420,width=320,height=240",
            lambda i: np.random.default_rng(i).integers(0, 255, (360, 320), dtype=np.uint8),
        ),
        (
            "video/x-raw,format=NV12,width=318,height=238",
            lambda i: np.random.default_rng(i).integers(0, 255, (357, 318), dtype=np.uint8),
        ),
        # odd-sized I420 comes out as planes
        (
            "video/x-raw,format=I420,width=7,height=5",
            lambda i: [np.full(s, i + k, np.uint8) for k, s in enumerate([(5, 7), (3, 4), (3, 4)])],
        ),
    ],
)
def test_frame_views_give_what_buffer_to_ndarray_gives(caps, make):
    layout = layout_from_caps(caps)
    views = buffers.FrameViews(layout)
    for i in range(6):
        buf = buffers.ndarray_to_buffer(make(i), caps)
        expected = buffers.buffer_to_ndarray(buf, layout)
        got = views.view(buf)
        if isinstance(expected, list):
            assert isinstance(got, list) and len(got) == len(expected)
            pairs = list(zip(got, expected))
        else:
            pairs = [(got, expected)]
        for a, b in pairs:
            assert a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype
            assert np.array_equal(a, b)
            assert a.ctypes.data == b.ctypes.data  # the buffer's own memory, no copy
            assert not a.flags.writeable
        copied = views.view(buf, copy=True)
        first = copied[0] if isinstance(copied, list) else copied
        assert first.flags.writeable and first.flags.owndata
