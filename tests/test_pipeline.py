"""GstPipeline: lifecycle, hooks, errors kept for the caller, shutdown that finalises files."""

import contextlib
import subprocess
import threading
import time

import numpy as np
import pytest
from _helpers import ffprobe_stream, wait_for

from gstreamer import (
    GLib,
    Gst,
    GstApp,
    GstContext,
    GstPipeline,
    GstVideoSink,
    PipelineError,
    TimeoutError,
)
from gstreamer.pipeline import iterate, quote
from gstreamer.pipeline import post_error as post_element_error

LIVE = "videotestsrc is-live=true ! video/x-raw,width=32,height=24 ! fakesink"


def post_error(pipeline, text="boom"):
    gerror = GLib.Error.new_literal(Gst.StreamError.quark(), text, int(Gst.StreamError.FAILED))
    pipeline.bus.post(Gst.Message.new_error(pipeline.pipeline, gerror, "debug text"))


@pytest.fixture
def live():
    pipeline = GstPipeline(LIVE)
    pipeline.startup()
    try:
        yield pipeline
    finally:
        pipeline.shutdown(raise_errors=False)


def test_lifecycle_and_properties():
    pipeline = GstPipeline(LIVE)
    assert pipeline.pipeline is None and pipeline.bus is None
    assert not pipeline.is_active and not pipeline.is_done
    assert str(pipeline) == "GstPipeline" and LIVE in repr(pipeline)
    pipeline.startup()
    first = pipeline.pipeline
    try:
        assert isinstance(first, Gst.Pipeline)
        assert isinstance(pipeline.bus, Gst.Bus)
        assert pipeline.is_active and not pipeline.is_done
        assert first.get_state(5 * Gst.SECOND)[1] == Gst.State.PLAYING
    finally:
        pipeline.shutdown()
    assert pipeline.pipeline is None and pipeline.bus is None
    assert pipeline.is_done and not pipeline.is_active
    assert first.get_state(0)[1] == Gst.State.NULL
    pipeline.shutdown()  # idempotent
    pipeline.shutdown(eos=False)
    # started again after shutdown: a fresh pipeline
    with pipeline:
        assert pipeline.is_active
        assert pipeline.pipeline is not first
    assert pipeline.is_done


def test_on_pipeline_init_runs_after_parse_before_playing():
    states = []

    def on_pipeline_init(self):
        states.append(self.pipeline.get_state(0)[1])
        self.get_by_name("src").set_property("pattern", "ball")

    pipeline = GstPipeline("videotestsrc name=src num-buffers=2 ! fakesink")
    pipeline._on_pipeline_init = on_pipeline_init.__get__(pipeline)  # as in the tutorial
    with pipeline:
        pipeline.wait(10)
        assert pipeline.get_by_name("src").get_property("pattern") == 18  # ball
    assert states == [Gst.State.NULL]

    class Sub(GstPipeline):
        called = 0

        def _on_pipeline_init(self):
            Sub.called += 1
            assert self.pipeline.get_state(0)[1] == Gst.State.NULL

    with Sub("videotestsrc num-buffers=1 ! fakesink") as sub:
        sub.wait(10)
    assert Sub.called == 1


def test_get_by_cls_and_get_by_name():
    pipeline = GstPipeline("appsrc name=a ! queue ! fakesink appsrc name=b ! fakesink")
    with pipeline:
        appsrcs = pipeline.get_by_cls(GstApp.AppSrc)
        assert isinstance(appsrcs, list)
        assert sorted(a.get_name() for a in appsrcs) == ["a", "b"]
        assert pipeline.get_by_name("a") in appsrcs
        assert pipeline.get_by_name("nope") is None
        assert len(pipeline.get_by_cls(Gst.Element)) == 5
    # elements inside bins are found too
    with GstPipeline("videotestsrc is-live=true ! ( queue name=inner ! fakesink )") as nested:
        names = [e.get_name() for e in nested.get_by_cls(Gst.Element)]
        assert "inner" in names
        assert len(nested.get_by_cls(Gst.Bin)) == 1  # the child bin, not the pipeline itself


def test_iterate_lists_a_gst_iterator(live):
    elements = iterate(live.pipeline.iterate_elements())
    assert {e.get_factory().get_name() for e in elements} == {
        "videotestsrc",
        "capsfilter",
        "fakesink",
    }


def test_wait_returns_at_eos():
    with GstPipeline("videotestsrc num-buffers=5 ! fakesink") as pipeline:
        pipeline.wait(10)
        assert pipeline.is_done
        assert pipeline.error is None


