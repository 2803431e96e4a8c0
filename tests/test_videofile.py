"""VideoFile: frame-exact random access, checked against the index burned into each frame."""

import os
import subprocess
import threading
import time

import numpy as np
import pytest
from _media import ffprobe_frames, ffprobe_stream, frame_number, session_clips

import gstreamer
from gstreamer import ClosedError, InvalidMediaError, NotSeekableError, VideoFile
from gstreamer.index import clear_index_cache, frame_index

CLIPS = ["h264.mp4", "hevc.mp4", "vp9.webm", "h264.ts", "vfr.mkv", "rot90.mp4"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return session_clips(tmp_path_factory)


def numbers(batch):
    return [frame_number(f) for f in batch]


def random_indices(n, count=200, seed=0):
    """Seeded random indices with repeats and descending runs."""
    rng = np.random.default_rng(seed)
    out = [int(i) for i in rng.integers(0, n, count - 40)]
    out += [n - 1, n - 1, 0, 0, 5, 4, 3, 2, 1]  # repeats, a descending run
    out += [int(i) for i in range(min(n - 1, 40), max(-1, 40 - 31), -1)]  # a long descending run
    return out[:count] + [int(i) for i in rng.integers(0, n, max(0, count - len(out)))]


@pytest.mark.parametrize("name", CLIPS)
def test_len_pts_and_keyframes_match_ffprobe(clips, name):
    path = clips[name]
    times, keys = ffprobe_frames(path)
    with VideoFile(path) as vf:
        assert len(vf) == int(ffprobe_stream(path)["nb_read_frames"]) == len(times)
        assert vf.pts.dtype == np.float64
        assert np.abs(vf.pts - times).max() <= 2e-6
        assert list(vf.keyframes) == keys


@pytest.mark.parametrize("name", CLIPS)
def test_get_batch_of_200_random_indices_is_exact(clips, name):
    with VideoFile(clips[name], rotate=None) as vf:
        wanted = random_indices(len(vf))
        assert len(wanted) == 200
        batch = vf.get_batch(wanted)
        assert batch.shape == (200, 120, 160, 3) and batch.flags.c_contiguous
        assert numbers(batch) == wanted


@pytest.mark.parametrize("name", CLIPS)
def test_items_slices_and_times(clips, name):
    with VideoFile(clips[name], rotate=None) as vf:
        n = len(vf)
        for i in [0, 1, n // 2, n - 1, -1, -n, 7, 6]:
            frame = vf[i]
            assert frame_number(frame.data) == i % n
            assert frame.pts == pytest.approx(vf.pts[i % n] * 1e9, abs=1)
            assert frame.keyframe == (i % n in set(vf.keyframes.tolist()))
        assert numbers(vf[2:20:3]) == list(range(2, 20, 3))
        assert numbers(vf[-3:]) == [n - 3, n - 2, n - 1]
        assert numbers(vf[10:4:-2]) == [10, 8, 6]
        # the frame displayed at t: the last whose time is <= t
        pts = vf.pts
        times = [0.0, pts[5], pts[5] + 0.001, (pts[9] + pts[10]) / 2, pts[-1], pts[3]]
        assert numbers(vf.frames_at(times)) == [0, 5, 5, 9, n - 1, 3]


def test_vfr_frames_at(clips):
    with VideoFile(clips["vfr.mkv"]) as vf:
        assert len(vf) == 50
        assert vf.pts[29] == pytest.approx(29 / 30, abs=1e-3)
        assert vf.pts[30] == pytest.approx(1.0, abs=1e-3)
        assert vf.pts[31] == pytest.approx(1.1, abs=1e-3)
        assert numbers(vf.frames_at([0.99, 1.0, 1.05, 1.1, 1.15])) == [29, 30, 30, 31, 31]


def test_rotated_clip_is_upright(clips):
    path = clips["rot90.mp4"]
    with VideoFile(path) as vf:
        frame = vf[3].data
        assert frame.shape == (160, 120, 3)
        assert frame_number(np.rot90(frame, -1)) == 3  # turned back to the stored frame
    with VideoFile(path, rotate=None) as vf:
        assert frame_number(vf[3].data) == 3
    with VideoFile(path, width=60) as vf:
        assert vf[0].data.shape == (80, 60, 3)


def test_index_errors_and_types(clips):
    with VideoFile(clips["hevc.mp4"]) as vf:
        n = len(vf)
        for bad in (n, -n - 1, 10**9):
            with pytest.raises(IndexError):
                vf[bad]
        with pytest.raises(IndexError):
            vf.get_batch([0, n])
        with pytest.raises(IndexError):
            vf.frames_at([-1.0])
        with pytest.raises(IndexError):
            vf.frames_at([100.0])
        with pytest.raises(TypeError):
            vf[1.5]
        empty = vf.get_batch([])
        assert empty.shape == (0, 120, 160, 3)


def test_sequential_access_reuses_the_pipeline(clips):
    with VideoFile(clips["h264.mp4"]) as vf:
        vf[0]
        pipeline = vf._pipeline
        seen = [frame_number(vf[i].data) for i in range(1, 40)]
        assert seen == list(range(1, 40))
        assert vf._pipeline is pipeline
        assert numbers(vf.get_batch(range(50, 60))) == list(range(50, 60))


def test_lifecycle(clips):
    vf = VideoFile(clips["vp9.webm"])
    assert repr(vf).startswith("<VideoFile open")
    vf.close()
    vf.close()  # idempotent
    assert vf.closed
    with pytest.raises(ClosedError):
        vf[0]
    assert len(vf) == 90  # the index stays readable

    # dropped without close(): the finalizer stops the pipeline
    vf = VideoFile(clips["vp9.webm"])
    vf[5]
    finalizer = vf._finalizer
    del vf
    import gc

    gc.collect()
    assert finalizer is not None and not finalizer.alive


def test_info_and_cached_index(clips):
    path = clips["h264.mp4"]
    clear_index_cache()
    first = frame_index(os.fspath(path))
    assert frame_index(os.fspath(path)) is first  # cached
    with VideoFile(path) as vf:
        assert vf._index is first
        assert vf.info.video.frames == len(vf) == 150
        assert vf.duration == pytest.approx(5.0)
    with VideoFile(path.resolve().as_uri()) as vf:  # a file:// URI is a local file
        assert len(vf) == 150 and frame_number(vf[149].data) == 149


def test_corrupt_and_non_media_files_fail_fast(tmp_path, clips):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 100_000, np.uint8).tobytes())
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clips["h264.mp4"].read_bytes()[:3000])
    for bad in (junk, truncated):
        start = time.monotonic()
        with pytest.raises(InvalidMediaError) as info:
            VideoFile(bad)
        assert time.monotonic() - start < 2.0
        assert info.value.filename == os.fspath(bad)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    with pytest.raises(InvalidMediaError):
        VideoFile(text)
    with pytest.raises(gstreamer.SourceNotFoundError):
        VideoFile(tmp_path / "missing.mp4")


