"""The seed library's API: names, signatures and the behaviour users rely on."""

import gc
import logging
import subprocess
import sys

import numpy as np
import pytest
from _helpers import wait_for

import gstreamer
from gstreamer import (
    ClosedError,
    Gst,
    GstApp,
    GstBuffer,
    GstContext,
    GstPipeline,
    GstVideo,
    GstVideoSink,
    GstVideoSource,
    LeakyQueue,
    LifecycleError,
)

W, H = 32, 24


@pytest.mark.e2e  # a fresh interpreter in a child process
def test_import_is_lazy_and_has_no_side_effects():
    code = (
        "import sys, logging\n"
        "import gstreamer, gstreamer.utils\n"
        "assert 'gi.repository.Gst' not in sys.modules, 'Gst imported at import time'\n"
        "assert not logging.getLogger().handlers\n"
        "assert not logging.getLogger('gstreamer').handlers\n"
        "from gstreamer import Gst, GstApp, GstVideo, GLib\n"
        "assert Gst.is_initialized()\n"
        "assert GstApp.AppSrc and GstVideo.VideoFormat and GLib.MainLoop\n"
        "assert sys.argv == ['-c']\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_seed_names_are_exported():
    for name in ("GstContext", "GstPipeline", "GstVideoSink", "GstVideoSource", "GstBuffer"):
        assert hasattr(gstreamer, name)
    assert GstBuffer is gstreamer.Frame
    assert gstreamer.Gst is Gst
    assert logging.getLogger("gstreamer").handlers == []


# -- GstVideoSink ------------------------------------------------------------------------------


@pytest.fixture
def sink_to_appsink():
    sink = GstVideoSink("appsrc ! appsink name=out sync=false", width=W, height=H, fps=30)
    sink.startup()
    try:
        yield sink, sink.get_by_name("out")
    finally:
        sink.shutdown(raise_errors=False)


def _pull(appsink):
    sample = appsink.try_pull_sample(5 * Gst.SECOND)
    assert sample is not None
    return sample.get_buffer()


def test_video_sink_timestamps(sink_to_appsink):
    sink, appsink = sink_to_appsink
    frame = np.zeros((H, W, 3), np.uint8)
    sink.push(frame, pts=0)  # an explicit 0 is 0, not "unset"
    sink.push(frame)  # continues at the frame rate
    sink.push(frame, pts=10**9 / 30 * 5, duration=10**9 / 30)  # seed style: float ns
    sink.push(frame, 1_000_000_000, 999_000_000, 40_000_000)  # positional pts, dts, duration
    bufs = [_pull(appsink) for _ in range(4)]
    assert [b.pts for b in bufs] == [0, 33_333_333, 166_666_666, 1_000_000_000]
    assert [b.duration for b in bufs] == [33_333_333, 33_333_333, 33_333_333, 40_000_000]
    assert bufs[3].dts == 999_000_000
    assert bufs[0].dts == Gst.CLOCK_TIME_NONE
    assert sink.total_buffers_count == 4


def test_video_sink_pushes_the_array_unchanged(sink_to_appsink):
    sink, appsink = sink_to_appsink
    frame = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    sink.push(frame)
    buf = _pull(appsink)
    assert buf.extract_dup(0, buf.get_size()) == frame.tobytes()


@pytest.mark.parametrize("frmt", ["GRAY8", "enum"])
def test_video_sink_format_as_string_or_enum(frmt):
    video_frmt = GstVideo.VideoFormat.GRAY8 if frmt == "enum" else frmt
    sink = GstVideoSink(
        "appsrc ! appsink name=out sync=false", width=W, height=H, video_frmt=video_frmt
    )
    with sink:
        assert sink.video_frmt == GstVideo.VideoFormat.GRAY8
        sink.push(np.full((H, W), 9, np.uint8))
        sample = sink.get_by_name("out").try_pull_sample(5 * Gst.SECOND)
        caps = sample.get_caps().get_structure(0)
        assert caps.get_string("format") == "GRAY8"
        assert caps.get_fraction("framerate")[1:] == (30, 1)


def test_to_gst_buffer_respects_zero():
    buf = GstVideoSink.to_gst_buffer(np.zeros(4, np.uint8), pts=0, dts=0, offset=0, duration=0)
    assert (buf.pts, buf.dts, buf.offset, buf.duration) == (0, 0, 0, 0)
    unset = GstVideoSink.to_gst_buffer(np.zeros(4, np.uint8))
    assert unset.pts == Gst.CLOCK_TIME_NONE and unset.duration == Gst.CLOCK_TIME_NONE


def test_video_sink_push_after_shutdown_is_an_error():
    sink = GstVideoSink("appsrc ! fakesink", width=W, height=H)
    with sink:
        sink.push(np.zeros((H, W, 3), np.uint8))
    with pytest.raises(LifecycleError):
        sink.push(np.zeros((H, W, 3), np.uint8))


def test_video_sink_push_after_end_of_stream_is_closed_error():
    sink = GstVideoSink("appsrc ! fakesink", width=W, height=H)
    with sink:
        sink.push(np.zeros((H, W, 3), np.uint8))
        sink.get_by_cls(GstApp.AppSrc)[0].emit("end-of-stream")
        sink.wait(10)
        with pytest.raises(ClosedError):
            sink.push(np.zeros((H, W, 3), np.uint8))


# -- GstVideoSource -----------------------------------------------------------------------------


def test_video_source_pops_arrays_with_timestamps():
    caps = f"video/x-raw,format=RGB,width={W},height={H},framerate=250/1"
    command = f"videotestsrc num-buffers=5 ! {caps} ! appsink"  # appsink syncs: 20 ms
    frames = []
    with GstContext(), GstVideoSource(command) as source:
        while True:
            frame = source.pop()
            if frame is None:
                break
            frames.append(frame)
        assert source.total_buffers_count == 5
        assert source.pop() is None  # stays ended
    assert len(frames) == 5
    assert all(isinstance(f, GstBuffer) for f in frames)
    assert [f.pts for f in frames] == [i * 4_000_000 for i in range(5)]
    assert {f.duration for f in frames} == {4_000_000}
    assert frames[0].data.shape == (H, W, 3) and frames[0].data.dtype == np.uint8
    assert frames[0].offset == 0
    # arrays outlive the pipeline (the mapping lives as long as the array)
    gc.collect()
    assert int(frames[0].data.sum()) > 0
    assert frames[-1].caps.startswith("video/x-raw")


def test_video_source_odd_width_has_no_row_padding_in_the_array():
    caps = "video/x-raw,format=RGB,width=31,height=7"
    command = f"videotestsrc num-buffers=1 pattern=ball ! {caps} ! appsink"
    with GstVideoSource(command) as source:
        frame = source.pop(timeout=5)
        sample_ref = frame.data.copy()
    assert frame.data.shape == (7, 31, 3)
    np.testing.assert_array_equal(frame.data, sample_ref)
    # compare with an independent read of the padded buffer: stride 96 = 31*3 rounded up to 4
    pipeline = GstPipeline(command.replace("appsink", "appsink name=out"))
    with pipeline:
        buf = pipeline.get_by_name("out").try_pull_sample(5 * Gst.SECOND).get_buffer()
        raw = np.frombuffer(buf.extract_dup(0, buf.get_size()), np.uint8)
    assert raw.size == 96 * 7
    np.testing.assert_array_equal(raw.reshape(7, 96)[:, :93].reshape(7, 31, 3), frame.data)


def test_video_source_leaky_keeps_the_newest_frames():
    caps = f"video/x-raw,width={W},height={H}"
    command = f"videotestsrc num-buffers=30 ! {caps} ! appsink sync=false wait-on-eos=false"
    with GstVideoSource(command, leaky=True, max_buffers_size=2) as source:
        source.wait(10)  # the stream ran to the end while nobody popped
        offsets = []
        while (frame := source.pop(timeout=0.1)) is not None:
            offsets.append(frame.offset)
    assert offsets == [28, 29]


@pytest.mark.parametrize("frames_first", [False, True])
def test_video_source_error_is_raised_by_pop(frames_first):
    """The error is raised after the frames queued when it came, even though the live
    source goes on producing frames faster than ``pop``'s timeout (it looped for ever when
    the first frame came before the first timeout: seen on a busy machine)."""
    from gstreamer import PipelineError

    source = GstVideoSource("videotestsrc is-live=true ! appsink name=out")
    source.startup()
    try:
        if frames_first:
            wait_for(lambda: source.queue_size >= 2, what="two queued frames")
        err = gstreamer.GLib.Error.new_literal(Gst.StreamError.quark(), "boom", 1)
        source.bus.post(Gst.Message.new_error(source.pipeline, err, "dbg"))
        popped = 0
        with pytest.raises(PipelineError, match="boom"):
            while source.pop(timeout=0.05) is not None:
                popped += 1
                assert popped <= 100, "pop goes on handing out new frames after the error"
        if frames_first:  # two had reached the appsink (one may still wait for its time)
            assert popped >= 1
    finally:
        source.shutdown(raise_errors=False)


def test_leaky_queue_drops_oldest():
    dropped = []
    q = LeakyQueue(maxsize=2, on_drop=lambda queue, item: dropped.append(item))
    for i in range(5):
        q.put(i)
    assert q.qsize() == 2
    assert [q.get(), q.get()] == [3, 4]
    assert dropped == [0, 1, 2]
    assert q.dropped == 3
