"""Decoded colours against FFmpeg's, on our own files and on FFmpeg-made ones."""

import numpy as np
import pytest
from _helpers import ffmpeg

from gstreamer import ArgumentError, Reader, Writer

# flat patches (16x16 pixels, a multiple of the chroma block): compared at their centres
PATCHES = [
    (128, 128, 128), (16, 16, 16), (235, 235, 235), (0, 0, 0), (255, 255, 255),
    (200, 30, 30), (30, 200, 30), (30, 30, 200), (180, 160, 40), (60, 120, 190),
]  # fmt: skip


def patch_frame(width=160, height=96):
    frame = np.zeros((height, width, 3), np.uint8)
    for i, colour in enumerate(PATCHES):
        y, x = divmod(i, width // 32)
        frame[y * 32 : y * 32 + 32, x * 32 : x * 32 + 32] = colour
    return frame


def centres(rgb, width=160):
    out = []
    for i in range(len(PATCHES)):
        y, x = divmod(i, width // 32)
        out.append(rgb[y * 32 + 12 : y * 32 + 20, x * 32 + 12 : x * 32 + 20].reshape(-1, 3))
    return np.array([p.mean(0) for p in out])


def ffmpeg_rgb(path, width=160, height=96):
    raw = ffmpeg("-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def reader_rgb(path, **options):
    with Reader(path, **options) as reader:
        return reader.read().data


@pytest.mark.parametrize("size", [(160, 120), (1280, 720)])
def test_grey_128_written_by_our_writer_reads_back_as_128(tmp_path, size):
    width, height = size
    path = tmp_path / "grey.mp4"
    with Writer(path, fps=30) as writer:
        for _ in range(3):
            writer.write(np.full((height, width, 3), 128, np.uint8))
    ours = reader_rgb(path).reshape(-1, 3)
    assert np.abs(ours.astype(int) - 128).max() <= 1
    assert np.abs(ffmpeg_rgb(path, width, height).astype(int) - 128).max() <= 1


def test_our_files_read_like_ffmpeg_reads_them(tmp_path):
    path = tmp_path / "patches.mp4"
    with Writer(path, fps=30) as writer:
        for _ in range(3):
            writer.write(patch_frame())
    ours, theirs = centres(reader_rgb(path)), centres(ffmpeg_rgb(path))
    assert np.abs(ours - theirs).max() <= FULL_RANGE_BOUND, np.c_[ours, theirs]
    assert np.abs(ours[:5] - np.array(PATCHES[:5])).max() <= 1  # greys come back exactly


# The Reader converts YUV to RGB with libswscale (gstreamer._convert), as FFmpeg does: on
# flat colours it gives FFmpeg's values exactly (measured max 0 on every file here). The
# issue asks for 1 level. (GStreamer 1.22's videoconvert, the fallback without libswscale,
# is off by up to 2 on full-range and 4 on limited-range files.)
FULL_RANGE_BOUND = 1
LIMITED_RANGE_BOUND = 1


def _ffmpeg_file(folder, name, *tags):
    png = folder / "patches.png"
    if not png.exists():
        with Writer(folder / "patches.mkv", fps=30, encoder="avenc_ffv1") as w:
            w.write(patch_frame())
        ffmpeg("-y", "-i", str(folder / "patches.mkv"), str(png))
    path = folder / name
    ffmpeg("-y", "-i", str(png), *tags, "-c:v", "libx264", "-qp", "0", str(path))
    return path


@pytest.fixture(scope="module")
def ffmpeg_file(tmp_path_factory):
    """``ffmpeg_file(name)``: the patches encoded by FFmpeg with ``FFMPEG_FILES[name]``, made
    once for the module (the tests only read them)."""
    folder = tmp_path_factory.mktemp("colours")
    made = {}

    def get(name):
        if name not in made:
            made[name] = _ffmpeg_file(folder, f"{name}.mp4", *FFMPEG_FILES[name])
        return made[name]

    return get


FFMPEG_FILES = {
    "bt601-limited": ["-vf", "scale=out_color_matrix=bt601:out_range=tv", "-pix_fmt", "yuv420p",
                      "-colorspace", "smpte170m", "-color_range", "tv"],
    "bt709-limited": ["-vf", "scale=out_color_matrix=bt709:out_range=tv", "-pix_fmt", "yuv420p",
                      "-colorspace", "bt709", "-color_range", "tv"],
    "bt601-full": ["-vf", "scale=out_color_matrix=bt601:out_range=pc", "-pix_fmt", "yuvj420p",
                   "-colorspace", "smpte170m", "-color_range", "pc"],
    "bt709-full": ["-vf", "scale=out_color_matrix=bt709:out_range=pc", "-pix_fmt", "yuvj420p",
                   "-colorspace", "bt709", "-color_range", "pc"],
    "untagged": ["-pix_fmt", "yuv420p"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FFMPEG_FILES))
def test_ffmpeg_made_files_read_close_to_ffmpeg(ffmpeg_file, name):
    path = ffmpeg_file(name)
    ours, theirs = centres(reader_rgb(path)), centres(ffmpeg_rgb(path))
    diff = np.abs(ours - theirs)
    bound = FULL_RANGE_BOUND if name.endswith("full") else LIMITED_RANGE_BOUND
    assert diff.max() <= bound, f"max {diff.max()} mean {diff.mean():.2f}\n{np.c_[ours, theirs]}"


@pytest.mark.parametrize("name", ["bt601-limited", "bt709-full"])
def test_within_one_level_of_ffmpeg(ffmpeg_file, name):
    # exact since the Reader converts with libswscale (issue 13); videoconvert was off by up
    # to 2 (full range) / 4 (limited range) levels
    path = ffmpeg_file(name)
    assert np.abs(centres(reader_rgb(path)) - centres(ffmpeg_rgb(path))).max() <= 1


def test_untagged_files_are_read_as_bt601_like_ffmpeg(ffmpeg_file):
    path = ffmpeg_file("untagged")
    default = reader_rgb(path)
    assert np.array_equal(default, reader_rgb(path, colorimetry="bt601"))
    # the matrix matters for colours: BT.709 would read them differently
    assert np.abs(centres(default) - centres(reader_rgb(path, colorimetry="bt709"))).max() > 5


def test_colorimetry_pins_the_matrix(ffmpeg_file):
    path = ffmpeg_file("bt709-limited")
    tagged = centres(reader_rgb(path))
    as_601 = centres(reader_rgb(path, colorimetry="bt601"))
    assert np.abs(tagged - as_601).max() > 5  # another matrix: other colours
    assert np.abs(centres(reader_rgb(path, colorimetry="bt709")) - tagged).max() == 0


def test_unknown_colorimetry_is_an_argument_error(tmp_path):
    with pytest.raises(ArgumentError, match="colorimetry"):
        Reader("videotestsrc num-buffers=1", colorimetry="bt999")
