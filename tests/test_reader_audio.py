import json

import numpy as np
import pytest
from _helpers import ffprobe, gst_launch

from gstreamer import CapsError, PipelineError
from gstreamer.reader import Reader, read_frames


def read_all(source, **kwargs):
    with Reader(source, **kwargs) as reader:
        frames = list(reader)
        return frames, reader


def test_sine_frequency_via_fft():
    src = "audiotestsrc wave=sine freq=440 volume=0.5 num-buffers=20 samplesperbuffer=2400"
    frames, reader = read_all(src, format="F32LE", rate=48000, channels=1)
    assert (reader.rate, reader.channels) == (48000, 1)
    assert all(f.data.shape == (2400, 1) and f.data.dtype == np.float32 for f in frames)
    signal = np.concatenate([f.data[:, 0] for f in frames])
    assert signal.size == 48000
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(signal.size, 1 / 48000)
    assert freqs[spectrum.argmax()] == pytest.approx(440, abs=1)
    assert np.abs(signal).max() == pytest.approx(0.5, abs=0.01)


def test_known_samples_s16_stereo():
    # a 1 kHz sine at 8 kHz: every sample is known
    src = "audiotestsrc wave=sine freq=1000 volume=1.0 num-buffers=4 samplesperbuffer=800"
    frames, reader = read_all(src, format="S16LE", rate=8000, channels=2)
    assert (reader.rate, reader.channels) == (8000, 2)
    data = np.concatenate([f.data for f in frames])
    assert data.shape == (3200, 2) and data.dtype == np.int16
    np.testing.assert_array_equal(data[:, 0], data[:, 1])  # mono upmixed to both channels
    # audiotestsrc advances its phase before the first sample
    expected = 32767 * np.sin(2 * np.pi * 1000 * np.arange(1, 3201) / 8000)
    assert np.abs(data[:, 0] - expected).max() <= 2


def test_audio_timestamps_are_contiguous():
    src = "audiotestsrc num-buffers=10 samplesperbuffer=441"
    frames, _ = read_all(src, format="S16LE", rate=44100)
    assert len(frames) == 10
    for a, b in zip(frames, frames[1:]):
        assert a.pts + a.duration == pytest.approx(b.pts, abs=1)
    assert frames[0].pts == 0
    assert frames[1].pts == 10_000_000  # 441 samples at 44.1 kHz = 10 ms


@pytest.mark.parametrize("format", ["U8", "S32LE", "F64LE", "S16BE"])
def test_audio_formats_have_their_dtype(format):
    frames, _ = read_all("audiotestsrc num-buffers=2", format=format)
    from gstreamer.caps import AUDIO_FORMATS

    assert frames[0].data.dtype == np.dtype(AUDIO_FORMATS[format])
    assert frames[0].data.ndim == 2


def test_audio_file_matches_ffprobe(tmp_path):
    wav = tmp_path / "tone.wav"
    gst_launch(
        "audiotestsrc num-buffers=25 samplesperbuffer=1000 ! "
        f"audio/x-raw,format=S16LE,rate=16000,channels=2 ! wavenc ! filesink location={wav}"
    )
    entries = "stream=sample_rate,channels,duration_ts"
    out = ffprobe(wav, "-select_streams", "a:0", "-show_entries", entries, "-of", "json")
    probe = json.loads(out)["streams"][0]
    arrays = list(read_frames(wav, format="S16LE"))
    samples = np.concatenate(arrays)
    assert samples.shape == (int(probe["duration_ts"]), int(probe["channels"]))
    assert samples.shape == (25_000, 2)
    with Reader(wav, format="S16LE") as reader:
        reader.read()
        assert reader.rate == int(probe["sample_rate"]) == 16000


def test_audio_of_a_file_with_video_and_audio(tmp_path):
    path = tmp_path / "av.mkv"
    gst_launch(
        f"matroskamux name=m ! filesink location={path} "
        "videotestsrc num-buffers=10 ! video/x-raw,width=64,height=48 ! x264enc ! queue ! m. "
        "audiotestsrc num-buffers=10 samplesperbuffer=4410 ! audioconvert ! vorbisenc ! queue ! m."
    )
    audio, areader = read_all(path, format="F32LE")
    video, vreader = read_all(path, format="RGB")
    assert areader.rate == 44100 and areader.width is None
    assert sum(f.data.shape[0] for f in audio) == pytest.approx(44100, abs=2048)
    assert len(video) == 10 and vreader.width == 64 and vreader.rate is None


def test_video_options_rejected_for_audio():
    with pytest.raises(ValueError):
        Reader("audiotestsrc num-buffers=1", format="S16LE", width=10)
    with pytest.raises(ValueError):
        Reader("videotestsrc num-buffers=1", format="RGB", rate=8000)
    with pytest.raises(CapsError):
        Reader("audiotestsrc num-buffers=1", format="S24LE")


def test_wrong_media_kind_is_an_error_with_a_hint(tmp_path):
    wav = tmp_path / "tone.wav"
    gst_launch(f"audiotestsrc num-buffers=5 ! wavenc ! filesink location={wav}")
    with pytest.raises(PipelineError) as info, Reader(wav, format="RGB", timeout=10) as reader:
        reader.read()
    assert "no video stream" in str(info.value)
    assert "format='S16LE'" in info.value.hint
    video = tmp_path / "video.mkv"
    gst_launch(f"videotestsrc num-buffers=5 ! x264enc ! matroskamux ! filesink location={video}")
    with pytest.raises(PipelineError) as info, Reader(video, format="S16LE") as reader:
        reader.read()
    assert "no audio stream" in str(info.value)
    assert "format='RGB'" in info.value.hint
