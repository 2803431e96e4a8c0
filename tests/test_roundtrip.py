"""Exact appsrc -> appsink round trips for every supported raw format and odd sizes.

Layouts are cross-checked against GStreamer itself: ``videoconvert`` / ``audioconvert``
reorder planes, bytes and channels losslessly (I420 -> YV12, NV12 -> NV21, RGB -> BGR,
YUY2 -> UYVY, interleaved -> non-interleaved ...), so an array read through our views must
equal the expected reordering of the array we pushed.
"""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import Passthrough
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gstreamer import _gi, buffers
from gstreamer.caps import AUDIO_FORMATS, VIDEO_FORMATS, AudioLayout, VideoLayout, layout_from_caps

# the formats issue 3 names; every format in VIDEO_FORMATS is round-tripped (ALL_VIDEO)
ISSUE_VIDEO = [
    "RGB", "BGR", "RGBA", "BGRA", "ARGB", "ABGR", "RGBx", "BGRx", "xRGB", "xBGR",
    "GRAY8", "GRAY16_LE", "GRAY16_BE", "RGBA64_LE", "RGBA64_BE",
    "I420", "YV12", "NV12", "NV21", "Y444", "YUY2", "UYVY",
]  # fmt: skip
SIZES = [(318, 238), (1, 1), (7, 5), (64, 48)]
ALL_VIDEO = sorted(VIDEO_FORMATS)
AUDIO = ["S8", "U8", "S16LE", "S32LE", "F32LE", "F64LE"]


def test_every_format_the_issue_names_is_supported():
    assert set(ISSUE_VIDEO) <= set(ALL_VIDEO)
    assert set(AUDIO) <= set(AUDIO_FORMATS)


def random_frame(layout: VideoLayout, seed: int = 0):
    """A random frame: one array when the size allows, else a list of planes."""
    rng = np.random.default_rng(seed)
    native = layout.dtype.newbyteorder("=")
    info = np.iinfo(native)

    def make(shape):
        data = rng.integers(0, info.max, shape, dtype=native, endpoint=True)
        return data.astype(layout.dtype)  # big-endian formats: same values, swapped bytes

    if layout.one_array:
        return make(layout.shape)
    return [make(s) for s in layout.plane_shapes()]


def assert_same(got, want) -> None:
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)
    else:
        assert isinstance(got, np.ndarray)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def expected_output(layout: VideoLayout, frame, video_meta: bool):
    """What a pulled frame looks like: ``frame`` itself, except that an I420-like frame copied
    into GStreamer's padded layout comes back as planes (half-width chroma rows with padding
    cannot be one view)."""
    padded_planes = layout.tight_layout() != (layout.offsets, layout.strides)
    i420_like = layout.spec.planar and not layout.full_width_rows
    if isinstance(frame, np.ndarray) and not video_meta and padded_planes and i420_like:
        return [p.reshape(s) for p, s in zip(layout.split(frame), layout.plane_shapes())]
    return frame


def caps_for(fmt: str, width: int, height: int) -> str:
    return f"video/x-raw,format={fmt},width={width},height={height},framerate=30/1"


@pytest.mark.parametrize("video_meta", [True, False], ids=["meta", "padded-copy"])
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("fmt", ALL_VIDEO)
def test_video_roundtrip_exact(passthrough, fmt, size, video_meta):
    width, height = size
    caps = caps_for(fmt, width, height)
    layout = layout_from_caps(caps)
    assert isinstance(layout, VideoLayout)
    frame = random_frame(layout, seed=width * height)
    p = passthrough(caps)
    sample = p.roundtrip(buffers.ndarray_to_buffer(frame, layout, video_meta=video_meta))
    got = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
    assert_same(got, expected_output(layout, frame, video_meta))
    # per-plane access always works and agrees with the one-array view
    planes = buffers.buffer_to_planes(sample.get_buffer(), layout)
    want_planes = frame if isinstance(frame, list) else layout.split(frame)
    assert_same(
        planes, [np.asarray(w).reshape(s) for w, s in zip(want_planes, layout.plane_shapes())]
    )
    if not video_meta:
        # GStreamer's default (padded) layout, no GstVideoMeta needed downstream
        assert _gi.GstVideo().buffer_get_video_meta(sample.get_buffer()) is None
        assert sample.get_buffer().get_size() == layout.size


