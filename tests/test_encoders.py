import logging

import numpy as np
import pytest
from _helpers import ffprobe_stream

from gstreamer import CapsError, encoders
from gstreamer.encoders import (
    EncoderChoice,
    choose_encoder,
    element_name,
    encoder_works,
    file_format,
    output_media_type,
    parser_for,
)
from gstreamer.writer import Writer


@pytest.fixture
def fresh_cache():
    encoders._reset_cache()
    yield
    encoders._reset_cache()


def test_auto_picks_x264_without_hardware(fresh_cache, caplog):
    with caplog.at_level(logging.INFO, logger="gstreamer.encoders"):
        choice = choose_encoder("h264")
    assert choice == EncoderChoice(
        "x264enc",
        "x264enc speed-preset=ultrafast tune=zerolatency pass=qual quantizer=23 bitrate=2048000",
        False,
        "video/x-raw,format=I420",
    )
    assert any("x264enc" in r.getMessage() and "software" in r.getMessage() for r in caplog.records)
    # cached: the same object comes back
    assert choose_encoder("h264") is choice


def test_writer_reports_auto_choice(tmp_path):
    out = tmp_path / "a.mp4"
    with Writer(out, fps=10) as w:
        w.write(np.zeros((32, 32, 3), np.uint8))
    assert w.encoder == "x264enc"
    assert w.encoder_choice is not None and not w.encoder_choice.hardware
    assert ffprobe_stream(out, "codec_name")["codec_name"] == "h264"


def test_given_encoder_is_used_verbatim(tmp_path):
    out = tmp_path / "q.mkv"
    enc = "x264enc qp-max=0 pass=quant quantizer=0 speed-preset=ultrafast"
    with Writer(out, encoder=enc, fps=10) as w:
        for i in range(3):
            w.write(np.full((32, 48, 3), i * 50, np.uint8))
    assert enc in w.pipeline.command
    assert "format=I420" not in w.pipeline.command  # the auto input caps are not added
    assert w.encoder == "x264enc"
    info = ffprobe_stream(out, "codec_name", "nb_read_frames")
    assert info == {"codec_name": "h264", "nb_read_frames": "3"}


def test_hardware_candidate_that_fails_a_test_encode_is_skipped(fresh_cache, monkeypatch):
    # jpegdec is installed but cannot take raw video: the one-frame encode fails
    monkeypatch.setitem(encoders.HARDWARE_ENCODERS, "h264", ("no_such_enc", "jpegdec", "x264enc"))
    choice = choose_encoder("h264")
    assert (choice.name, choice.hardware) == ("x264enc", True)
    assert choose_encoder("h264", hardware=False).name == "x264enc"
    assert choose_encoder("h264", hardware=False).hardware is False


def test_encoder_works():
    assert encoder_works("x264enc speed-preset=ultrafast")
    assert not encoder_works("jpegdec")
    assert not encoder_works("no_such_encoder_element")
    assert not encoder_works("identity error-after=1")


def test_unknown_codec():
    with pytest.raises(CapsError, match="unknown codec"):
        choose_encoder("nope")


@pytest.mark.parametrize(
    ("encoder", "media", "parser"),
    [
        ("x264enc tune=zerolatency", "video/x-h264", "h264parse"),
        ("x265enc", "video/x-h265", "h265parse"),
        ("avenc_ffv1", "video/x-ffv", ""),
        ("vp8enc", "video/x-vp8", ""),
        ("avenc_aac", "audio/mpeg", "aacparse"),
        ("lamemp3enc", "audio/mpeg", "mpegaudioparse"),
        ("vorbisenc", "audio/x-vorbis", ""),
    ],
)
def test_parser_for(encoder, media, parser):
    assert output_media_type(encoder) == media
    assert parser_for(encoder) == parser


def test_file_formats_and_element_name():
    assert file_format("a/b/C.MP4").muxer == "mp4mux"
    assert file_format("x.webm").codec == "vp8"
    assert file_format("x.wav").kind == "audio"
    assert file_format("x.unknown") is None
    assert element_name("x264enc a=1 ! h264parse") == "x264enc"
    assert element_name("video/x-raw,format=I420 ! openh264enc") == "openh264enc"