def test_error_is_kept_and_raised_once_by_wait(live):
    post_error(live)
    assert live.is_done
    with pytest.raises(PipelineError, match="boom") as info:
        live.wait(5)
    assert info.value.debug == "debug text"
    assert info.value.domain == "gst-stream-error-quark"
    live.wait(5)  # raised once
    live.shutdown()  # and not again
    assert live.pipeline is None


def test_error_is_raised_by_shutdown():
    pipeline = GstPipeline(LIVE)
    pipeline.startup()
    post_error(pipeline, "kaput")
    with pytest.raises(PipelineError, match="kaput"):
        pipeline.shutdown()
    assert pipeline.pipeline is None
    assert isinstance(pipeline.error, PipelineError)
    pipeline.shutdown()


def test_warnings_are_recorded(live):
    gerror = GLib.Error.new_literal(Gst.CoreError.quark(), "careful", int(Gst.CoreError.FAILED))
    live.bus.post(Gst.Message.new_warning(live.pipeline, gerror, "why"))
    assert live.warnings == ["careful (why)"]
    assert live.is_active


def test_wait_timeout(live):
    with pytest.raises(TimeoutError):
        live.wait(0.05)
    assert live.is_active


def test_message_callback_sees_every_message_in_the_posting_thread():
    seen = []
    pipeline = GstPipeline("videotestsrc num-buffers=3 name=src ! fakesink")
    pipeline.add_message_callback(lambda m: seen.append((m.type, threading.get_ident())))
    with pipeline:
        pipeline.bus.post(Gst.Message.new_application(None, Gst.Structure.new_empty("mark")))
        pipeline.wait(10)
    types = [t for t, _ in seen]
    assert Gst.MessageType.STATE_CHANGED in types
    assert Gst.MessageType.APPLICATION in types
    assert types.count(Gst.MessageType.EOS) == 1
    # the EOS came from a streaming thread, not from this one
    assert any(t == Gst.MessageType.EOS and ident != threading.get_ident() for t, ident in seen)
    # registered once, kept across a restart
    seen.clear()
    with pipeline:
        pipeline.wait(10)
    assert [t for t, _ in seen].count(Gst.MessageType.EOS) == 1


def test_exception_in_a_message_callback_is_kept_and_raised(live):
    def broken(message):
        if message.type == Gst.MessageType.APPLICATION:
            raise ValueError("callback failed")

    live.add_message_callback(broken)
    live.bus.post(Gst.Message.new_application(None, Gst.Structure.new_empty("mark")))
    with pytest.raises(PipelineError, match="callback failed"):
        live.wait(5)


def test_post_error_fails_the_pipeline_like_an_element_error(live):
    sink = live.get_by_cls(Gst.Element)[0]
    post_element_error(sink, Gst.resource_error_quark(), Gst.ResourceError.SYNC, "disk gone", "why")
    with pytest.raises(PipelineError, match="disk gone") as info:
        live.wait(5)
    assert info.value.element == sink.get_name()
    assert info.value.domain == "gst-resource-error-quark"
    assert info.value.code == int(Gst.ResourceError.SYNC)
    assert info.value.debug == "why"


def test_sync_handler_is_removed_at_shutdown():
    pipeline = GstPipeline(LIVE)
    pipeline.startup()
    bus, gst_pipeline = pipeline.bus, pipeline.pipeline
    pipeline.shutdown()
    assert pipeline.bus is None
    bus.set_flushing(False)
    gerror = GLib.Error.new_literal(Gst.StreamError.quark(), "late", int(Gst.StreamError.FAILED))
    bus.post(Gst.Message.new_error(gst_pipeline, gerror, ""))
    assert pipeline.error is None  # our handler is gone


def test_shutdown_without_eos_arriving_raises_timeout_instead_of_hanging():
    # valve drop=true swallows EOS, so it never reaches the sink
    pipeline = GstPipeline("videotestsrc is-live=true ! valve drop=true ! fakesink")
    pipeline.startup()
    with pytest.raises(TimeoutError, match=r"did not reach the sinks within 0\.1 s"):
        pipeline.shutdown(timeout=0.1)
    assert pipeline.pipeline is None  # stopped anyway
    pipeline.shutdown()


def test_shutdown_with_undrained_appsink_does_not_hang():
    # appsink holds EOS back until its samples are pulled; sending EOS to the source blocks
    pipeline = GstPipeline("videotestsrc num-buffers=3 ! appsink name=out sync=false")
    pipeline.startup()
    assert pipeline.get_by_name("out").try_pull_sample(5 * Gst.SECOND) is not None
    with contextlib.suppress(TimeoutError):  # EOS may or may not get through: no hang either way
        pipeline.shutdown(timeout=0.2)
    assert pipeline.pipeline is None


