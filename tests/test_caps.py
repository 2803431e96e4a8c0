"""Caps <-> (shape, dtype, strides) for raw video and audio."""

from __future__ import annotations

import numpy as np
import pytest

from gstreamer import _gi
from gstreamer.caps import (
    AUDIO_FORMATS,
    VIDEO_FORMATS,
    AudioLayout,
    VideoLayout,
    audio_caps,
    layout_from_caps,
    video_caps,
)
from gstreamer.errors import CapsError


def video(fmt: str, width: int, height: int) -> VideoLayout:
    layout = layout_from_caps(f"video/x-raw,format={fmt},width={width},height={height}")
    assert isinstance(layout, VideoLayout)
    return layout


# format, width, height -> one-array shape, dtype, plane shapes
SHAPES = [
    ("RGB", 318, 238, (238, 318, 3), "|u1", [(238, 318, 3)]),
    ("BGRx", 7, 5, (5, 7, 4), "|u1", [(5, 7, 4)]),
    ("GRAY8", 7, 5, (5, 7), "|u1", [(5, 7)]),
    ("GRAY16_LE", 7, 5, (5, 7), "<u2", [(5, 7)]),
    ("GRAY16_BE", 7, 5, (5, 7), ">u2", [(5, 7)]),
    ("RGBA64_BE", 3, 2, (2, 3, 4), ">u2", [(2, 3, 4)]),
    ("I420", 318, 238, (357, 318), "|u1", [(238, 318), (119, 159), (119, 159)]),
    ("YV12", 64, 48, (72, 64), "|u1", [(48, 64), (24, 32), (24, 32)]),
    ("NV12", 318, 238, (357, 318), "|u1", [(238, 318), (119, 159, 2)]),
    ("NV21", 64, 48, (72, 64), "|u1", [(48, 64), (24, 32, 2)]),
    ("Y444", 7, 5, (3, 5, 7), "|u1", [(5, 7)] * 3),
    ("YUY2", 8, 5, (5, 8, 2), "|u1", [(5, 8, 2)]),
    ("UYVY", 7, 5, (5, 8, 2), "|u1", [(5, 8, 2)]),  # odd width: one padding pixel
    ("NV16", 64, 48, (96, 64), "|u1", [(48, 64), (48, 32, 2)]),
]


@pytest.mark.parametrize(("fmt", "width", "height", "shape", "dtype", "planes"), SHAPES)
def test_shapes_and_dtypes(fmt, width, height, shape, dtype, planes):
    layout = video(fmt, width, height)
    assert layout.one_array
    assert layout.shape == shape
    assert layout.dtype == np.dtype(dtype)
    assert layout.plane_shapes() == planes


def test_rgb_odd_width_row_stride_from_gstreamer():
    layout = video("RGB", 318, 238)
    assert layout.strides == (956,)  # 318 * 3 = 954 rounded up to a multiple of 4
    assert layout.size == 956 * 238
    assert layout.tight_layout() == ((0,), (954,))


