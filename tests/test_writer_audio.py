import json
import os
import wave

import numpy as np
import pytest
from _helpers import ffmpeg, ffprobe

import gstreamer
from gstreamer import AudioWriter, CapsError, ClosedError, LifecycleError, MuxWriter, write_audio


def probe_streams(path):
    entries = "stream=codec_type,codec_name,duration,sample_rate,channels,nb_read_frames"
    out = ffprobe(path, "-show_entries", entries, "-count_frames", "-of", "json")
    return json.loads(out)["streams"]


def stream_end(path, selector):
    """End time of a stream: the last packet's pts + duration (works for every container)."""
    out = ffprobe(
        path, "-select_streams", selector, "-show_entries", "packet=pts_time,duration_time",
        "-of", "csv=p=0",
    )  # fmt: skip
    ends = []
    for line in out.split():
        pts, dur = ([*line.split(","), "0"])[:2]
        ends.append(float(pts) + (float(dur) if dur not in ("", "N/A") else 0.0))
    return max(ends)


def decode_s16(path, channels):
    raw = ffmpeg("-i", os.fspath(path), "-f", "s16le", "-acodec", "pcm_s16le", "-")
    return np.frombuffer(raw, "<i2").reshape(-1, channels)


def tone(seconds, rate, channels, dtype=np.int16):
    t = np.arange(int(seconds * rate)) / rate
    wave_ = np.stack([np.sin(2 * np.pi * 440 * (c + 1) * t) for c in range(channels)], axis=1)
    if np.dtype(dtype).kind == "f":
        return (0.5 * wave_).astype(dtype)
    return (wave_ * 12000).astype(dtype)


def test_wav_round_trip_is_exact(tmp_path):
    out = tmp_path / "a.wav"
    samples = tone(0.5, 16000, 2)
    with AudioWriter(out, rate=16000) as w:
        for block in np.array_split(samples, 7):
            w.write(block)
    assert w.encoder == ""  # PCM: no encoder, wavenc only
    assert "S16LE" in w.caps
    with wave.open(os.fspath(out)) as f:  # the stdlib reader, independent of GStreamer
        assert (f.getnchannels(), f.getframerate(), f.getsampwidth()) == (2, 16000, 2)
        back = np.frombuffer(f.readframes(f.getnframes()), "<i2").reshape(-1, 2)
    np.testing.assert_array_equal(back, samples)


def test_flac_round_trip_is_exact_and_mono_accepts_1d(tmp_path):
    out = tmp_path / "a.flac"
    samples = tone(0.25, 8000, 1)[:, 0]
    assert write_audio(out, samples, rate=8000) == samples.shape[0]
    np.testing.assert_array_equal(decode_s16(out, 1)[:, 0], samples)


@pytest.mark.parametrize(("ext", "codec"), [(".ogg", "vorbis"), (".m4a", "aac"), (".opus", "opus")])
def test_compressed_audio_files(tmp_path, ext, codec):
    out = tmp_path / f"a{ext}"
    samples = tone(1.0, 48000, 2, np.float32)
    with AudioWriter(out, rate=48000) as w:
        for block in np.array_split(samples, 50):
            w.write(block)
    (stream,) = probe_streams(out)
    assert stream["codec_name"] == codec
    assert stream["channels"] == 2
    assert abs(float(stream["duration"]) - 1.0) < 0.05


def test_audio_bad_input(tmp_path):
    with AudioWriter("fakesink", rate=8000) as w:
        w.write(np.zeros((100, 2), np.int16))
        with pytest.raises(CapsError, match="channels=2"):
            w.write(np.zeros((100, 3), np.int16))
        with pytest.raises(CapsError, match="dtype"):
            w.write(np.zeros((100, 2), np.float32))
    with pytest.raises(ClosedError):
        w.write(np.zeros((100, 2), np.int16))
    with pytest.raises(ValueError, match="audio file extension"):
        AudioWriter(tmp_path / "x.mp4")


