import gc
import os
import shutil
import time
from fractions import Fraction

import numpy as np
import pytest
from _helpers import ffprobe_stream, gst_launch, wait_for

import gstreamer
from gstreamer import (
    CapsError,
    ClosedError,
    InvalidMediaError,
    PipelineError,
    TimeoutError,
    VideoFile,
    probe,
)
from gstreamer.errors import SourceNotFoundError
from gstreamer.reader import Reader, build_description, read_frames

# 320x240, 30 frames, 30 fps, H.264 in MP4
MP4_FRAMES = 30


@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    path = tmp_path_factory.mktemp("reader") / "clip.mp4"
    gst_launch(
        f"videotestsrc num-buffers={MP4_FRAMES} pattern=ball ! "
        "video/x-raw,width=320,height=240,framerate=30/1 ! x264enc key-int-max=10 ! mp4mux ! "
        f"filesink location={path}"
    )
    return path


def frames_of(source, **kwargs):
    with Reader(source, **kwargs) as reader:
        return list(reader)


# -- pixels -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("format", "expected"),
    [
        ("RGB", [0x20, 0x40, 0xA0]),
        ("BGR", [0xA0, 0x40, 0x20]),
        ("RGBA", [0x20, 0x40, 0xA0, 0xFF]),
        ("GRAY8", None),
    ],
)
def test_solid_color_pixels(format, expected):
    src = "videotestsrc num-buffers=3 pattern=solid-color foreground-color=0xff2040a0"
    frames = frames_of(src, format=format)
    assert len(frames) == 3
    data = frames[0].data
    if expected is None:
        assert data.shape == (240, 320)
        # BT.601 luma of (32, 64, 160), in video range
        luma = 16 + (65.481 * 32 + 128.553 * 64 + 24.966 * 160) / 255
        assert abs(int(data[120, 160]) - luma) <= 2
        assert data.min() == data.max()
    else:
        assert data.shape == (240, 320, len(expected))
        assert (data == np.array(expected, np.uint8)).all()


def test_fragment_matches_complete_pipeline():
    fragment = frames_of("videotestsrc num-buffers=4 pattern=smpte", format="RGB")
    complete = frames_of(
        "videotestsrc num-buffers=4 pattern=smpte ! video/x-raw,format=RGB ! appsink"
    )
    assert len(fragment) == len(complete) == 4
    for a, b in zip(fragment, complete):
        np.testing.assert_array_equal(a.data, b.data)
        assert a.pts == b.pts
    # smpte bars along the top: white, yellow, cyan, green, magenta, red, blue
    bars = fragment[0].data[10, 23::46]
    expected = [
        [255, 255, 255],
        [255, 255, 0],
        [0, 255, 255],
        [0, 255, 0],
        [255, 0, 255],
        [255, 0, 0],
        [0, 0, 255],
    ]
    np.testing.assert_array_equal(bars, np.array(expected, np.uint8))


def test_bgr_is_rgb_reversed():
    rgb = frames_of("videotestsrc num-buffers=1 pattern=smpte", format="RGB")[0].data
    bgr = frames_of("videotestsrc num-buffers=1 pattern=smpte", format="BGR")[0].data
    np.testing.assert_array_equal(rgb, bgr[..., ::-1])


def test_i420_is_one_array_whose_luma_matches_gray8():
    i420 = frames_of("videotestsrc num-buffers=1 pattern=smpte", format="I420")[0].data
    gray = frames_of("videotestsrc num-buffers=1 pattern=smpte", format="GRAY8")[0].data
    assert i420.shape == (360, 320)
    assert gray.shape == (240, 320)
    np.testing.assert_array_equal(i420[:240], gray)


def test_odd_size_has_no_padding():
    src = "videotestsrc num-buffers=2 pattern=smpte ! video/x-raw,width=318,height=238"
    rgb = frames_of(src, format="RGB")[0].data
    rgbx = frames_of(src, format="RGBx")[0].data  # 4 bytes a pixel: rows never padded
    assert rgb.shape == (238, 318, 3)
    np.testing.assert_array_equal(rgb, rgbx[..., :3])
    # the view skips row padding: RGB rows of 318 pixels are padded to 956 bytes
    assert rgb.strides[0] in (954, 956)
    planes = frames_of(src, format="I420")[0].data
    assert [p.shape for p in planes] == [(238, 318), (119, 159), (119, 159)]
    gray = frames_of(src, format="GRAY8")[0].data
    np.testing.assert_array_equal(planes[0], gray)


def test_scale_and_retime(mp4):
    with Reader(mp4, width=160, height=120, fps=15) as reader:
        frames = list(reader)
        assert (reader.width, reader.height, reader.fps) == (160, 120, Fraction(15))
    assert len(frames) == MP4_FRAMES // 2
    assert all(f.data.shape == (120, 160, 3) for f in frames)


# -- files ------------------------------------------------------------------------------


