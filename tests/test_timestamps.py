"""One timestamp rule: the same ``pts`` value gives the same buffer timestamp on every API.

Timestamps given to a push are seconds, whatever the number type (int, float, Fraction,
Decimal, NumPy scalar). The seed's ``GstVideoSink`` keeps the seed's nanoseconds.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from _helpers import wait_for

from gstreamer import AudioWriter, GstVideoSink, MuxWriter, Reader, Writer, _gi
from gstreamer._time import fps_fraction, seed_ns, to_ns
from gstreamer.aio import AsyncWriter
from gstreamer.streaming import MjpegServer, RtspServer, TcpServer, UdpSender, rtsp_source

# increasing, so that encoders behind the servers accept them
VALUES = [0, Fraction(1, 3), 0.5, 1, np.float32(1.25), Decimal("1.5"), np.int64(2)]
EXPECTED = [0, 333_333_333, 500_000_000, 1_000_000_000, 1_250_000_000, 1_500_000_000, 2 * 10**9]

FRAME = np.zeros((48, 64, 3), np.uint8)
SAMPLES = np.zeros((480, 2), np.float32)


def test_to_ns_is_seconds_for_every_number_type():
    assert [to_ns(v) for v in VALUES] == EXPECTED
    assert to_ns(None) is None
    assert to_ns(Fraction(1001, 30000)) == 33_366_667


@pytest.mark.parametrize("bad", ["1.5", True, object()])
def test_to_ns_refuses_what_is_not_a_number(bad):
    with pytest.raises(TypeError, match="seconds"):
        to_ns(bad)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_to_ns_refuses_negative_and_non_finite(bad):
    with pytest.raises(ValueError):
        to_ns(bad)


def test_seed_rule_is_truncated_nanoseconds():
    assert seed_ns(10**9 / 30 * 5) == 166_666_666
    assert seed_ns(0) == 0
    assert seed_ns(None) is None


def test_one_fps_rule():
    assert fps_fraction("30000/1001") == Fraction(30000, 1001)
    assert fps_fraction(29.97) == Fraction(2997, 100)
    assert fps_fraction(30000 / 1001) == Fraction(30000, 1001)
    assert fps_fraction(0) is None
    assert fps_fraction(None) is None
    with pytest.raises(ValueError):
        fps_fraction(-1)
    with pytest.raises(ValueError):
        fps_fraction("thirty")


def pull_all(sink, count):
    """``count`` buffer pts from an appsink (sync=false)."""
    Gst = _gi.Gst()
    got = []
    for _ in range(count):
        sample = sink.emit("try-pull-sample", 20 * Gst.SECOND)
        assert sample is not None, f"only {len(got)} of {count} buffers came out"
        got.append(sample.get_buffer().pts)
    return got


def test_writer_audio_writer_and_mux_writer_follow_the_rule():
    with Writer("appsink name=out sync=false", fps=30) as w:
        for v in VALUES:
            w.write(FRAME, pts=v)
        assert pull_all(w.pipeline.get_by_name("out"), len(VALUES)) == EXPECTED

    with AudioWriter("appsink name=out sync=false", rate=48000) as a:
        for v in VALUES:
            a.write(SAMPLES, pts=v)
        assert pull_all(a.pipeline.get_by_name("out"), len(VALUES)) == EXPECTED

    mux_pipeline = (
        "appsrc name=video ! appsink name=v sync=false "
        "appsrc name=audio ! appsink name=a sync=false"
    )
    with MuxWriter(mux_pipeline, audio=dict(rate=48000, channels=2)) as m:
        for v in VALUES:
            m.write_video(FRAME, pts=v)
            m.write_audio(SAMPLES, pts=v)
        assert pull_all(m.pipeline.get_by_name("v"), len(VALUES)) == EXPECTED
        assert pull_all(m.pipeline.get_by_name("a"), len(VALUES)) == EXPECTED


def test_async_writer_follows_the_rule():
    async def main():
        async with AsyncWriter("appsink name=out sync=false", fps=30) as w:
            for v in VALUES:
                await w.write(FRAME, pts=v)
            assert w.writer is not None
            return pull_all(w.writer.pipeline.get_by_name("out"), len(VALUES))

    assert asyncio.run(main()) == EXPECTED


def test_seed_video_sink_keeps_nanoseconds():
    sink = GstVideoSink("appsrc ! appsink name=out sync=false", width=64, height=48)
    with sink:
        for ns in EXPECTED:
            sink.push(FRAME, pts=ns)
        assert pull_all(sink.get_by_name("out"), len(EXPECTED)) == EXPECTED


class PtsProbe:
    """Records the pts of every buffer leaving an appsrc (a pad probe, no mock)."""

    def __init__(self, appsrc):
        Gst = _gi.Gst()
        self.pts: list[int] = []
        self._lock = threading.Lock()
        appsrc.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self._probe)

    def _probe(self, pad, info):
        with self._lock:
            self.pts.append(info.get_buffer().pts)
        return _gi.Gst().PadProbeReturn.OK

    def wait(self, count):
        wait_for(lambda: len(self.pts) >= count, what=f"{count} buffers at the appsrc")
        return self.pts[:count]


@pytest.mark.e2e
def test_pipeline_servers_follow_the_rule():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        udp_port = receiver.getsockname()[1]
        servers = [
            TcpServer(64, 48, port=0),
            MjpegServer(64, 48, port=0),
            UdpSender(64, 48, port=udp_port),
        ]
        for server in servers:
            with server:
                probe = PtsProbe(server._element("src"))
                for v in VALUES:
                    assert server.push(FRAME, pts=v)
                assert probe.wait(len(VALUES)) == EXPECTED, type(server).__name__


@pytest.mark.e2e
def test_rtsp_server_follows_the_rule():
    with RtspServer(64, 48, port=0) as server:
        stop = threading.Event()

        def watch():
            with Reader(rtsp_source(server.url), timeout=30) as reader:
                while not stop.is_set():
                    reader.read()

        client = threading.Thread(target=watch, daemon=True)
        client.start()
        try:
            # frames are offered until the client's media is set up
            def playing():
                server.push(FRAME)
                return server.playing

            wait_for(playing, timeout=60, what="an RTSP client playing")
            feeder = server._feeder
            assert feeder is not None
            probe = PtsProbe(feeder.appsrc)
            # a live stream: stamp the frames just ahead of the pipeline's running time, and
            # push each one once the previous one left the appsrc (so none is dropped)
            clock = wait_for(feeder.appsrc.get_clock, what="the RTSP media's clock")
            now = clock.get_time() - feeder.appsrc.get_base_time()
            base = now // 10**9 + 1  # whole seconds
            for v, e in zip(VALUES, EXPECTED):
                assert server.push(FRAME, pts=base + v)
                want = base * 10**9 + e
                wait_for(lambda w=want: w in probe.pts, what=f"pts {want} at the RTSP appsrc")
        finally:
            stop.set()
            client.join(40)


def test_a_live_frame_pushed_while_the_pipeline_starts_playing_is_not_stamped_hours_ahead():
    """Going to PLAYING, a pipeline hands its clock to every element, then sets each one's
    base time just before its state change, sinks first. A live frame pushed in between was
    stamped clock time - 0: hours ahead, and the RTSP server's syncing sink waited for it
    for ever (a client got no frame). Here the push happens in that window, deterministically:
    from the sink's own PAUSED -> PLAYING message."""
    from gstreamer._appsrc import AppSrcFeeder
    from gstreamer.pipeline import parse_launch

    Gst = _gi.Gst()
    pipeline = parse_launch(
        "appsrc name=src is-live=true format=time ! appsink name=sink sync=false async=false"
    )
    src, sink = pipeline.get_by_name("src"), pipeline.get_by_name("sink")
    feeder = AppSrcFeeder(
        "video", caps="video/x-raw,format=RGB,width=8,height=8,framerate=30/1", live=True
    )
    feeder.attach(src)
    frame = np.zeros((8, 8, 3), np.uint8)
    window: list[tuple[bool, object]] = []

    def on_message(bus, message, *_):
        if message.type == Gst.MessageType.STATE_CHANGED and message.src == sink and not window:
            _, new, _ = message.parse_state_changed()
            if new == Gst.State.PLAYING:  # the sink plays; appsrc has the clock, not yet played
                window.append((src.get_clock() is not None, src.current_state))
                feeder.push(frame)
        return Gst.BusSyncReply.PASS

    pipeline.get_bus().set_sync_handler(on_message)
    try:
        pipeline.set_state(Gst.State.PLAYING)
        sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
        assert sample is not None
        pts = sample.get_buffer().pts
    finally:
        pipeline.set_state(Gst.State.NULL)
        pipeline.get_bus().set_sync_handler(None)
    assert window == [(True, Gst.State.PAUSED)]  # the push happened in that window
    assert pts < Gst.SECOND, pts / Gst.SECOND