def test_audio_timestamps_follow_the_sample_count():
    w = AudioWriter("fakesink", rate=44100, channels=1)
    try:
        block = np.zeros((441, 1), np.int16)
        w._input.layout = w._input.caps_for(block)
        stamps = [w._input.timestamps(block, None, None) for _ in range(100)]
    finally:
        w.close()
    assert stamps[0] == (0, 10_000_000)
    assert stamps[99][0] == 990_000_000


@pytest.mark.parametrize(("ext", "audio_codec"), [(".mp4", "aac"), (".mkv", "vorbis")])
def test_mux_writer_streams_are_synchronised(tmp_path, ext, audio_codec):
    out = tmp_path / f"av{ext}"
    fps, rate = 30, 48000
    audio = tone(2.0, rate, 2, np.float32)
    per_frame = rate // fps
    with MuxWriter(out, video=dict(fps=fps), audio=dict(rate=rate, channels=2)) as w:
        for i in range(2 * fps):
            w.write_video(np.full((48, 64, 3), i * 4, np.uint8))
            w.write_audio(audio[i * per_frame : (i + 1) * per_frame])
    assert (w.frames_written, w.audio_blocks_written) == (60, 60)
    assert (w.video_encoder, w.audio_encoder)[0] == "x264enc"
    streams = {s["codec_type"]: s for s in probe_streams(out)}
    assert set(streams) == {"video", "audio"}
    assert streams["video"]["codec_name"] == "h264"
    assert streams["audio"]["codec_name"] == audio_codec
    assert int(streams["video"]["nb_read_frames"]) == 60
    v, a = stream_end(out, "v:0"), stream_end(out, "a:0")
    assert abs(v - 2.0) < 1 / fps
    assert abs(v - a) < 1 / fps


def test_mux_writer_holds_audio_until_the_first_frame(tmp_path):
    out = tmp_path / "held.mkv"
    audio = tone(1.0, 16000, 1, np.int16)
    w = MuxWriter(out, video=dict(fps=10), audio=dict(rate=16000, channels=1, dtype="int16"))
    with w:
        w.write_audio(audio[:1600])  # before any video: held
        assert w.pipeline.pipeline is None
        for i in range(10):
            w.write_video(np.full((32, 32, 3), i, np.uint8))
            if i:
                w.write_audio(audio[i * 1600 : (i + 1) * 1600])
    streams = {s["codec_type"]: s for s in probe_streams(out)}
    assert abs(stream_end(out, "a:0") - 1.0) < 0.1
    assert int(streams["video"]["nb_read_frames"]) == 10


def test_mux_writer_bad_options(tmp_path):
    with pytest.raises(ValueError, match="cannot hold video and audio"):
        MuxWriter(tmp_path / "x.h264")
    with pytest.raises(TypeError, match="unknown video option"):
        MuxWriter(tmp_path / "x.mp4", video=dict(fsp=30))
    w = MuxWriter(tmp_path / "y.mp4", audio=dict(rate=8000, channels=1))
    w._MAX_HELD = 2
    w.write_audio(np.zeros(10, np.float32))
    w.write_audio(np.zeros(10, np.float32))
    with pytest.raises(LifecycleError, match="first video frame"):
        w.write_audio(np.zeros(10, np.float32))
    w.close()


def test_flac_header_carries_the_duration(tmp_path):
    """flacenc rewrites STREAMINFO at the end: ffprobe reads the duration from the header."""
    out = tmp_path / "tone.flac"
    samples = (np.sin(np.arange(16000 * 3) / 5) * 8000).astype(np.int16)
    assert gstreamer.write_audio(out, samples, rate=16000) == 48000
    duration = ffprobe(out, "-show_entries", "format=duration", "-of", "csv=p=0")
    assert float(duration) == pytest.approx(3.0, abs=1e-3)


def test_write_audio_reports_progress_in_samples(tmp_path):
    seen = []
    blocks = [np.zeros((1600, 2), np.float32)] * 5
    gstreamer.write_audio(tmp_path / "a.wav", blocks, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1600 * i, None) for i in range(1, 6)]
