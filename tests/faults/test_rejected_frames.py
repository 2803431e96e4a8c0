"""A first frame the stream would reject leaves no file, and a failed start removes its file."""

import numpy as np
import pytest
from _helpers import frames_in

from gstreamer import CapsError, GstError, Writer


def _zeros(shape):
    """A frame of any size without the memory (all pixels share one byte)."""
    return np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape, (0,) * len(shape))


REJECTED = {
    "float": (np.zeros((48, 64, 3), np.float32), "dtype float32"),
    "int16": (np.zeros((48, 64, 3), np.int16), "dtype int16"),
    "nan": (np.full((48, 64, 3), np.nan), "dtype float64"),
    "2-D float": (np.zeros((48, 64), np.float32), "dtype float32"),
    "2-D int16": (np.zeros((48, 64), np.int16), "dtype int16"),
    "zero size": (np.zeros((0, 0, 3), np.uint8), "0x0"),
    "zero height": (np.zeros((0, 64, 3), np.uint8), "64x0"),
    "huge for GStreamer": (_zeros((40000, 40000, 3)), "40000x40000"),
    "huge for x264": (_zeros((20000, 20000, 3)), "20000x20000"),
}


@pytest.mark.parametrize("ext", ["mp4", "mkv", "ts"])
@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_first_frame_leaves_no_file(tmp_path, case, ext):
    frame, words = REJECTED[case]
    target = tmp_path / f"out.{ext}"
    with pytest.raises(CapsError, match=words), Writer(target, fps=30) as writer:
        writer.write(frame)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_2d_float_needs_explicit_format_and_matching_dtype(tmp_path):
    with pytest.raises(CapsError, match="pass format="):
        Writer(tmp_path / "a.mkv").write(np.zeros((48, 64), np.float32))
    writer = Writer(tmp_path / "b.mkv", format="GRAY16_LE")
    with pytest.raises(CapsError, match="dtype float32"):
        writer.write(np.zeros((48, 64), np.float32))  # checked before the pipeline starts
    assert not (tmp_path / "b.mkv").exists()
    writer.write(np.zeros((48, 64), np.uint16))  # the writer is still usable
    writer.close()
    assert frames_in(tmp_path / "b.mkv") == 1


def test_a_good_frame_after_a_rejected_one_is_written(tmp_path):
    writer = Writer(tmp_path / "c.mp4", fps=30)
    with pytest.raises(CapsError):
        writer.write(np.zeros((0, 64, 3), np.uint8))
    writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.close()
    assert frames_in(tmp_path / "c.mp4") == 1


def test_vp8_size_limit_comes_from_the_encoder(tmp_path):
    with pytest.raises(
        CapsError, match=r"64x17000 is too large for vp8enc \(at most 16383x16383\)"
    ):
        Writer(tmp_path / "d.webm").write(_zeros((17000, 64, 3)))
    assert not (tmp_path / "d.webm").exists()


CAPS = "video/x-raw,format=RGB,width=64,height=48,framerate=30/1"
# the encoder's output also goes to a file in a folder that does not exist: that filesink
# fails to start, after (or before) the target's filesink created the target
FAILING = "x264enc ! tee name=t t. ! queue ! filesink location=/nonexistent-dir/x.h264 t."


def test_failed_start_removes_the_file_it_created(tmp_path):
    target = tmp_path / "e.mp4"
    with pytest.raises(GstError):
        Writer(target, caps=CAPS, encoder=FAILING)
    assert not target.exists()
