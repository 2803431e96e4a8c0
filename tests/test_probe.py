"""probe(): facts about a file without decoding, checked against ffprobe."""

import json
import logging
import subprocess
import time
from fractions import Fraction

import numpy as np
import pytest
from _media import ffprobe_stream, session_clips

import gstreamer
from gstreamer import InvalidMediaError, MediaInfo, VideoInfo, probe
from gstreamer.cli import main

CLIPS = ["h264.mp4", "hevc.mp4", "vp9.webm", "h264.ts", "vfr.mkv", "rot90.mp4"]
CONTAINERS = {"mp4": "mp4", "webm": "webm", "ts": "mpegts", "mkv": "matroska"}  # by extension


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return session_clips(tmp_path_factory)


@pytest.mark.parametrize("name", CLIPS)
def test_probe_agrees_with_ffprobe(clips, name):
    path = clips[name]
    ff = ffprobe_stream(path)
    info = probe(path)
    assert isinstance(info, MediaInfo) and isinstance(info.video, VideoInfo)
    video = info.video
    fps = Fraction(ff["r_frame_rate"])
    assert video.fps == fps
    assert info.duration == pytest.approx(float(ff["duration"]), abs=float(1 / fps))
    assert video.codec == ff["codec_name"]
    assert info.container == CONTAINERS[name.rsplit(".", 1)[1]]
    assert info.seekable and not info.live
    rotation = -int(ff.get("rotation", "0")) % 360  # ffprobe: counter-clockwise
    assert video.rotation == rotation
    size = (int(ff["width"]), int(ff["height"]))
    assert (video.width, video.height) == (size if rotation in (0, 180) else size[::-1])
    if name.endswith(".mp4"):
        assert video.frames == int(ff["nb_frames"]) == int(ff["nb_read_frames"])
        assert video.avg_fps == fps
    else:
        assert video.frames is None
    assert video.bit_depth == 8
    assert video.pixel_format == "yuv420p"
    assert info.audio == [] and info.streams == [video]


def test_audio_streams_and_tags(tmp_path):
    path = tmp_path / "av.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=d=1:s=160x120:r=25",
         "-f", "lavfi", "-i", "sine=d=1:sample_rate=48000", "-ac", "2", "-c:v", "libx264",
         "-c:a", "aac", "-metadata", "title=probe test", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    info = probe(path)
    assert info.video is not None and info.video.frames == 25
    assert [(a.codec, a.rate, a.channels) for a in info.audio] == [("aac", 48000, 2)]
    assert len(info.streams) == 2
    assert info.tags.get("container-format") and info.tags.get("title") == "probe test"
    data = json.loads(json.dumps(info.to_dict()))
    assert data["video"]["fps"] == "25/1"
    assert data["audio"][0]["rate"] == 48000


def test_probe_creates_no_decoder(clips, caplog):
    with caplog.at_level(logging.DEBUG, logger="gstreamer.probe"):
        probe(clips["h264.mp4"])
    created = [r.getMessage() for r in caplog.records if r.getMessage().startswith("probe: el")]
    factories = [m.rsplit("(", 1)[1].rstrip(")") for m in created]
    assert "qtdemux" in factories and "h264parse" in factories  # the log sees elements
    registry = gstreamer.Gst.Registry.get()
    for name in factories:
        feature = registry.find_feature(name, gstreamer.Gst.ElementFactory)
        assert feature is not None
        assert "Decoder" not in feature.get_metadata("klass"), name


def test_probe_uri_and_errors(clips, tmp_path):
    uri = clips["vp9.webm"].resolve().as_uri()
    assert probe(uri).video.codec == "vp9"
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(np.random.default_rng(2).integers(0, 256, 50_000, np.uint8).tobytes())
    start = time.monotonic()
    with pytest.raises(InvalidMediaError):
        probe(junk)
    assert time.monotonic() - start < 2.0
    with pytest.raises(gstreamer.SourceNotFoundError):
        probe(tmp_path / "missing.mp4")


def test_cli_probe(clips, capsys):
    assert main(["probe", str(clips["rot90.mp4"])]) == 0
    out = capsys.readouterr().out
    assert "mp4" in out and "h264 120x160 30 fps, 150 frames" in out and "rotated 270" in out
    assert main(["probe", "--json", str(clips["h264.mp4"])]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["video"]["frames"] == 150 and data["container"] == "mp4"
    assert main(["probe", str(clips["h264.mp4"]) + ".missing"]) == 1
