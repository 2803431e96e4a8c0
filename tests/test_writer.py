import os
import subprocess
import sys
import textwrap
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from _helpers import (
    count_frames,
    ffmpeg,
    ffprobe,
    ffprobe_stream,
    interrupt,
    started,
    wait_for,
)

import gstreamer
from gstreamer import CapsError, ClosedError, NegotiationError, PipelineError, TimeoutError
from gstreamer.frame import Frame
from gstreamer.writer import TargetDirectoryError, Writer, is_description, write_frames

LOSSLESS_H264 = "x264enc qp-max=0 pass=quant quantizer=0 speed-preset=ultrafast"
SRC = Path(__file__).resolve().parents[1] / "src"


def decode(path, pix_fmt, width, height, channels):
    """All frames of ``path`` decoded by ffmpeg (independent of GStreamer)."""
    raw = ffmpeg("-i", os.fspath(path), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-")
    frame_bytes = int(width * height * channels)
    assert len(raw) % frame_bytes == 0
    shape = (-1, height, width, 3) if channels == 3 else (-1, int(height * channels), width)
    return np.frombuffer(raw, np.uint8).reshape(shape)


def packet_times(path):
    out = ffprobe(
        path, "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0"
    )
    return sorted(float(x) for x in out.split())


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), [(48, 64), (238, 318)])
def test_rgb_round_trip_is_exact_with_ffv1(tmp_path, height, width):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (height, width, 3), np.uint8) for _ in range(5)]
    out = tmp_path / "rgb.mkv"
    assert write_frames(out, frames, fps=25, encoder="avenc_ffv1") == 5
    back = decode(out, "rgb24", width, height, 3)
    assert back.shape[0] == 5
    for a, b in zip(frames, back):
        np.testing.assert_array_equal(a, b)


def test_bgr_format_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (40, 56, 3), np.uint8) for _ in range(3)]
    out = tmp_path / "bgr.mkv"
    with Writer(out, fps=10, format="BGR", encoder="avenc_ffv1") as w:
        for f in frames:
            w.write(f)
    assert "format=(string)BGR" in w.caps
    back = decode(out, "bgr24", 56, 40, 3)
    for a, b in zip(frames, back):
        np.testing.assert_array_equal(a, b)