def _yuv_swap(frame: np.ndarray, layout: VideoLayout) -> np.ndarray:
    """I420 <-> YV12: swap the U and V planes of a one-array frame."""
    y, u, v = (p.copy() for p in layout.split(frame))
    return np.concatenate([y.reshape(-1), v.reshape(-1), u.reshape(-1)]).reshape(frame.shape)


# (source format, target format, how the source array maps to the target array)
CONVERSIONS = [
    ("RGB", "BGR", lambda a, layout: a[..., ::-1]),
    ("RGBA", "ABGR", lambda a, layout: a[..., ::-1]),
    ("BGRx", "xRGB", lambda a, layout: a[..., ::-1]),
    ("RGBA64_LE", "RGBA64_BE", lambda a, layout: a.astype(">u2")),
    ("GRAY16_LE", "GRAY16_BE", lambda a, layout: a.astype(">u2")),
    ("I420", "YV12", _yuv_swap),
    ("NV12", "NV21", lambda a, layout: _swap_pairs(a, layout)),
    ("YUY2", "UYVY", lambda a, layout: a[..., ::-1]),
]


def _swap_pairs(frame: np.ndarray, layout: VideoLayout) -> np.ndarray:
    out = frame.copy()
    h = layout.height
    uv = out[h:].reshape(h // 2, layout.width // 2, 2)
    uv[...] = uv[..., ::-1].copy()
    return out


@pytest.mark.parametrize("size", [(318, 238), (64, 48)], ids=["318x238", "64x48"])
@pytest.mark.parametrize(
    ("src_fmt", "dst_fmt", "expect"), CONVERSIONS, ids=[f"{a}-{b}" for a, b, _ in CONVERSIONS]
)
def test_layout_agrees_with_videoconvert(passthrough, src_fmt, dst_fmt, expect, size):
    width, height = size
    src_layout = layout_from_caps(caps_for(src_fmt, width, height))
    assert isinstance(src_layout, VideoLayout)
    frame = random_frame(src_layout, seed=7)
    if src_fmt == "YUY2":
        frame[..., 1] = 128  # chroma of the pixel pair kept identical across the pair
    p = passthrough(
        caps_for(src_fmt, width, height), f"videoconvert ! video/x-raw,format={dst_fmt}"
    )
    sample = p.roundtrip(buffers.ndarray_to_buffer(frame, src_layout))
    got = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
    assert layout_from_caps(sample.get_caps()).format == dst_fmt
    want = expect(frame, src_layout)
    if isinstance(got, list):  # I420-like output in GStreamer's padded layout
        dst_layout = layout_from_caps(sample.get_caps())
        want = [p.reshape(s) for p, s in zip(dst_layout.split(want), dst_layout.plane_shapes())]
    assert_same(got, want)


@pytest.mark.parametrize("fmt", ["I420", "NV12", "Y444"])
def test_odd_planar_agrees_with_videoconvert(passthrough, fmt):
    """Odd sizes (rounded-up chroma) come back as planes that GStreamer reads identically."""
    caps = caps_for(fmt, 7, 5)
    layout = layout_from_caps(caps)
    assert isinstance(layout, VideoLayout)
    y = np.arange(35, dtype=np.uint8).reshape(5, 7) + 16
    chroma = [np.full(s, 128, np.uint8) for s in layout.plane_shapes()[1:]]
    p = passthrough(caps, "videoconvert ! video/x-raw,format=GRAY8")
    sample = p.roundtrip(buffers.ndarray_to_buffer([y, *chroma], layout))
    got = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
    np.testing.assert_array_equal(got, y)


@pytest.mark.parametrize("interleaved", [True, False], ids=["interleaved", "planar"])
@pytest.mark.parametrize("fmt", sorted(AUDIO_FORMATS))
def test_audio_roundtrip_exact(passthrough, fmt, interleaved):
    layout_name = "interleaved" if interleaved else "non-interleaved"
    caps = f"audio/x-raw,format={fmt},rate=8000,channels=2,layout={layout_name}"
    layout = layout_from_caps(caps)
    assert isinstance(layout, AudioLayout)
    rng = np.random.default_rng(1)
    shape = layout.shape_for(101)
    native = layout.dtype.newbyteorder("=")
    if layout.dtype.kind == "f":
        data = rng.standard_normal(shape).astype(layout.dtype)
    else:
        info = np.iinfo(native)
        values = rng.integers(info.min, info.max, shape, dtype=native, endpoint=True)
        data = values.astype(layout.dtype)  # big-endian formats: same values, swapped bytes
    p = passthrough(caps)
    sample = p.roundtrip(buffers.ndarray_to_buffer(data, layout))
    got = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
    assert_same(got, data)


def test_audio_interleaving_agrees_with_audioconvert(passthrough):
    caps = "audio/x-raw,format=S16LE,rate=8000,channels=2,layout=interleaved"
    data = np.stack([np.arange(50, dtype="<i2"), -np.arange(50, dtype="<i2")], axis=1)
    p = passthrough(caps, "audioconvert ! audio/x-raw,layout=non-interleaved")
    sample = p.roundtrip(buffers.ndarray_to_buffer(data, caps))
    got = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
    assert got.shape == (2, 50)
    np.testing.assert_array_equal(got, data.T)


def test_audio_deinterleaving_agrees_with_audioconvert(passthrough):
    caps = (
        "audio/x-raw,format=F32LE,rate=8000,channels=3,layout=non-interleaved,"
        "channel-mask=(bitmask)0x0"
    )
    data = np.arange(3 * 40, dtype="<f4").reshape(3, 40)
    p = passthrough(caps, "audioconvert ! audio/x-raw,layout=interleaved")
    sample = p.roundtrip(buffers.ndarray_to_buffer(data, caps))
    got = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
    assert got.shape == (40, 3)
    np.testing.assert_array_equal(got, data.T)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fmt=st.sampled_from(ALL_VIDEO),
    width=st.integers(1, 70),
    height=st.integers(1, 50),
    video_meta=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_video_roundtrip_any_shape(fmt, width, height, video_meta, seed):
    caps = caps_for(fmt, width, height)
    layout = layout_from_caps(caps)
    assert isinstance(layout, VideoLayout)
    frame = random_frame(layout, seed)
    p = Passthrough(caps)
    try:
        sample = p.roundtrip(buffers.ndarray_to_buffer(frame, layout, video_meta=video_meta))
        got = buffers.buffer_to_ndarray(sample.get_buffer(), layout)
        assert_same(got, expected_output(layout, frame, video_meta))
    finally:
        p.close()


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 40),
    cols=st.integers(1, 40),
    step=st.integers(1, 3),
    transpose=st.booleans(),
)
def test_non_contiguous_rgb_any_shape(rows, cols, step, transpose):
    """Strided, cropped and transposed arrays are pushed correctly (zero or one copy)."""
    big = np.random.default_rng(rows * cols).integers(0, 255, (80, 80, 3), dtype=np.uint8)
    view = big[: rows * step : step, 1 : 1 + cols]
    if transpose:
        view = view.transpose(1, 0, 2)
    height, width = view.shape[:2]
    caps = caps_for("RGB", width, height)
    p = Passthrough(caps)
    try:
        sample = p.roundtrip(buffers.ndarray_to_buffer(view, caps))
        got = buffers.buffer_to_ndarray(sample.get_buffer(), sample.get_caps())
        np.testing.assert_array_equal(got, view)
    finally:
        p.close()