def test_audio_only_file_is_invalid_for_video(tmp_path):
    wav = tmp_path / "tone.wav"
    gstreamer.write_audio(wav, np.zeros((4800, 1), np.int16), rate=48000)
    with pytest.raises(InvalidMediaError, match="no video stream"):
        VideoFile(wav)


@pytest.mark.e2e
def test_pipe_and_remote_sources_are_not_seekable(tmp_path, clips):
    fifo = tmp_path / "clip.fifo"
    os.mkfifo(fifo)
    # a writer feeds the FIFO, as a pipe from another program would
    writer = threading.Thread(target=lambda: fifo.write_bytes(clips["h264.mp4"].read_bytes()))
    writer.daemon = True
    writer.start()
    start = time.monotonic()
    with pytest.raises(NotSeekableError, match="not a regular file"):
        VideoFile(fifo)
    assert time.monotonic() - start < 2.0
    with open(fifo, "rb") as drain:  # let the writer finish
        drain.read()
    writer.join(5)
    with pytest.raises(NotSeekableError, match="local file"):
        VideoFile("http://127.0.0.1:9/clip.mp4")
    with pytest.raises(NotSeekableError):
        gstreamer.Reader("videotestsrc num-buffers=5").seek(0.1)


@pytest.mark.parametrize("name", ["h264.mp4", "hevc.mp4", "h264.ts"])
def test_non_reference_frames_are_b_frames(clips, name):
    # VideoFile skips unwanted non-reference frames before the decoder; the index must only
    # call B-frames that (ffprobe's picture types), and find some.
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=pict_type", "-of", "csv=p=0", str(clips[name])],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    types = [t.strip(",") for t in out]
    droppable = frame_index(os.fspath(clips[name])).droppable
    assert droppable.any()
    assert all(types[i] == "B" for i in np.flatnonzero(droppable))


def test_videoflip_is_inserted_after_the_gate_only_when_tagged(clips):
    def factories(vf):
        names, it = [], vf._pipeline.pipeline.iterate_recurse()
        while True:
            ok, element = it.next()
            if ok != gstreamer.Gst.IteratorResult.OK:
                return names
            names.append(element.get_factory().get_name())

    with VideoFile(clips["h264.mp4"]) as vf:
        assert frame_number(vf[7].data) == 7
        assert "videoflip" not in factories(vf)
    with VideoFile(clips["rot90.mp4"]) as vf:
        batch = vf.get_batch([9, 2])  # a seek back: the inserted videoflip stays in place
        assert [frame_number(np.rot90(f, -1)) for f in batch] == [9, 2]
        assert "videoflip" in factories(vf)
        flip = vf._pipeline.get_by_name("gate").get_static_pad("src").get_peer()
        assert flip.get_parent_element().get_factory().get_name() == "videoconvert"
