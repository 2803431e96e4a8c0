"""Bad input gets a clear, typed error and leaves nothing half-done."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from _helpers import in_thread

from gstreamer import (
    CapsError,
    ClosedError,
    GLib,
    Gst,
    GstPipeline,
    GstVideoSink,
    GstVideoSource,
    LifecycleError,
    MissingElementError,
    NegotiationError,
    ParseError,
    PipelineError,
    StateChangeError,
)
from gstreamer.errors import ELEMENT_PACKAGES, GstError, from_gerror, package_for

PLUGIN_DIR = "/usr/lib/x86_64-linux-gnu/gstreamer-1.0"


# -- parse errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "marked"),
    [
        ("videotestsrc ! ! fakesink", "(nothing between '!')"),
        ("videotestsrc ! (fakesink", "(fakesink"),
        ('videotestsrc ! "fakesink', '"fakesink'),
    ],
)
def test_syntax_error_shows_where(description, marked):
    with pytest.raises(ParseError) as info:
        GstPipeline(description).startup()
    err = info.value
    text = str(err)
    assert isinstance(err, ValueError)
    assert not isinstance(err, MissingElementError)
    assert "syntax error" in text
    assert marked in text
    assert description in text  # the description is echoed with a caret line under it
    caret_line = text.splitlines()[text.splitlines().index("    " + description) + 1]
    assert caret_line.strip().startswith("^")
    start = caret_line.index("^") - 4
    assert description[start:].lstrip().startswith(marked[0]) or marked.startswith("(nothing")


def test_empty_description_is_a_parse_error():
    with pytest.raises(ParseError, match="empty pipeline"):
        GstPipeline("").startup()


def test_bad_property_value_is_not_reported_as_missing_element():
    with pytest.raises(ParseError) as info:
        GstPipeline("videotestsrc ! fakesink silent=maybe").startup()
    assert not isinstance(info.value, MissingElementError)
    assert 'could not set property "silent"' in str(info.value)
    assert "gst-inspect-1.0 fakesink" in str(info.value)


def test_unknown_element_names_it_and_suggests_gst_inspect():
    with pytest.raises(MissingElementError) as info:
        GstPipeline("videotestsrc ! nosuchelement123 ! fakesink").startup()
    err = info.value
    assert isinstance(err, ParseError)
    assert err.elements == ["nosuchelement123"]
    assert err.packages == []
    assert "no element 'nosuchelement123'" in str(err)
    assert "gst-inspect-1.0 nosuchelement123" in str(err)


def test_element_package_mapping():
    assert package_for("x264enc") == "gstreamer1.0-plugins-ugly"
    assert package_for("fpsdisplaysink") == "gstreamer1.0-plugins-bad"
    assert package_for("ximagesink") == "gstreamer1.0-x"
    assert package_for("nosuchelement123") is None
    assert all(
        pkg.startswith(("gstreamer1.0-", "libgstreamer1.0")) for pkg in ELEMENT_PACKAGES.values()
    )


@pytest.mark.e2e
def test_missing_x264enc_names_the_debian_package(tmp_path):
    """A real missing element: x264enc hidden from a fresh registry in a subprocess."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    for name in ("libgstcoreelements.so", "libgstvideotestsrc.so"):
        os.symlink(os.path.join(PLUGIN_DIR, name), plugins / name)
    env = dict(
        os.environ,
        GST_PLUGIN_SYSTEM_PATH_1_0=str(plugins),
        GST_PLUGIN_PATH_1_0="",
        GST_REGISTRY_1_0=str(tmp_path / "registry.bin"),
        GST_REGISTRY_FORK="no",
    )
    code = (
        "from gstreamer import GstPipeline, MissingElementError\n"
        "try:\n"
        "    GstPipeline('videotestsrc num-buffers=1 ! x264enc ! fakesink').startup()\n"
        "except MissingElementError as e:\n"
        "    print(e.elements, e.packages); print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "['x264enc'] ['gstreamer1.0-plugins-ugly']"
    assert "no element 'x264enc': it is in gstreamer1.0-plugins-ugly" in out.stdout
    assert "sudo apt-get install gstreamer1.0-plugins-ugly" in out.stdout


def test_error_classes_subclass_the_builtins_they_mean():
    assert issubclass(ParseError, ValueError)
    assert issubclass(CapsError, ValueError)
    assert issubclass(LifecycleError, RuntimeError)
    assert issubclass(ClosedError, LifecycleError)
    from gstreamer import TimeoutError as GstTimeout

    assert issubclass(GstTimeout, TimeoutError)
    for cls in (ParseError, MissingElementError, NegotiationError, StateChangeError):
        assert issubclass(cls, PipelineError)
        assert issubclass(cls, GstError)


def test_from_gerror_maps_not_negotiated_to_negotiation_error():
    gerror = GLib.Error.new_literal(Gst.StreamError.quark(), "Internal data stream error.", 1)
    err = from_gerror(
        gerror,
        "streaming stopped, reason not-negotiated (-4)",
        "appsrc0",
    )
    assert isinstance(err, NegotiationError)
    assert "not-negotiated" in str(err)
    assert "videoconvert" in err.hint
    assert str(err).startswith("appsrc0: ")


# -- GstVideoSink / GstVideoSource element checks ------------------------------------------


@pytest.mark.parametrize(
    "command",
    ["videotestsrc ! fakesink", "appsrc ! fakesink appsrc ! fakesink"],
    ids=["no-appsrc", "two-appsrcs"],
)
def test_video_sink_needs_exactly_one_appsrc(command):
    sink = GstVideoSink(command, width=32, height=24)
    with pytest.raises(CapsError, match="exactly one appsrc") as info:
        sink.startup()
    assert isinstance(info.value, ValueError)  # the seed raised ValueError
    assert sink.pipeline is None and sink.bus is None
    sink.shutdown()  # nothing to do, no error


def test_video_source_needs_exactly_one_appsink():
    with pytest.raises(CapsError, match="exactly one appsink"):
        GstVideoSource("videotestsrc ! fakesink").startup()


# -- arrays that do not fit the caps --------------------------------------------------------


@pytest.fixture
def gray_sink():
    sink = GstVideoSink(
        "appsrc ! appsink name=out sync=false", width=32, height=24, video_frmt="GRAY8"
    )
    sink.startup()
    try:
        yield sink
    finally:
        sink.shutdown(raise_errors=False)


@pytest.mark.parametrize(
    ("shape", "dtype", "what"),
    [
        ((24, 32, 3), np.uint8, "shape"),
        ((32, 24), np.uint8, "shape"),
        ((24, 32), np.float32, "dtype"),
        ((24, 32), np.uint16, "dtype"),
    ],
)
def test_mismatched_array_is_refused_before_push(gray_sink, shape, dtype, what):
    with pytest.raises(CapsError, match=what) as info:
        gray_sink.push(np.zeros(shape, dtype))
    assert "GRAY8 32x24" in str(info.value)
    assert gray_sink.total_buffers_count == 0
    appsink = gray_sink.get_by_name("out")
    assert appsink.try_pull_sample(50 * Gst.MSECOND) is None  # nothing reached the pipeline
    # the pipeline is unharmed: a correct frame goes through
    gray_sink.push(np.full((24, 32), 7, np.uint8), pts=0)
    sample = appsink.try_pull_sample(5 * Gst.SECOND)
    assert sample is not None and sample.get_buffer().pts == 0


# -- negotiation ----------------------------------------------------------------------------


def test_converter_missing_gives_negotiation_error_with_hint():
    sink = GstVideoSink("appsrc ! video/x-raw,format=GRAY8 ! fakesink", width=64, height=48)
    sink.startup()
    try:
        with pytest.raises(NegotiationError) as info:
            for _ in range(50):  # the error surfaces at a later push (or at shutdown)
                sink.push(np.zeros((48, 64, 3), np.uint8))
            sink.shutdown()
    finally:
        sink.shutdown(raise_errors=False)
    err = info.value
    assert "not-negotiated" in str(err)
    assert "videoconvert" in err.hint
    assert "format=(string)RGB" in err.hint  # what appsrc offered
    assert err.element.startswith("appsrc")
    assert sink.pipeline is None


def test_missing_framerate_into_encoder_is_explained():
    command = (
        "appsrc name=src caps=video/x-raw,format=I420,width=64,height=48 format=time ! "
        "x264enc ! fakesink"
    )
    pipeline = GstPipeline(command)
    pipeline.startup()
    try:
        appsrc = pipeline.get_by_name("src")
        for i in range(3):
            buf = Gst.Buffer.new_wrapped(bytes(64 * 48 * 3 // 2))
            buf.pts = i * 33_333_333
            appsrc.emit("push-buffer", buf)
        with pytest.raises(NegotiationError) as info:
            pipeline.wait(10)
    finally:
        pipeline.shutdown(raise_errors=False)
    assert "no framerate" in info.value.hint
    assert "framerate=30/1" in info.value.hint


def test_blocked_push_is_woken_by_a_pipeline_error():
    """appsrc block=True with a full queue must not hang once the pipeline has failed."""
    sink = GstVideoSink(
        "appsrc ! video/x-raw,format=GRAY8 ! fakesink", width=64, height=48, max_buffers=1
    )
    sink.startup()

    def pump():
        for _ in range(200):
            sink.push(np.zeros((48, 64, 3), np.uint8))

    thread, errors = in_thread(pump)
    thread.join(20)
    alive = thread.is_alive()
    sink.shutdown(raise_errors=False)
    thread.join(5)
    assert not alive
    assert errors and isinstance(errors[0], (NegotiationError, ClosedError))


# -- failed startup leaves nothing half-done -------------------------------------------------


def test_failed_state_change_is_typed_and_leaves_null(tmp_path):
    missing_dir = tmp_path / "no" / "such" / "dir"
    pipeline = GstPipeline(f"videotestsrc num-buffers=1 ! filesink location={missing_dir}/x.raw")
    created = []
    pipeline._on_pipeline_init = lambda: created.append(pipeline.pipeline)
    for _ in range(2):  # can be started again, fails the same way
        with pytest.raises(StateChangeError) as info:
            pipeline.startup()
        assert "Could not open file" in str(info.value) or "could not set" in str(info.value)
        assert info.value.element.startswith("filesink")
        assert pipeline.pipeline is None and pipeline.bus is None
        assert pipeline.is_done and not pipeline.is_active
    for gst_pipeline in created:
        assert gst_pipeline.get_state(0)[1] == Gst.State.NULL
    pipeline.shutdown()  # the error was raised already: nothing more


def test_failing_pipeline_init_is_cleaned_up_and_retry_works():
    pipeline = GstPipeline("videotestsrc num-buffers=3 ! appsink name=out sync=false")
    seen = []

    def init():
        seen.append(pipeline.pipeline)
        if len(seen) == 1:
            raise RuntimeError("configuration failed")

    pipeline._on_pipeline_init = init
    threads_before = {t.ident for t in threading.enumerate()}
    with pytest.raises(RuntimeError, match="configuration failed"):
        pipeline.startup()
    assert pipeline.pipeline is None
    assert seen[0].get_state(0)[1] == Gst.State.NULL
    assert {t.ident for t in threading.enumerate()} == threads_before
    pipeline.startup()  # not "already started"
    try:
        appsink = pipeline.get_by_name("out")
        for _ in range(3):  # appsink holds EOS back until its samples are pulled
            assert appsink.try_pull_sample(5 * Gst.SECOND) is not None
        pipeline.wait(10)
    finally:
        pipeline.shutdown()
    assert seen[1] is not seen[0]


def test_startup_twice_is_a_lifecycle_error():
    with GstPipeline("videotestsrc is-live=true ! fakesink") as pipeline:
        with pytest.raises(LifecycleError, match="already started"):
            pipeline.startup()
        assert isinstance(pipeline.pipeline, Gst.Pipeline)


def test_use_before_startup_is_a_lifecycle_error():
    pipeline = GstPipeline("videotestsrc ! fakesink")
    with pytest.raises(LifecycleError, match="not started"):
        pipeline.get_by_name("x")
    sink = GstVideoSink("appsrc ! fakesink", width=8, height=8)
    with pytest.raises(LifecycleError, match="not started"):
        sink.push(np.zeros((8, 8, 3), np.uint8))
    source = GstVideoSource("videotestsrc ! appsink")
    with pytest.raises(LifecycleError, match="not started"):
        source.pop()


def test_misspelt_element_suggests_the_right_one_and_its_package():
    with pytest.raises(MissingElementError) as info:
        GstPipeline("videotestsrc num-buffers=1 ! x264encc ! fakesink").startup()
    assert str(info.value).startswith(
        "no element 'x264encc'; did you mean 'x264enc'? (x264enc is in gstreamer1.0-plugins-ugly)"
    )
    assert info.value.elements == ["x264encc"]
    assert info.value.packages == []  # x264enc is installed: nothing to install


def test_reader_with_a_misspelt_source_element_names_it_not_a_file():
    from gstreamer import Reader

    with pytest.raises(MissingElementError, match="did you mean 'videotestsrc'"):
        Reader("videotestsrcc num-buffers=3")
    with pytest.raises(FileNotFoundError, match=r"no such file: 'missing\.mp4'"):
        Reader("missing.mp4")


def test_filesrc_on_a_missing_file_says_no_such_file(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(PipelineError, match=r"no such file: '.*nope\.mp4'"):
        GstPipeline(f"filesrc location={missing} ! fakesink").startup()


def test_window_sink_without_a_display_is_a_typed_one_line_error(monkeypatch):
    from gstreamer import NoDisplayError

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    pipeline = GstPipeline("videotestsrc num-buffers=3 ! videoconvert ! autovideosink")
    with pytest.raises(NoDisplayError) as info:
        pipeline.startup()
    assert isinstance(info.value, PipelineError)
    assert info.value.sinks == ["autovideosink"]
    assert "\n" not in str(info.value) and "xvfb-run" in str(info.value)
    assert pipeline.pipeline is None  # nothing was started


@pytest.mark.e2e
def test_launch_without_a_display_exits_1_not_a_segfault(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "gstreamer"), "launch",
         "videotestsrc num-buffers=30 ! videoconvert ! autovideosink"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 1, (out.returncode, out.stderr)
    assert out.stderr.count("\n") == 1
    assert out.stderr.startswith("gstreamer launch: error: autovideosink needs a display")


def test_fpsdisplaysink_needs_a_display_only_through_its_video_sink(monkeypatch):
    from gstreamer import NoDisplayError

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(NoDisplayError):
        GstPipeline("videotestsrc num-buffers=3 ! fpsdisplaysink").startup()
    ok = GstPipeline("videotestsrc num-buffers=3 ! fpsdisplaysink video-sink=fakesink")
    ok.startup()
    ok.wait(30)
    ok.shutdown()