def test_file_frames_and_timestamps(mp4):
    probe = ffprobe_stream(mp4, "nb_read_frames", "width", "height", "r_frame_rate")
    reader = Reader(mp4)
    try:
        assert reader.width is None and reader.caps is None  # known after the first frame
        frames = list(reader)
        assert (reader.width, reader.height) == (int(probe["width"]), int(probe["height"]))
        assert reader.fps == Fraction(probe["r_frame_rate"])
        assert reader.frames_read == len(frames)
        assert "format=(string)RGB" in reader.caps
    finally:
        reader.close()
    assert len(frames) == int(probe["nb_read_frames"]) == MP4_FRAMES
    assert all(f.data.shape == (240, 320, 3) and f.data.dtype == np.uint8 for f in frames)
    pts = [f.pts for f in frames]
    assert all(p is not None for p in pts)
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert all(f.duration == pytest.approx(1e9 / 30, abs=1) for f in frames)
    assert frames[0].keyframe
    # the ball moves: consecutive frames differ
    assert not np.array_equal(frames[0].data, frames[5].data)


def test_file_uri_and_pathlike(mp4):
    by_path = frames_of(mp4)
    by_str = frames_of(str(mp4), format="GRAY8")
    by_uri = frames_of(mp4.resolve().as_uri())
    assert len(by_path) == len(by_str) == len(by_uri) == MP4_FRAMES
    np.testing.assert_array_equal(by_path[7].data, by_uri[7].data)
    assert "uridecodebin" in build_description(mp4.resolve().as_uri())
    assert build_description(mp4).startswith("filesrc location=")


def test_file_name_with_pipeline_syntax_stays_a_file_name(tmp_path, mp4):
    odd = tmp_path / "a ! fakesink name=x.mp4"
    shutil.copy(mp4, odd)
    assert len(frames_of(odd)) == MP4_FRAMES


def test_read_frames_yields_arrays(mp4):
    arrays = list(read_frames(mp4, format="GRAY8"))
    assert len(arrays) == MP4_FRAMES
    assert all(isinstance(a, np.ndarray) and a.shape == (240, 320) for a in arrays)


def test_lazy_public_names():
    assert gstreamer.Reader is Reader
    assert gstreamer.read_frames is read_frames


# -- errors -----------------------------------------------------------------------------


def test_missing_file_is_a_typed_error_before_any_pipeline(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(SourceNotFoundError) as info:
        Reader(missing)
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, PipelineError)
    assert info.value.filename == str(missing)
    with pytest.raises(FileNotFoundError):
        Reader(str(missing))
    with pytest.raises(FileNotFoundError):
        Reader(missing.as_uri())


def test_garbage_file_raises_not_hangs(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 100_000, np.uint8).tobytes())
    with pytest.raises(PipelineError) as info, Reader(junk, timeout=10) as reader:
        reader.read()
    assert info.value.hint and "gst-discoverer" in info.value.hint
    assert info.value.element


def test_empty_file_is_invalid_media(tmp_path):
    """typefind says "Stream contains no data"; ffprobe and PyAV call it invalid data too."""
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InvalidMediaError) as info, Reader(empty, timeout=10) as reader:
        reader.read()
    assert info.value.filename == str(empty)
    assert "empty (0 bytes)" in info.value.hint
    with pytest.raises(InvalidMediaError, match="no data"):
        probe(empty)
    with pytest.raises(InvalidMediaError):
        VideoFile(empty)


def test_error_mid_stream_raises_at_next_read():
    reader = Reader("videotestsrc num-buffers=100 ! identity error-after=5")
    got = 0
    with pytest.raises(PipelineError) as info:
        for _ in reader:
            got += 1
    assert got < 5
    assert info.value.element.startswith("identity")
    assert info.value.debug
    with pytest.raises(PipelineError):  # never looks like end of stream afterwards
        reader.read()
    reader.close()  # already raised: close is quiet
    reader.close()


def test_error_not_yet_seen_is_raised_by_close():
    reader = Reader("videotestsrc num-buffers=100 ! identity error-after=2")
    assert reader.pipeline is not None
    # wait for the error without reading frames
    deadline = time.monotonic() + 10
    while reader.pipeline.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(PipelineError):
        reader.close()
    reader.close()  # idempotent, quiet the second time


def test_bad_format_lists_supported_formats():
    with pytest.raises(CapsError) as info:
        Reader("videotestsrc num-buffers=1", format="RGB24")
    text = str(info.value)
    assert "RGB24" in text and "GRAY8" in text and "I420" in text and "S16LE" in text


def test_size_for_a_complete_pipeline_is_rejected():
    with pytest.raises(ValueError):
        Reader("videotestsrc ! appsink", width=100)


def test_unknown_element_is_a_parse_error():
    with pytest.raises(gstreamer.MissingElementError):
        Reader("videotestsrc num-buffers=1 ! nosuchelement")


def test_timeout_when_no_frame_comes():
    src = "videotestsrc is-live=true ! video/x-raw,framerate=1/10"
    with Reader(src, timeout=5) as reader:
        assert reader.read() is not None
        with pytest.raises(TimeoutError):
            reader.read(timeout=0.2)


