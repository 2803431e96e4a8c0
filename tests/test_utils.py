"""gstreamer.utils: the seed's helpers, correct about strides and mapping lifetime."""

import gc
from fractions import Fraction

import numpy as np
import pytest

import gstreamer.utils as utils
from gstreamer import CapsError, Gst, GstPipeline, GstVideo


def _sample(caps, pattern="ball"):
    """One real buffer and its caps from videotestsrc (the pipeline is gone afterwards)."""
    pipeline = GstPipeline(
        f"videotestsrc num-buffers=1 pattern={pattern} ! {caps} ! appsink name=out"
    )
    with pipeline:
        sample = pipeline.get_by_name("out").try_pull_sample(5 * Gst.SECOND)
    assert sample is not None
    return sample.get_buffer(), sample.get_caps()


def _manual(buffer, height, row_bytes, stride, dtype=np.uint8):
    """Independent reading: copy the bytes out and cut the rows by hand."""
    raw = np.frombuffer(buffer.extract_dup(0, buffer.get_size()), np.uint8)
    rows = raw[: height * stride].reshape(height, stride)[:, :row_bytes]
    return np.ascontiguousarray(rows).view(dtype)


def test_ndarray_to_gst_buffer_round_trip_and_lifetime():
    array = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    expected = array.tobytes()
    buf = utils.ndarray_to_gst_buffer(array)
    assert isinstance(buf, Gst.Buffer)
    del array
    gc.collect()  # the buffer keeps the array alive
    assert buf.extract_dup(0, buf.get_size()) == expected


def test_ndarray_to_gst_buffer_non_contiguous():
    base = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    view = base[:, ::2]
    buf = utils.ndarray_to_gst_buffer(view)
    assert buf.extract_dup(0, buf.get_size()) == view.tobytes()


def test_ndarray_to_gst_buffer_with_caps_checks_the_array():
    caps = "video/x-raw,format=RGB,width=5,height=7"
    assert utils.ndarray_to_gst_buffer(np.zeros((7, 5, 3), np.uint8), caps).get_size() >= 105
    with pytest.raises(CapsError):
        utils.ndarray_to_gst_buffer(np.zeros((5, 7, 3), np.uint8), caps)


@pytest.mark.parametrize(
    ("width", "channels", "fmt"), [(31, 3, "RGB"), (30, 3, "RGB"), (13, 1, "GRAY8"), (9, 4, "RGBA")]
)
def test_gst_buffer_to_ndarray_handles_row_padding(width, channels, fmt):
    height = 5
    buf, _ = _sample(f"video/x-raw,format={fmt},width={width},height={height}")
    row = width * channels
    stride = (row + 3) // 4 * 4
    expected = _manual(buf, height, row, stride)
    arr = utils.gst_buffer_to_ndarray(buf, width=width, height=height, channels=channels)
    shape = (height, width) if channels == 1 else (height, width, channels)  # seed squeezed 1
    assert arr.shape == shape
    np.testing.assert_array_equal(arr.reshape(height, row), expected)
    copy = utils.gst_buffer_to_ndarray(
        buf, width=width, height=height, channels=channels, do_copy=True
    )
    np.testing.assert_array_equal(copy, arr)
    assert copy.flags.writeable and not np.shares_memory(copy, arr)


def test_gst_buffer_with_caps_to_ndarray_outlives_buffer_and_pipeline():
    buf, caps = _sample("video/x-raw,format=RGB,width=31,height=9")
    arr = utils.gst_buffer_with_caps_to_ndarray(buf, caps)
    expected = _manual(buf, 9, 93, 96).reshape(9, 31, 3)
    del buf, caps
    gc.collect()
    assert arr.shape == (9, 31, 3)
    assert not arr.flags.writeable  # a read-only view of mapped memory
    np.testing.assert_array_equal(arr, expected)  # still mapped: the view holds the buffer


def test_gst_buffer_with_caps_to_ndarray_formats():
    buf, caps = _sample("video/x-raw,format=GRAY16_LE,width=6,height=4")
    arr = utils.gst_buffer_with_caps_to_ndarray(buf, caps.to_string())
    assert arr.shape == (4, 6) and arr.dtype == np.dtype("<u2")
    np.testing.assert_array_equal(arr, _manual(buf, 4, 12, 12, "<u2"))
    buf, caps = _sample("video/x-raw,format=I420,width=8,height=6")
    planes = utils.gst_buffer_with_caps_to_ndarray(buf, caps)
    y = planes[0] if isinstance(planes, list) else planes[:6]
    np.testing.assert_array_equal(y, _manual(buf, 6, 8, 8))


def test_gst_buffer_with_pad_to_ndarray():
    pipeline = GstPipeline(
        "videotestsrc num-buffers=1 ! video/x-raw,format=GRAY8,width=10,height=3 ! appsink name=out"
    )
    with pipeline:
        sink = pipeline.get_by_name("out")
        buf = sink.try_pull_sample(5 * Gst.SECOND).get_buffer()
        arr = utils.gst_buffer_with_pad_to_ndarray(buf, sink.get_static_pad("sink"))
    np.testing.assert_array_equal(arr, _manual(buf, 3, 10, 12))


@pytest.mark.parametrize(
    ("fmt", "channels", "dtype"),
    [
        ("RGB", 3, np.uint8),
        ("BGRx", 4, np.uint8),
        ("GRAY8", 1, np.uint8),
        ("GRAY16_LE", 1, np.uint16),
    ],
)
def test_channels_and_dtype(fmt, channels, dtype):
    enum = GstVideo.VideoFormat.from_string(fmt)
    assert utils.get_num_channels(enum) == utils.get_num_channels(fmt) == channels
    assert utils.get_np_dtype(enum) == np.dtype(dtype)


def test_unknown_format_is_a_caps_error():
    with pytest.raises(CapsError, match="unsupported video format"):
        utils.get_num_channels("NOPE")


def test_small_helpers():
    assert utils.to_gst_string(["videotestsrc", ["queue", "videoconvert"], "fakesink"]) == (
        "videotestsrc ! queue ! videoconvert ! fakesink"
    )
    assert utils.to_gst_string([]) == ""
    assert utils.fraction_to_str(Fraction(30000, 1001)) == "30000/1001"
    assert utils.fraction_to_str(25) == "25/1"
    assert utils.gst_state_to_str(Gst.State.PLAYING) == "PLAYING"
    assert utils.gst_video_format_from_string("RGB") == GstVideo.VideoFormat.RGB
