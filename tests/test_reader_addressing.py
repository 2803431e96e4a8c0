"""The Reader's timestamps, keyframe flags, rotation, seek() and start/end on real clips."""

import time
from pathlib import Path

import numpy as np
import pytest
from _helpers import ffmpeg, wait_for
from _media import ffmpeg_frame, ffprobe_frames, frame_number, session_clips

import gstreamer
from gstreamer import ClosedError, NotSeekableError, Reader

CLIPS = ["h264.mp4", "hevc.mp4", "vp9.webm", "h264.ts", "vfr.mkv", "rot90.mp4"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return session_clips(tmp_path_factory)


@pytest.mark.parametrize("name", CLIPS)
def test_pts_and_keyframes_match_ffprobe(clips, name):
    times, keys = ffprobe_frames(clips[name])
    with Reader(clips[name], rotate=None) as reader:
        frames = [(f.pts, f.keyframe, frame_number(f.data)) for f in reader]
    assert [n for _, _, n in frames] == list(range(len(times)))
    pts = np.array([p for p, _, _ in frames]) / 1e9
    assert np.abs(pts - times).max() <= 2e-6
    assert frames[0][0] == 0  # an MP4's edit list applied; MPEG-TS relative to its start
    assert [i for i, (_, key, _) in enumerate(frames) if key] == keys


def test_rotation_tag_applied_by_default(clips):
    path = clips["rot90.mp4"]
    with Reader(path) as reader:
        upright = reader.read().data
    with Reader(path, rotate=None) as reader:
        stored = reader.read().data
    assert stored.shape == (120, 160, 3) and upright.shape == (160, 120, 3)
    assert frame_number(stored) == 0
    assert np.array_equal(np.rot90(upright, -1), stored)
    # equal to ffmpeg's auto-rotated frame within codec/colour-conversion tolerance
    reference = ffmpeg_frame(path, 0)
    assert reference.shape == upright.shape
    assert np.abs(reference.astype(int) - upright).mean() < 3
    # the red marker is where ffmpeg puts it
    corner = reference[-5:, :5].mean(axis=(0, 1))
    assert np.abs(upright[-5:, :5].mean(axis=(0, 1)) - corner).max() < 8
    with pytest.raises(ValueError, match="rotate"):
        Reader(path, rotate="90")


def test_next_frame_converts_in_a_helper_thread_while_the_caller_works(clips):
    times, _ = ffprobe_frames(clips["h264.mp4"])
    with Reader(clips["h264.mp4"]) as reader:
        first = reader.read()
        time.sleep(0.05)  # the caller works (far longer than a 160x120 conversion takes)
        second = reader.read()
        prefetch = reader._puller._prefetch
        # frame 2 is pulled and converted without another read()
        wait_for(lambda: prefetch._done, what="the next frame converted ahead")
        thread = prefetch._thread
        assert thread is not None and thread.name == "gstreamer-prefetch"
        # a seek drops the frame converted ahead: what comes next is from after the seek
        reader.seek(times[0])
        assert frame_number(reader.read().data) == 0
        numbers = [frame_number(first.data), frame_number(second.data)]
        numbers += [frame_number(f.data) for f in reader]
    assert numbers[:2] == [0, 1]
    assert numbers[2:] == list(range(1, len(times)))  # 0 again after the seek (read above)
    assert not thread.is_alive()  # close() stopped it


def test_a_caller_that_reads_at_once_converts_in_its_own_thread(tmp_path):
    # prefetching would only make it wait for the helper thread (see gstreamer.appsink)
    path = tmp_path / "vga.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30", "-frames:v", "60",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    with Reader(path) as reader:
        frames = [frame.data for frame in reader]
        puller = reader._puller
        assert len(frames) == 60 and puller.pulled == 60
        # a preempted caller can look slow now and then on a busy machine
        assert puller.prefetched <= 30


@pytest.mark.parametrize("kwargs", [{"latest_only": True}, {"format": "I420"}])
def test_no_frame_is_converted_ahead_without_conversion_or_for_the_latest_frame(clips, kwargs):
    with Reader(clips["h264.mp4"], **kwargs) as reader:
        reader.read()
        prefetch = reader._puller._prefetch
        assert prefetch is None or not prefetch.busy


@pytest.mark.parametrize("name", ["h264.mp4", "hevc.mp4", "vp9.webm", "h264.ts", "vfr.mkv"])
def test_seek_exact_and_keyframe(clips, name):
    times, keys = ffprobe_frames(clips[name])
    n = len(times)
    with Reader(clips[name]) as reader:
        reader.read()
        for i in [n - 1, n // 2, 1, 2, 0, 31, 45, n - 2]:
            reader.seek(times[i])
            frame = reader.read()
            assert frame_number(frame.data) == i
            assert frame.pts / 1e9 == pytest.approx(times[i], abs=2e-6)
            after = reader.read()
            if i + 1 < n:
                assert frame_number(after.data) == i + 1
            else:
                assert after is None
            # between two frames: the one displayed
            if i + 1 < n:
                reader.seek((times[i] + times[i + 1]) / 2)
                assert frame_number(reader.read().data) == i
            # exact=False: a keyframe at or before t
            reader.seek(times[i], exact=False)
            frame = reader.read()
            k = frame_number(frame.data)
            assert frame.keyframe and k in keys and k <= i
        # after the end of the stream, seek still works
        while reader.read() is not None:
            pass
        reader.seek(times[3])
        assert frame_number(reader.read().data) == 3
        reader.seek(1000.0)  # past the end: end of stream
        assert reader.read() is None


def test_start_and_end(clips):
    with Reader(clips["h264.mp4"], start=1.0, end=2.0) as reader:
        got = [(frame_number(f.data), f.pts) for f in reader]
    assert [i for i, _ in got] == list(range(30, 60))
    assert got[0][1] == pytest.approx(1e9, abs=2000)
    with Reader(clips["vfr.mkv"], start=1.05) as reader:
        assert frame_number(reader.read().data) == 30  # displayed from 1.0 to 1.1
    with pytest.raises(ValueError):
        Reader(clips["h264.mp4"], start=2.0, end=1.0)
    with pytest.raises(NotSeekableError):
        Reader("videotestsrc num-buffers=5", start=1.0)


def test_seek_errors(clips):
    reader = Reader("videotestsrc num-buffers=30")
    with pytest.raises(NotSeekableError):
        reader.seek(0.5)
    reader.close()
    reader = Reader(clips["h264.mp4"])
    with pytest.raises(ValueError):
        reader.seek(-1.0)
    reader.close()
    with pytest.raises(ClosedError):
        reader.seek(0.5)


def test_live_pipeline_keeps_its_flags():
    # not a file: timestamps and flags are the pipeline's own
    frames = list(gstreamer.Reader("videotestsrc num-buffers=3"))
    assert [f.pts for f in frames] == [0, 33333333, 66666666]
    assert all(f.keyframe for f in frames)


def _elements(reader_pipeline):
    """Factory names of every element in a pipeline, nested bins included."""
    names = []
    it = reader_pipeline.iterate_recurse()
    while True:
        ok, element = it.next()
        if ok != gstreamer.Gst.IteratorResult.OK:
            return names
        names.append(element.get_factory().get_name())


def test_videoflip_only_for_rotated_streams(clips):
    # a videoflip in every pipeline made the decoder negotiate twice and libav keep the
    # pictures of both rounds (8 MiB of peak RSS at 720p): it is inserted only when tagged
    with Reader(clips["h264.mp4"]) as reader:
        assert frame_number(reader.read().data) == 0
        assert "videoflip" not in reader.description
        assert "videoflip" not in _elements(reader.pipeline.pipeline)
    with Reader(clips["rot90.mp4"]) as reader:
        assert reader.read().data.shape == (160, 120, 3)
        assert "videoflip" in _elements(reader.pipeline.pipeline)
    with Reader(clips["rot90.mp4"], rotate=None) as reader:
        assert reader.read().data.shape == (120, 160, 3)
        assert "videoflip" not in _elements(reader.pipeline.pipeline)
    with Reader(clips["rot90.mp4"], format="GRAY8") as reader:  # the videoconvert path
        assert reader.read().data.shape == (160, 120)
    uri = Path(clips["rot90.mp4"]).resolve().as_uri()
    with Reader(uri) as reader:  # uridecodebin: its pad is a ghost of decodebin's
        assert reader.read().data.shape == (160, 120, 3)