def _mp4_command(path):
    return (
        "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=30/1 ! "
        "x264enc speed-preset=ultrafast tune=zerolatency ! mp4mux ! "
        f"filesink location={quote(path)}"
    )


def test_shutdown_sends_eos_so_mp4_is_finalised(tmp_path):
    out = tmp_path / "live.mp4"
    pipeline = GstPipeline(_mp4_command(out))
    pipeline.startup()
    try:
        time.sleep(0.3)  # let a few live frames through; the stream never ends by itself
        assert pipeline.is_active
    finally:
        pipeline.shutdown(timeout=10)  # eos=True is the default
    info = ffprobe_stream(out, "codec_name", "nb_read_frames")
    assert info["codec_name"] == "h264"
    assert int(info["nb_read_frames"]) >= 1


def test_shutdown_without_eos_leaves_mp4_unfinished(tmp_path):
    out = tmp_path / "cut.mp4"
    pipeline = GstPipeline(_mp4_command(out))
    pipeline.startup()
    time.sleep(0.3)
    pipeline.shutdown(eos=False)
    probe = subprocess.run(["ffprobe", "-v", "error", str(out)], capture_output=True, text=True)
    assert probe.returncode != 0  # no moov atom: this is what eos=True prevents


def test_keyboard_interrupt_during_push_leaves_file_finalised(tmp_path):
    out = tmp_path / "interrupted.mp4"
    command = (
        "appsrc ! videoconvert ! x264enc speed-preset=ultrafast ! mp4mux ! "
        f"filesink location={quote(out)}"
    )
    sink = GstVideoSink(command, width=64, height=48, fps=30)
    with pytest.raises(KeyboardInterrupt), sink:
        for i in range(1000):
            if i == 12:
                raise KeyboardInterrupt
            sink.push(np.full((48, 64, 3), i, np.uint8))
    assert sink.pipeline is None
    info = ffprobe_stream(out, "nb_read_frames", "r_frame_rate")
    assert info == {"nb_read_frames": "12", "r_frame_rate": "30/1"}


# -- hooks dispatched by a GstContext --------------------------------------------------------


class Recording(GstPipeline):
    def __init__(self, command):
        super().__init__(command)
        self.calls = []

    def on_eos(self, bus, message):
        self.calls.append(("eos", message.type))

    def on_error(self, bus, message):
        self.calls.append(("error", message.parse_error()[0].message))

    def on_warning(self, bus, message):
        self.calls.append(("warning", message.parse_warning()[0].message))


def test_hooks_are_called_from_the_main_loop():
    with GstContext():
        pipeline = Recording("videotestsrc num-buffers=3 ! fakesink")
        with pipeline:
            gerror = GLib.Error.new_literal(Gst.CoreError.quark(), "hm", int(Gst.CoreError.FAILED))
            pipeline.bus.post(Gst.Message.new_warning(pipeline.pipeline, gerror, ""))
            pipeline.wait(10)
            wait_for(lambda: ("eos", Gst.MessageType.EOS) in pipeline.calls)
        assert ("warning", "hm") in pipeline.calls
        failing = Recording(LIVE)
        failing.startup()
        post_error(failing, "bad")
        wait_for(lambda: ("error", "bad") in failing.calls)
        with pytest.raises(PipelineError, match="bad"):
            failing.shutdown()


def test_exception_in_a_hook_is_kept_not_swallowed():
    class Broken(GstPipeline):
        def on_eos(self, bus, message):
            raise ValueError("hook failed")

    with GstContext():
        pipeline = Broken("videotestsrc num-buffers=2 ! fakesink")
        pipeline.startup()
        wait_for(lambda: pipeline.error is not None)
        with pytest.raises(PipelineError, match="hook failed") as info:
            pipeline.wait(10)
        assert isinstance(info.value.__cause__, ValueError)
        pipeline.shutdown()  # raised once, not again


def test_seed_style_shutdown_from_on_eos_hook():
    class SeedStyle(GstPipeline):
        def on_eos(self, bus, message):
            self._shutdown_pipeline()  # what the seed's on_eos did

    with GstContext():
        pipeline = SeedStyle("videotestsrc num-buffers=2 ! fakesink")
        pipeline.startup()
        wait_for(lambda: pipeline.pipeline is None)
        assert pipeline.is_done
        pipeline.shutdown()