@pytest.mark.parametrize("fmt", ["I420", "YV12", "NV12", "NV21"])
@pytest.mark.parametrize(("width", "height"), [(7, 5), (1, 1), (8, 5), (7, 4)])
def test_odd_420_sizes_are_planes_only(fmt, width, height):
    layout = video(fmt, width, height)
    assert not layout.one_array
    assert layout.plane_shapes()[0] == (height, width)
    assert layout.plane_shapes()[1][:2] == ((height + 1) // 2, (width + 1) // 2)
    with pytest.raises(CapsError, match="list of"):
        _ = layout.shape


def test_gstreamer_accepts_odd_420_sizes_with_rounded_up_chroma():
    layout = video("I420", 7, 5)
    # Y: 8-byte rows (7 rounded up to 4) and 6 rows (5 rounded up to 2);
    # chroma: 4 columns x 3 rows, each row rounded up to 4 bytes
    assert layout.strides == (8, 4, 4)
    assert layout.offsets == (0, 48, 60)
    assert layout.size == 72


def test_unsupported_format_lists_the_supported_ones():
    with pytest.raises(CapsError) as err:
        layout_from_caps("video/x-raw,format=P010_10LE,width=4,height=4")
    message = str(err.value)
    assert "P010_10LE" in message
    assert all(name in message for name in ("RGB", "I420", "NV12", "GRAY16_BE", "YUY2"))
    with pytest.raises(CapsError, match="S16LE"):
        layout_from_caps("audio/x-raw,format=S24LE,rate=8000,channels=1,layout=interleaved")


@pytest.mark.parametrize(
    ("caps", "match"),
    [
        ("video/x-raw,width=4,height=4", "no fixed format"),
        ("video/x-raw,format=RGB,width=4", "width and height"),
        ("image/jpeg,width=4,height=4", "not raw video or audio"),
        ("audio/x-raw,format=S16LE,channels=2", "rate and channels"),
        ("audio/x-raw,format=S16LE,rate=8000,channels=3,layout=interleaved", "channel-mask"),
    ],
)
def test_bad_caps_say_what_is_missing(caps, match):
    with pytest.raises(CapsError, match=match):
        layout_from_caps(caps)


def test_gstreamer_122_has_no_float_raw_video_formats():
    """Documented claim: float arrays cannot be raw video in GStreamer 1.22."""
    GstVideo = _gi.GstVideo()
    names = []
    for value in range(1, 512):
        try:
            fmt = GstVideo.VideoFormat(value)
        except ValueError:
            break
        names.append(GstVideo.VideoFormat.to_string(fmt))
    assert "RGBA64_LE" in names and "GRAY16_BE" in names
    assert not [n for n in names if n and ("F16" in n or "F32" in n or "FLOAT" in n.upper())]
    with pytest.raises(CapsError, match="float32"):
        video_caps((4, 4, 3), np.float32)


@pytest.mark.parametrize(
    ("shape", "dtype", "fmt", "expected"),
    [
        ((238, 318, 3), np.uint8, None, "RGB"),
        ((238, 318, 4), np.uint8, None, "RGBA"),
        ((5, 7), np.uint8, None, "GRAY8"),
        ((5, 7), "<u2", None, "GRAY16_LE"),
        ((5, 7), ">u2", None, "GRAY16_BE"),
        ((5, 7, 4), ">u2", None, "RGBA64_BE"),
        ((238, 318, 3), np.uint8, "BGR", "BGR"),
        ((357, 318), np.uint8, "I420", "I420"),
        ((357, 318), np.uint8, "NV12", "NV12"),
        ((3, 5, 7), np.uint8, "Y444", "Y444"),
        ((5, 8, 2), np.uint8, "YUY2", "YUY2"),
    ],
)
def test_video_caps_round_trip_through_layout(shape, dtype, fmt, expected):
    caps = video_caps(shape, dtype, format=fmt, fps=30)
    layout = layout_from_caps(caps)
    assert isinstance(layout, VideoLayout)
    assert layout.format == expected
    assert layout.shape == shape
    assert layout.dtype.itemsize == np.dtype(dtype).itemsize
    assert layout.fps == 30


def test_video_caps_rejects_shapes_that_are_not_a_frame():
    with pytest.raises(CapsError, match="I420"):
        video_caps((100, 64), np.uint8, format="I420")
    with pytest.raises(CapsError, match="unsupported"):
        video_caps((4, 4, 3), np.uint8, format="NOPE")


@pytest.mark.parametrize("name", ["S8", "U8", "S16LE", "S32LE", "F32LE", "F64LE"])
@pytest.mark.parametrize("interleaved", [True, False])
def test_audio_caps_round_trip(name, interleaved):
    dtype = np.dtype(AUDIO_FORMATS[name])
    caps = audio_caps(dtype, 2, 48000, interleaved=interleaved)
    layout = layout_from_caps(caps)
    assert isinstance(layout, AudioLayout)
    assert layout.format == name and layout.dtype == dtype
    assert layout.interleaved is interleaved
    assert layout.shape_for(10) == ((10, 2) if interleaved else (2, 10))


def test_audio_check_array_messages():
    layout = layout_from_caps(audio_caps(np.int16, 2, 8000))
    assert isinstance(layout, AudioLayout)
    with pytest.raises(CapsError, match=r"float64.*int16"):
        layout.check_array(np.zeros((10, 2)))
    mono = layout_from_caps(audio_caps(np.float32, 1, 8000))
    assert isinstance(mono, AudioLayout)
    assert mono.check_array(np.zeros(10, np.float32)).shape == (10, 1)


def test_video_check_array_converts_byte_order_only():
    layout = video("GRAY16_BE", 7, 5)
    out = layout.check_array(np.arange(35, dtype="<u2").reshape(5, 7))
    assert out.dtype == np.dtype(">u2")
    np.testing.assert_array_equal(out, np.arange(35).reshape(5, 7))
    assert video("GRAY8", 7, 5).check_array(np.zeros((5, 7, 1), np.uint8)).shape == (5, 7)


def test_every_listed_format_has_a_layout():
    for fmt in VIDEO_FORMATS:
        layout = video(fmt, 64, 48)
        assert len(layout.offsets) == len(layout.spec.planes), fmt
        views = layout.plane_views(np.zeros(layout.size, np.uint8))
        assert [v.shape for v in views] == layout.plane_shapes(), fmt