# -- lifecycle --------------------------------------------------------------------------


def test_close_is_idempotent_and_use_after_close_fails():
    reader = Reader("videotestsrc num-buffers=5")
    assert reader.read() is not None
    reader.close()
    reader.close()
    assert reader.closed
    with pytest.raises(ClosedError):
        reader.read()
    with pytest.raises(ClosedError):
        next(iter(reader))


def test_end_of_stream_returns_none_repeatedly():
    with Reader("videotestsrc num-buffers=2") as reader:
        assert reader.read() is not None
        assert reader.read() is not None
        assert reader.read() is None
        assert reader.read() is None
        assert reader.pipeline is None  # stopped at end of stream


def test_frames_stay_valid_after_close():
    reader = Reader("videotestsrc num-buffers=3 pattern=ball")
    frames = [reader.read() for _ in range(3)]
    copies = [np.array(f.data, copy=True) for f in frames]
    reader.close()
    del reader
    gc.collect()
    # new pipelines reuse freed memory: make some, then look again
    frames_of("videotestsrc num-buffers=5 pattern=snow")
    for frame, copy in zip(frames, copies):
        assert not frame.data.flags.writeable  # a zero-copy view of GStreamer's memory
        np.testing.assert_array_equal(frame.data, copy)
    assert not np.array_equal(copies[0], copies[2])  # the ball moved


def test_copy_gives_owned_writable_arrays():
    frame = frames_of("videotestsrc num-buffers=1", copy=True)[0]
    assert frame.data.flags.writeable and frame.data.flags.owndata
    frame.data[:] = 0


def test_latest_only_keeps_the_newest_frame():
    with Reader("videotestsrc num-buffers=60", latest_only=True) as reader:
        sink = reader.pipeline.get_by_name("sink")
        assert sink.get_property("max-buffers") == 1
        assert sink.get_property("drop") is True
        assert sink.get_property("sync") is False
        # the source runs ahead: all 60 reach the appsink, the older ones are dropped
        wait_for(lambda: reader.stats.dropped == 60, what="60 frames at the appsink")
        frames = list(reader)
    assert 1 <= len(frames) < 60
    assert frames[-1].offset == 59


def test_an_error_converting_ahead_is_raised_by_the_read_that_wanted_the_frame(mp4):
    from gstreamer.errors import BufferError

    with Reader(mp4) as reader:
        reader.read()
        time.sleep(0.05)  # the caller works, so the next frame converts ahead
        first = reader.read()
        prefetch = reader._puller._prefetch

        def converted_ahead():
            if prefetch._done and prefetch._result[0] is None:
                # no sample came within the prefetch's slice (a busy machine): ask again,
                # or the next read would pull and convert frame 2 itself
                prefetch.collect(0)
                prefetch.submit()
            return prefetch._done and prefetch._result[0] is not None

        # frame 2 is converted ahead, before any failure
        wait_for(converted_ahead, timeout=10, what="frame 2 converted ahead")

        def broken(buffer):
            raise BufferError("conversion failed")

        reader._puller._converter.convert = broken
        second = reader.read()  # converted before the failure; the next one fails
        assert second.pts > first.pts
        with pytest.raises(BufferError, match="conversion failed"):
            reader.read()


def test_an_error_converting_in_the_callers_thread_is_raised_by_that_read(mp4):
    from gstreamer.errors import BufferError

    with Reader(mp4) as reader:
        reader.read()  # the first frame is never followed by one converted ahead
        assert not reader._puller._prefetch.busy

        def broken(buffer):
            raise BufferError("conversion failed")

        reader._puller._converter.convert = broken
        with pytest.raises(BufferError, match="conversion failed"):
            reader.read()


def test_abandoned_reader_stops_its_pipeline():
    reader = Reader("videotestsrc is-live=true")
    assert reader.read() is not None
    pipeline = reader.pipeline
    del reader
    gc.collect()
    assert pipeline.pipeline is None


def test_pipeline_needs_exactly_one_appsink():
    with pytest.raises(CapsError, match="exactly one appsink"):
        Reader("videotestsrc ! tee name=t ! queue ! appsink t. ! queue ! appsink")


def test_repr_shows_state_and_pipeline():
    reader = Reader("videotestsrc num-buffers=1")
    assert "open" in repr(reader) and "videotestsrc" in repr(reader)
    reader.close()
    assert "closed" in repr(reader)


def test_local_files_get_threaded_libav_decoders(mp4):
    with Reader(mp4) as reader:
        assert reader.read() is not None
        decoders = [
            e
            for e in reader.pipeline.get_by_cls(gstreamer.Gst.Element)
            if e.get_factory() is not None and e.get_factory().get_name() == "avdec_h264"
        ]
        assert len(decoders) == 1
        # one frame thread per core: more only hold more decoded pictures in memory
        assert decoders[0].get_property("max-threads") == len(os.sched_getaffinity(0))
        assert int(decoders[0].get_property("thread-type")) == 1  # frame threads
