"""Colour conversion on the caller's thread: the Reader's YUV → RGB (libswscale) and the
Writer's RGB → I420 (libyuv), checked against ffmpeg and GStreamer's own videoconvert."""

import mmap
import shutil

import numpy as np
import pytest
from _helpers import ffmpeg, ffprobe_stream

import gstreamer
from gstreamer import _convert
from gstreamer.reader import Reader

pytestmark = [
    pytest.mark.skipif(not _convert.available(), reason="libswscale is not installed"),
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is needed"),
]

W, H = 64, 48


def ffmpeg_rgb(path, frames=None):
    """The ffmpeg CLI's own decoding to RGB24 (an independent reference)."""
    out = ffmpeg("-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    return np.frombuffer(out, np.uint8).reshape(-1, H, W, 3)


def make_clip(path, matrix="bt470bg", pix_fmt="yuv420p"):
    trc = "bt709" if matrix == "bt709" else "smpte170m"
    ffmpeg(
        "-y", "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=30",
        "-frames:v", "3", "-c:v", "libx264", "-pix_fmt", pix_fmt, "-colorspace", matrix,
        "-color_primaries", matrix, "-color_trc", trc, "-color_range", "tv", str(path),
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """``clip(matrix)``: :func:`make_clip`'s file, made once per matrix for the module (the
    tests only read it)."""
    folder = tmp_path_factory.mktemp("convert")
    made = {}

    def get(matrix="bt470bg"):
        if matrix not in made:
            made[matrix] = make_clip(folder / f"{matrix}.mp4", matrix)
        return made[matrix]

    return get


@pytest.mark.parametrize("matrix", ["bt470bg", "bt709"])
def test_reader_rgb_is_ffmpegs_rgb(clip, matrix):
    clip = clip(matrix)
    with Reader(clip) as reader:
        frames = [f.data for f in reader]
    ours = np.stack(frames)
    ref = ffmpeg_rgb(clip)
    assert ours.shape == ref.shape == (3, H, W, 3)
    # the same library with the same settings: the very same bytes
    assert np.array_equal(ours, ref)


def test_decoded_frames_are_owned_and_nothing_is_queued_twice(clip):
    clip = clip()
    with Reader(clip) as reader:
        assert " queue " not in reader.description  # no second stage of decoded frames
        frame = reader.read()
        assert reader.pipeline.get_by_name("sink").get_property("max-buffers") == 4
    data = frame.data
    assert data.flags.writeable and data.flags.c_contiguous
    # a padded memory map of its own (reused once freed, see test_reader_memory), not the
    # decoder's buffer
    assert data.base is not None and isinstance(data.base.base, memoryview)
    assert isinstance(data.base.base.obj, mmap.mmap)
    assert data.base.nbytes >= data.nbytes + _convert._PAD
    assert "format=(string)RGB" in frame.caps and "I420" not in frame.caps
    assert reader.layout.format == "RGB" and reader.layout.strides == (W * 3,)


ORDERS = ["BGR", "RGBA", "BGRA", "RGBx", "BGRx", "ARGB", "xBGR"]


@pytest.fixture(scope="module")
def ffmpeg_orders(clip, tmp_path_factory):
    """ffmpeg's first frame of ``clip()`` in each of :data:`ORDERS`, from one ffmpeg run
    (one output file per pixel format)."""
    folder = tmp_path_factory.mktemp("orders")
    outputs = []
    for fmt in ORDERS:
        pix_fmt = _convert.OUTPUT_FORMATS[fmt][0]
        outputs += ["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pix_fmt, str(folder / fmt)]
    ffmpeg("-i", str(clip()), *outputs)
    return {fmt: (folder / fmt).read_bytes() for fmt in ORDERS}


@pytest.mark.parametrize("fmt", ORDERS)
def test_other_rgb_orders_are_ffmpegs(clip, ffmpeg_orders, fmt):
    clip = clip()
    channels = _convert.OUTPUT_FORMATS[fmt][1]
    ref = ffmpeg_orders[fmt]
    with Reader(clip, format=fmt) as reader:
        frame = reader.read()
    assert frame.data.shape == (H, W, channels)
    ours = frame.data
    if "x" in fmt:  # padding bytes: ffmpeg leaves 0 or 255 there, unspecified
        keep = [i for i, c in enumerate(fmt) if c != "x"]
        ours = ours[..., keep]
        ref_array = np.frombuffer(ref, np.uint8).reshape(H, W, channels)[..., keep]
    else:
        ref_array = np.frombuffer(ref, np.uint8).reshape(H, W, channels)
    assert np.array_equal(ours, ref_array)


def ffmpeg_from_raw(planes, pix_fmt, w, h):
    """ffmpeg's conversion of tightly packed raw YUV planes to RGB24."""
    planes = planes if isinstance(planes, list) else [planes]
    raw = b"".join(np.ascontiguousarray(p).tobytes() for p in planes)
    out = ffmpeg(
        "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{w}x{h}", "-i", "-",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-", input=raw,
    )  # fmt: skip
    return np.frombuffer(out, np.uint8).reshape(h, w, 3)


@pytest.mark.parametrize(
    "yuv, pix_fmt, size",
    [
        ("I420", "yuv420p", (64, 48)),
        ("I420", "yuv420p", (33, 17)),  # odd: chroma of ceil(w / 2) x ceil(h / 2)
        ("I420", "yuv420p", (322, 241)),
        ("NV12", "nv12", (64, 48)),
        ("NV21", "nv21", (64, 48)),
        ("YV12", "yuv420p", (64, 48)),
        ("Y42B", "yuv422p", (64, 48)),
        ("Y444", "yuv444p", (64, 48)),
    ],
)
def test_yuv_layouts_convert_like_ffmpeg(yuv, pix_fmt, size):
    w, h = size
    src = (
        f"videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={yuv},width={w},height={h}"
    )
    planes = next(iter(Reader(src, format=yuv))).data
    if yuv == "YV12":  # Y, V, U planes: ffmpeg's yuv420p wants Y, U, V
        flat = planes.reshape(-1)
        y, rest = flat[: w * h], flat[w * h :]
        planes = [y, rest[rest.size // 2 :], rest[: rest.size // 2]]
    ours = next(iter(Reader(src))).data
    assert ours.flags.writeable  # converted here, not by videoconvert (a read-only view)
    assert ours.shape == (h, w, 3)
    # SD sizes: GStreamer's colorimetry is BT.601 limited, ffmpeg's default too
    assert np.array_equal(ours, ffmpeg_from_raw(planes, pix_fmt, w, h))


def test_rgb_sources_are_not_converted():
    # a source that makes RGB itself hands it over untouched (a zero-copy view)
    with Reader("videotestsrc num-buffers=1 pattern=red") as reader:
        frame = reader.read()
    assert not frame.data.flags.writeable
    assert (frame.data == [255, 0, 0]).all()


def test_fallback_without_the_converter(monkeypatch, clip):
    clip = clip()
    monkeypatch.setattr(_convert, "available", lambda: False)
    with Reader(clip) as reader:
        assert "format=RGB ! appsink" in reader.description.replace(" ", " ")
        frame = reader.read()
    assert not frame.data.flags.writeable  # videoconvert's buffer, mapped
    assert frame.data.shape == (H, W, 3)


@pytest.mark.skipif(not _convert.i420_available(), reason="libyuv is not installed")
def test_writer_grey_reads_back_unchanged_and_is_tagged(tmp_path):
    out = tmp_path / "grey.mp4"
    with gstreamer.Writer(out, fps=30) as writer:
        for _ in range(3):
            writer.write(np.full((H, W, 3), 128, np.uint8))
    tags = ffprobe_stream(out, "color_space", "color_range")
    assert tags == {"color_space": "smpte170m", "color_range": "pc"}  # full-range BT.601
    assert (ffmpeg_rgb(out) == 128).all()
    assert all((f.data == 128).all() for f in Reader(out))


@pytest.mark.skipif(not _convert.i420_available(), reason="libyuv is not installed")
@pytest.mark.parametrize("fmt", ["RGB", "BGR", "RGBA", "BGRx", "xRGB", "ABGR"])
def test_writer_channel_orders(tmp_path, fmt):
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (H // 8, W // 8, 3), dtype=np.uint8)
    rgb = np.repeat(np.repeat(blocks, 8, 0), 8, 1)
    frame = np.full((H, W, len(fmt)), 255, np.uint8)
    for i, c in enumerate(fmt):
        if c in "RGB":
            frame[..., i] = rgb[..., "RGB".index(c)]
    out = tmp_path / "o.mp4"
    with gstreamer.Writer(out, fps=30, format=fmt) as writer:
        writer.write(frame)
        assert writer.caps.startswith(f"video/x-raw, format=(string){fmt}")
    back = ffmpeg_rgb(out)[0]
    assert np.abs(back.astype(int) - rgb).mean() < 4  # lossy H.264 of 8x8 colour blocks


@pytest.mark.skipif(not _convert.i420_available(), reason="libyuv is not installed")
def test_writer_converts_like_ffmpeg(tmp_path):
    # libyuv's full-range BT.601 (J420) against the ffmpeg CLI's swscale to yuvj420p: +-1
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    frame[:, : W // 2] = np.repeat(np.repeat(frame[::8, : W // 2 : 8], 8, 0), 8, 1)[:H]
    conv = _convert.RgbToI420(gstreamer.caps.layout_from_caps(
        f"video/x-raw,format=RGB,width={W},height={H},framerate=30/1"))  # fmt: skip
    ours = conv.convert(frame)[: W * H].reshape(H, W)
    ref = ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-i", "-",
        "-f", "rawvideo", "-pix_fmt", "yuvj420p", "-", input=frame.tobytes(),
    )  # fmt: skip
    luma = np.frombuffer(ref, np.uint8)[: W * H].reshape(H, W)
    assert np.abs(ours.astype(int) - luma).max() <= 1


@pytest.mark.parametrize("size", [(120, 160), (33, 17), (8, 2)])
def test_simd_tails_stay_inside_the_arrays(size):
    # libswscale's SIMD writes whole 16-pixel blocks: a 120-pixel row is written as 128
    # pixels. Many frames in a row would corrupt the heap if that spilled past the array.
    w, h = size
    src = f"videotestsrc num-buffers=60 pattern=snow ! video/x-raw,format=I420,width={w},height={h}"
    frames = [f.data for f in Reader(src)]
    assert len(frames) == 60 and frames[-1].shape == (h, w, 3)
    rotated = "videotestsrc num-buffers=20 ! video/x-raw,format=I420,width=160,height=120"
    assert all(
        f.data.shape == (160, 120, 3) for f in Reader(f"{rotated} ! videoflip video-direction=90r")
    )


# -- VideoFile, thumbnails and MuxWriter take the same conversion paths ----------------------


@pytest.mark.parametrize("matrix", ["bt470bg", "bt709"])
def test_video_file_rgb_is_ffmpegs_rgb(tmp_path, matrix):
    clip = make_clip(tmp_path / f"{matrix}.mp4", matrix)
    ref = ffmpeg_rgb(clip)
    with gstreamer.VideoFile(clip) as vf:
        assert "format=(string){I420" in vf.description  # the decoder's YUV reaches Python
        batch = vf.get_batch([2, 0, 1, 2])
        frame = vf[1]
    assert np.abs(batch.astype(int) - ref[[2, 0, 1, 2]]).max() <= 1
    assert np.abs(frame.data.astype(int) - ref[1]).max() <= 1
    assert frame.data.flags.writeable and frame.data.flags.c_contiguous
    assert "format=(string)RGB" in frame.caps and "I420" not in frame.caps


def test_video_file_other_formats_and_sizes(tmp_path):
    clip = make_clip(tmp_path / "c.mp4")
    ref = ffmpeg_rgb(clip)
    with gstreamer.VideoFile(clip, format="BGR") as vf:
        assert np.abs(vf[0].data[..., ::-1].astype(int) - ref[0]).max() <= 1
    with gstreamer.VideoFile(clip, width=32) as vf:  # scaled as YUV, then converted
        assert vf[0].data.shape == (24, 32, 3)
    with gstreamer.VideoFile(clip, format="GRAY8") as vf:  # videoconvert makes it
        assert "{I420" not in vf.description
        assert vf[0].data.shape == (H, W)


def test_thumbnails_are_ffmpegs_rgb(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", "bt709")
    (thumb,) = gstreamer.thumbnails(clip, times=[0.0])
    assert np.abs(thumb.data.astype(int) - ffmpeg_rgb(clip)[0]).max() <= 1
    assert "format=(string)RGB" in thumb.caps and "I420" not in thumb.caps


@pytest.mark.skipif(not _convert.i420_available(), reason="libyuv is not installed")
def test_mux_writer_converts_rgb_with_libyuv(tmp_path):
    from _media import burned_frame, frame_number

    out = tmp_path / "av.mp4"
    with gstreamer.MuxWriter(out) as writer:
        for i in range(5):
            writer.write_video(burned_frame(i, W, H))
            writer.write_audio(np.zeros((1600, 2), np.float32))
        appsrc = writer.pipeline.get_by_name("video").get_property("caps").to_string()
        assert writer.video_caps.startswith("video/x-raw, format=(string)RGB")
    # the appsrc takes the I420 made in the writing thread, tagged full-range BT.601
    assert "format=(string)I420" in appsrc and "colorimetry=(string)1:4:7:1" in appsrc
    assert ffprobe_stream(out, "color_space", "color_range") == {
        "color_space": "smpte170m",
        "color_range": "pc",
    }
    assert [frame_number(f.data) for f in gstreamer.Reader(out)] == list(range(5))