def test_i420_round_trip_is_exact_with_lossless_x264(tmp_path):
    rng = np.random.default_rng(3)
    h, w = 48, 64
    frames = [rng.integers(0, 256, (h * 3 // 2, w), np.uint8) for _ in range(4)]
    out = tmp_path / "yuv.mkv"
    write_frames(out, frames, fps=30, encoder=LOSSLESS_H264, format="I420")
    back = decode(out, "yuv420p", w, h, 1.5)
    assert back.shape[0] == 4
    for a, b in zip(frames, back):
        np.testing.assert_array_equal(a, b)


def test_copy_protects_a_reused_array(tmp_path):
    out = tmp_path / "reuse.mkv"
    buf = np.zeros((16, 16, 3), np.uint8)
    with Writer(out, fps=10, encoder="avenc_ffv1", copy=True, max_buffers=8) as w:
        for i in range(6):
            buf[:] = i * 40
            w.write(buf)
    back = decode(out, "rgb24", 16, 16, 3)
    assert [int(f[0, 0, 0]) for f in back] == [0, 40, 80, 120, 160, 200]


@pytest.mark.parametrize(
    ("ext", "codec"),
    [
        (".mp4", "h264"),
        (".mov", "h264"),
        (".mkv", "h264"),
        (".avi", "h264"),
        (".ts", "h264"),
        (".h264", "h264"),
        (".webm", "vp8"),
    ],
)
def test_containers(tmp_path, ext, codec):
    out = tmp_path / f"c{ext}"
    frames = (np.full((48, 64, 3), i * 20, np.uint8) for i in range(10))
    assert write_frames(out, frames, fps=30) == 10
    info = ffprobe_stream(out, "codec_name", "nb_read_frames", "width", "height")
    assert info == {"codec_name": codec, "width": "64", "height": "48", "nb_read_frames": "10"}


def test_mp4_defaults_are_widely_playable(tmp_path):
    out = tmp_path / "d.mp4"
    write_frames(out, [np.zeros((48, 64, 3), np.uint8)] * 30, fps=Fraction(30000, 1001))
    info = ffprobe_stream(out, "pix_fmt", "color_range", "r_frame_rate", "nb_read_frames")
    # 4:2:0 8-bit, tagged full range (ffprobe calls that yuvj420p): see gstreamer._colour
    assert info == {
        "pix_fmt": "yuvj420p",
        "color_range": "pc",
        "r_frame_rate": "30000/1001",
        "nb_read_frames": "30",
    }


# -- timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_variable_frame_rate_timestamps_reach_the_file(tmp_path, ext):
    out = tmp_path / f"vfr{ext}"
    times = [0.0, 0.1, 0.15, 0.4, 0.5, 0.9]
    with Writer(out, fps=None, encoder=LOSSLESS_H264) as w:
        for i, t in enumerate(times):
            w.write(np.full((32, 32, 3), i, np.uint8), pts=t)  # float seconds
    got = packet_times(out)
    assert len(got) == len(times)
    offset = got[0]  # containers may shift the start (edit lists)
    np.testing.assert_allclose([g - offset for g in got], times, atol=0.0015)


def test_pts_are_seconds_whatever_the_type_and_frames_bring_their_pts(tmp_path):
    out = tmp_path / "s.mkv"
    with Writer(out, fps=None, encoder="avenc_ffv1") as w:
        w.write(np.zeros((16, 16, 3), np.uint8), pts=0)  # a real 0, not "unset"
        w.write(np.zeros((16, 16, 3), np.uint8), pts=Fraction(1, 4))
        w.write(Frame(np.zeros((16, 16, 3), np.uint8), pts=600_000_000))  # Frame.pts is ns
        w.write(np.zeros((16, 16, 3), np.uint8), pts=1)  # an int is seconds too
    np.testing.assert_allclose(packet_times(out), [0.0, 0.25, 0.6, 1.0], atol=0.0015)


def test_vfr_without_pts_is_an_error(tmp_path):
    with Writer("fakesink", fps=None) as w, pytest.raises(CapsError, match="pts="):
        w.write(np.zeros((8, 8, 3), np.uint8))


def test_automatic_timestamps_do_not_drift(tmp_path):
    w = Writer("fakesink", fps=Fraction(30000, 1001))
    w._input.layout = w._input.caps_for(np.zeros((8, 8, 3), np.uint8))
    pts = [w._input.timestamps(np.zeros(1), None, None)[0] for _ in range(30001)]
    assert pts[30000] == 1001 * 1_000_000_000  # exact after 30000 frames
    assert pts[1] == 33366667
    w.close()


def test_live_writer_stamps_from_the_clock(tmp_path):
    out = tmp_path / "live.mkv"
    with Writer(out, fps=30, live=True, encoder="avenc_ffv1") as w:
        for i in range(8):
            w.write(np.full((16, 16, 3), i, np.uint8))
            time.sleep(0.01)
    times = packet_times(out)
    assert len(times) == 8
    assert all(b > a for a, b in zip(times, times[1:]))


# -- interruption, errors and timeouts -----------------------------------------------------


def test_exception_inside_with_still_finalizes_the_file(tmp_path):
    out = tmp_path / "crash.mp4"
    with pytest.raises(ZeroDivisionError), Writer(out, fps=30) as w:
        for i in range(12):
            w.write(np.full((48, 64, 3), i, np.uint8))
        1 / 0  # noqa: B018
    assert w.closed
    assert count_frames(out) == 12


@pytest.mark.e2e
def test_sigint_to_a_writing_process_leaves_a_playable_file(tmp_path):
    out = tmp_path / "sigint.mp4"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.fspath(SRC)!r})
        import numpy as np
        from gstreamer.writer import Writer
        with Writer({os.fspath(out)!r}, fps=30) as w:
            i = 0
            while True:
                w.write(np.full((64, 64, 3), i % 256, np.uint8))
                i += 1
                if i == 20:
                    print("ready", flush=True)
        """
    )
    with started([sys.executable, "-c", script]) as proc:
        assert proc.stdout.readline().strip() == "ready"
        _, err = interrupt(proc, timeout=30)
    assert "KeyboardInterrupt" in err
    assert count_frames(out) >= 20


def test_element_error_mid_stream_raises_in_the_caller(tmp_path):
    frame = np.zeros((16, 16, 3), np.uint8)
    w = Writer("identity name=boom error-after=5 ! fakesink", fps=30, timeout=5.0)
    start = None
    try:
        with pytest.raises(PipelineError) as info:
            for i in range(1000):
                w.write(frame)
                if i == 4:
                    start = time.monotonic()
        elapsed = time.monotonic() - start
        print(f"error raised {elapsed * 1000:.1f} ms after the 5th frame")
    finally:
        w.close()  # the error was raised already: close is quiet and idempotent
    err = info.value
    assert not isinstance(err, TimeoutError)
    assert err.element == "boom"
    assert "Failed after iterations" in err.message
    assert "GstIdentity:boom" in (err.debug or "")
    assert w.closed
    with pytest.raises(ClosedError):
        w.write(frame)


def test_caps_the_pipeline_refuses_raise_a_negotiation_error():
    w = Writer("video/x-raw,format=I420 ! fakesink", fps=30, timeout=5.0)
    try:
        with pytest.raises(NegotiationError) as info:
            for _ in range(100):
                w.write(np.zeros((8, 8, 3), np.uint8))
                time.sleep(0.005)
            w.close()
    finally:
        w.close()
    assert info.value.hint and "videoconvert" in info.value.hint
    assert info.value.element == "src"


def test_blocked_write_times_out(tmp_path):
    # a sink that waits for a timestamp 1000 s away never takes the second frame
    w = Writer("fakesink sync=true", fps=30, max_buffers=2, timeout=0.2)  # expires twice
    frame = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(TimeoutError, match="took no video data"):
        for _ in range(10):
            w.write(frame, pts=1000.0)
    with pytest.raises(TimeoutError, match="end of stream"):
        w.close()
    assert w.pipeline.pipeline is None  # torn down anyway
    w.close()


@pytest.mark.parametrize("mode", ["drop-newest", "drop-oldest"])
def test_drop_backpressure_counts_dropped_frames(mode):
    w = Writer("identity sleep-time=20000 ! fakesink", fps=30, backpressure=mode, max_buffers=2)
    frame = np.zeros((8, 8, 3), np.uint8)
    with w:
        results = [w.write(frame) for _ in range(40)]
    assert w.dropped > 0
    if mode == "drop-newest":
        assert results.count(False) == w.dropped
        assert w.frames_written + w.dropped == 40
    else:
        assert all(results)


# -- bad input -----------------------------------------------------------------------------


def test_size_change_mid_stream_is_a_caps_error():
    with Writer("fakesink", fps=30) as w:
        w.write(np.zeros((16, 16, 3), np.uint8))
        with pytest.raises(CapsError, match=r"shape \(16, 18, 3\)"):
            w.write(np.zeros((16, 18, 3), np.uint8))
        w.write(np.zeros((16, 16, 3), np.uint8))  # the writer still works
    assert w.frames_written == 2


def test_wrong_dtype_is_a_caps_error():
    with Writer("fakesink", fps=30) as w, pytest.raises(CapsError, match="cannot guess"):
        w.write(np.zeros((16, 16, 3), np.float32))
    with Writer("fakesink", fps=30) as w:
        w.write(np.zeros((16, 16, 3), np.uint8))
        with pytest.raises(CapsError, match="dtype"):
            w.write(np.zeros((16, 16, 3), np.uint16))


def test_write_after_close_and_idempotent_close(tmp_path):
    w = Writer(tmp_path / "c.mp4")
    w.write(np.zeros((16, 16, 3), np.uint8))
    w.close()
    w.close()
    with pytest.raises(ClosedError, match="closed"):
        w.write(np.zeros((16, 16, 3), np.uint8))
    assert count_frames(tmp_path / "c.mp4") == 1


def test_missing_directory_is_a_clear_error(tmp_path):
    target = tmp_path / "nope" / "out.mp4"
    with pytest.raises(TargetDirectoryError) as info:
        Writer(target)
    assert isinstance(info.value, PipelineError)
    assert isinstance(info.value, FileNotFoundError)
    assert "does not exist" in str(info.value) and "Hint:" in str(info.value)


def test_unwritable_file_raises_with_a_hint(tmp_path):
    target = tmp_path / "dir.mp4"
    target.mkdir()  # a directory where the file should go
    with pytest.raises(PipelineError) as info:
        Writer(target, caps="video/x-raw,format=RGB,width=8,height=8,framerate=30/1")
    assert info.value.hint


def test_target_rules():
    assert is_description("videoconvert ! fakesink")
    assert is_description("fakesink sync=false")
    assert not is_description("out.mp4")
    assert not is_description(Path("fakesink"))
    with pytest.raises(ValueError, match="known extension"):
        is_description("out.xyz")


def test_description_targets():
    tail = Writer("videoconvert ! fakesink")
    assert tail.pipeline.command == "appsrc name=src ! videoconvert ! fakesink"
    tail.close()
    caps = "video/x-raw,format=GRAY8,width=8,height=4,framerate=5/1"
    full = Writer("appsrc name=mine ! fakesink", caps=caps)
    try:
        assert full.pipeline.pipeline is not None  # caps given: started at once
        assert full.caps.startswith("video/x-raw, format=(string)GRAY8")
        full.write(np.zeros((4, 8), np.uint8))
        full.write(np.zeros((4, 8, 1), np.uint8))
    finally:
        full.close()
    assert full.frames_written == 2
    assert full.encoder is None


def test_facade_names():
    assert gstreamer.Writer is Writer
    assert gstreamer.write_frames is write_frames


# -- resources -----------------------------------------------------------------------------


def _fds():
    return len(os.listdir("/proc/self/fd"))


def _tasks():
    return len(os.listdir("/proc/self/task"))


@pytest.mark.e2e  # a soak: 1000 open/close cycles
def test_open_close_cycles_leak_no_threads_or_fds():
    frame = np.zeros((4, 4), np.uint8)
    for _ in range(20):  # warm up lazily created thread pools and caches
        with Writer("fakesink", fps=30) as w:
            w.write(frame)
    threads, fds, tasks = threading.active_count(), _fds(), _tasks()
    for _ in range(1000):
        with Writer("fakesink", fps=30) as w:
            w.write(frame)
    assert w.frames_written == 1
    assert threading.active_count() <= threads + 2
    # native (GStreamer) threads too, which may end a moment after close() on a busy
    # machine (seen under load: 11 tasks for 8 + 2 right after the loop): wait for them
    wait_for(lambda: _tasks() <= tasks + 2, 30, what=f"native threads back to {tasks} + 2")
    assert _fds() <= fds + 5


@pytest.mark.e2e
def test_example_script_writes_playable_files(tmp_path):
    script = SRC.parent / "examples" / "write_video.py"
    env = {**os.environ, "PYTHONPATH": os.fspath(SRC)}
    out = subprocess.run(
        [sys.executable, os.fspath(script), os.fspath(tmp_path)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert count_frames(tmp_path / "moving_box.mp4") == 90
    assert count_frames(tmp_path / "with_sound.mkv") == 90


@pytest.mark.parametrize("shape", [(240, 321), (241, 320), (17, 33)])
def test_odd_sizes_are_written_4_4_4_and_read_back_at_the_size_written(tmp_path, shape):
    height, width = shape
    frames = [np.full((height, width, 3), 40 * i, np.uint8) for i in range(5)]
    out = tmp_path / "odd.mp4"
    assert write_frames(out, frames) == 5
    info = ffprobe_stream(out, "width", "height", "pix_fmt", "nb_read_frames")
    assert info == {
        "width": str(width),
        "height": str(height),
        "pix_fmt": "yuvj444p",  # 4:4:4, tagged full range (see gstreamer._colour)
        "nb_read_frames": "5",
    }
    back = list(gstreamer.read_frames(out))
    assert [f.shape for f in back] == [(height, width, 3)] * 5
    assert [int(np.median(f)) for f in back] == pytest.approx([40 * i for i in range(5)], abs=3)


def test_even_sizes_stay_4_2_0(tmp_path):
    out = tmp_path / "even.mp4"
    write_frames(out, [np.zeros((240, 320, 3), np.uint8)] * 3)
    # 4:2:0, tagged full range (ffprobe calls that yuvj420p; see gstreamer._colour)
    assert ffprobe_stream(out, "pix_fmt") == {"pix_fmt": "yuvj420p"}


def test_a_write_that_fails_before_any_data_leaves_no_empty_file(tmp_path):
    out = tmp_path / "fail.mp4"
    frames = [np.zeros((120, 160, 3), np.uint8)] * 10
    with pytest.raises(PipelineError, match="Failed after iterations"):
        write_frames(out, frames, encoder="x264enc ! identity error-after=1")
    assert not out.exists()
    # a file that already existed and was truncated by the failed write goes too
    out.write_bytes(b"old")
    with pytest.raises(PipelineError):
        write_frames(out, frames, encoder="x264enc ! identity error-after=1")
    assert not out.exists()


def test_write_and_read_frames_report_progress(tmp_path, capsys):
    out = tmp_path / "p.mp4"
    frames = [np.full((64, 96, 3), i, np.uint8) for i in range(45)]
    seen = []
    write_frames(out, frames, on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 45) for i in range(1, 46)]
    read = []
    n = sum(1 for _ in gstreamer.read_frames(out, on_progress=lambda d, t: read.append((d, t))))
    assert n == 45 and read[0] == (1, 45) and read[-1] == (45, 45)
    write_frames(out, iter(frames), progress=True)  # an iterator: no total
    list(gstreamer.read_frames(out, progress=True))
    err = capsys.readouterr().err.splitlines()
    assert err[-2].endswith("45 frames  " + err[-2].split("  ")[-1])  # count and rate
    assert "100.0%  45/45 frames" in err[-1]
