import numpy as np
from _helpers import ffprobe_stream

from gstreamer import GstVideoSink, buffers


def test_zero_copy_layer_is_reachable():
    assert buffers.zero_copy_available()


def test_video_sink_writes_complete_mp4(tmp_path):
    out = tmp_path / "v.mp4"
    cmd = (
        f"appsrc ! videoconvert ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location={out}"
    )
    with GstVideoSink(cmd, width=64, height=48, fps=30) as sink:
        for i in range(30):
            sink.push(np.full((48, 64, 3), i, np.uint8))
    info = ffprobe_stream(out, "nb_read_frames", "r_frame_rate")
    assert info == {"r_frame_rate": "30/1", "nb_read_frames": "30"}


def test_public_api_is_sorted_and_complete():
    import gstreamer

    assert gstreamer.__all__ == sorted(gstreamer.__all__)
    for name in gstreamer.__all__:
        assert hasattr(gstreamer, name), name
    public = {
        name
        for name, value in vars(gstreamer).items()
        if not name.startswith("_") and not isinstance(value, type(gstreamer))
    } - {"annotations", "Any"}
    assert public <= set(gstreamer.__all__) | {"__version__"}


def test_gi_modules_are_reachable_from_the_package():
    from gstreamer import GLib, Gst, GstApp, GstVideo

    assert Gst.is_initialized()
    assert GstApp.AppSrc and GstVideo.VideoFormat.RGB and GLib.MainLoop


def test_every_error_is_rooted_in_gst_error():
    import gstreamer
    from gstreamer import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, gstreamer.GstError), name
    assert issubclass(gstreamer.SourceNotFoundError, FileNotFoundError)
    assert issubclass(gstreamer.TargetDirectoryError, FileNotFoundError)
    assert issubclass(gstreamer.CapsError, ValueError)
    assert issubclass(gstreamer.TimeoutError, TimeoutError)
