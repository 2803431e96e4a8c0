"""Streaming servers checked by real clients: ffprobe/ffmpeg, GStreamer, HTTP, Chromium."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time

import numpy as np
import pytest
from _helpers import feeding, ffprobe_stream, run
from _players import CHROMIUM_HEADLESS

from gstreamer import ClosedError, GstVideoSource, PipelineError, Reader
from gstreamer.pipeline import quote
from gstreamer.streaming import (
    MjpegServer,
    RtspServer,
    TcpServer,
    UdpSender,
    check_host,
    check_mount,
    check_port,
    rtsp_source,
    tcp_source,
    udp_source,
)

pytestmark = pytest.mark.timeout(90)

W, H = 160, 120
RED = (255, 0, 0)
GREEN = (0, 200, 0)
BLUE = (0, 0, 255)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ffprobe_url(url: str, *extra: str, frames: int = 5, timeout: float = 30):
    """ffprobe (independent client) reading ``frames`` frames of the first video stream."""
    cmd = [
        "ffprobe",
        "-v",
        "error",
        "-probesize",
        "32768",
        "-analyzeduration",
        "500000",
        *extra,
        "-count_frames",
        "-read_intervals",
        f"%+#{frames}",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=codec_name,width,height,nb_read_frames",
        "-of",
        "default=noprint_wrappers=1",
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def parse_probe(stdout: str) -> dict[str, str]:
    info: dict[str, str] = {}
    for line in stdout.strip().splitlines():
        key, _, value = line.partition("=")
        info.setdefault(key, value)
    return info


def mean_color(source_description: str, *, skip: int = 3, timeout: float = 20.0):
    """Mean RGB of a frame read through GStreamer (after a few frames to settle)."""
    with GstVideoSource(source_description + " ! appsink", max_buffers_size=4, leaky=True) as src:
        deadline = time.monotonic() + timeout
        got = 0
        frame = None
        while got <= skip and time.monotonic() < deadline:
            frame = src.pop(timeout=0.5)
            if frame is not None:
                got += 1
        assert frame is not None, "no frame received"
        data = np.asarray(frame.data)
    return data.shape, data.reshape(-1, 3).mean(axis=0)


# -- input validation (security) ----------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1 ! fakesink", '127.0.0.1" ! fakesink', "a b", "", "host;rm", "x\n"]
)
def test_hosts_that_would_inject_elements_are_refused(host):
    with pytest.raises(ValueError, match="invalid host"):
        check_host(host)
    with pytest.raises(ValueError, match="invalid host"):
        TcpServer(W, H, host=host, port=0)


@pytest.mark.parametrize("mount", ["stream", "/a b", '/x" ! fakesink', "/../", "/a//b", "/"])
def test_bad_mounts_are_refused(mount):
    with pytest.raises(ValueError, match="invalid mount"):
        check_mount(mount)


def test_valid_values_pass():
    assert check_host("127.0.0.1") == "127.0.0.1"
    assert check_host("::1") == "::1"
    assert check_host("camera-1.local") == "camera-1.local"
    assert check_mount("/cam/1.live") == "/cam/1.live"
    assert check_port(0) == 0
    with pytest.raises(ValueError):
        check_port(70000)
    with pytest.raises(ValueError):
        check_port(True)


def test_rtsp_source_keeps_user_values_inside_their_properties():
    from gstreamer import _gi
    from gstreamer.pipeline import iterate, parse_launch

    url = 'rtsp://h:1/s" ! fakesink name=evil ! fakesink'
    part = rtsp_source(url, user="u ! identity name=evil2", password='p"w !')
    pipeline = parse_launch(part + " ! fakesink")
    try:
        Gst = _gi.Gst()
        names = [e.get_factory().get_name() for e in iterate(pipeline.iterate_elements())]
        assert sorted(names) == sorted(
            ["rtspsrc", "decodebin", "videoconvert", "capsfilter", "fakesink"]
        )
        src = next(
            e for e in iterate(pipeline.iterate_elements()) if e.get_name().startswith("rtspsrc")
        )
        assert src.get_property("location") == url
        assert src.get_property("user-id") == "u ! identity name=evil2"
        assert src.get_property("user-pw") == 'p"w !'
    finally:
        pipeline.set_state(Gst.State.NULL)


# -- RTSP ----------------------------------------------------------------------------------


@pytest.fixture
def rtsp_server():
    server = RtspServer(W, H, port=0)
    server.start()
    try:
        yield server
    finally:
        server.close()


def ffmpeg_frames_cmd(url: str, frames: int = 5, *extra: str) -> list[str]:
    """ffmpeg decoding ``frames`` frames and printing one checksum line per frame."""
    return [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        *extra,
        "-i",
        url,
        "-frames:v",
        str(frames),
        "-f",
        "framemd5",
        "-",
    ]


def decoded_frames(stdout: str) -> int:
    return sum(1 for line in stdout.splitlines() if line and not line.startswith("#"))


@pytest.mark.e2e
def test_rtsp_serves_h264_to_several_clients_at_once(rtsp_server):
    assert rtsp_server.url.startswith("rtsp://127.0.0.1:")
    assert rtsp_server.port > 0
    with feeding(rtsp_server, RED):
        procs = [
            subprocess.Popen(
                ffmpeg_frames_cmd(rtsp_server.url, 5, "-rtsp_transport", "tcp"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outs = [(p, *p.communicate(timeout=40)) for p in procs]
        probe = ffprobe_url(rtsp_server.url, "-rtsp_transport", "tcp")
    for proc, out, err in outs:
        assert proc.returncode == 0, err
        assert decoded_frames(out) == 5
    assert probe.returncode == 0, probe.stderr
    info = parse_probe(probe.stdout)
    assert info["codec_name"] == "h264"
    assert (info["width"], info["height"]) == (str(W), str(H))
    assert rtsp_server.frames_written > 0


@pytest.mark.e2e
def test_rtspsrc_reads_pushed_frames_into_gstvideosource(rtsp_server):
    with feeding(rtsp_server, BLUE):
        shape, mean = mean_color(rtsp_source(rtsp_server.url))
    assert shape == (H, W, 3)
    assert mean[2] > 200 and mean[0] < 40 and mean[1] < 40, mean


@pytest.mark.e2e
@pytest.mark.parametrize("via", ["rtspsrc", "uridecodebin"])
def test_rtsp_stream_read_into_our_reader(rtsp_server, via):
    if via == "rtspsrc":
        source = rtsp_source(rtsp_server.url)
    else:
        source = f"uridecodebin uri={quote(rtsp_server.url)}"
    with feeding(rtsp_server, BLUE), Reader(source, timeout=20, latest_only=True) as reader:
        frames = [reader.read() for _ in range(4)]
    assert all(f is not None for f in frames)
    last = frames[-1]
    assert last.data.shape == (H, W, 3)
    mean = last.data.reshape(-1, 3).mean(axis=0)
    assert mean[2] > 200 and mean[0] < 40 and mean[1] < 40, mean
    assert last.pts is not None


@pytest.mark.e2e
def test_rtsp_password_is_required_and_checked():
    server = RtspServer(W, H, port=0, mount="/secure/cam", username="alice", password="s3cret")
    server.start()
    try:
        good = server.url.replace("rtsp://", "rtsp://alice:s3cret@")
        bad = server.url.replace("rtsp://", "rtsp://alice:wrong@")
        with feeding(server, GREEN):
            ok = ffprobe_url(good, "-rtsp_transport", "tcp")
            refused = ffprobe_url(bad, "-rtsp_transport", "tcp")
            anonymous = ffprobe_url(server.url, "-rtsp_transport", "tcp")
            # GStreamer's own client with the right credentials
            shape, mean = mean_color(rtsp_source(server.url, user="alice", password="s3cret"))
    finally:
        server.close()
    assert ok.returncode == 0, ok.stderr
    assert parse_probe(ok.stdout)["codec_name"] == "h264"
    assert refused.returncode != 0
    assert "401" in refused.stderr
    assert anonymous.returncode != 0
    assert "401" in anonymous.stderr
    assert shape == (H, W, 3) and mean[1] > 150


@pytest.mark.e2e
def test_rtsp_client_that_disconnects_mid_stream_does_not_stop_the_server(rtsp_server):
    with feeding(rtsp_server, RED) as errors:
        viewer = subprocess.Popen(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-rtsp_transport",
                "tcp",
                "-i",
                rtsp_server.url,
                "-f",
                "null",
                "-",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 20
            while not rtsp_server.playing and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # frames are flowing to the viewer
            assert viewer.poll() is None, viewer.stderr.read() if viewer.stderr else ""
        finally:
            viewer.kill()  # vanishes without a TEARDOWN
            viewer.wait(10)
        time.sleep(0.5)
        after = ffprobe_url(rtsp_server.url, "-rtsp_transport", "tcp")
        assert not errors
    assert after.returncode == 0, after.stderr
    assert parse_probe(after.stdout)["codec_name"] == "h264"


class _FailingRtspServer(RtspServer):
    """The real server whose media pipeline has an element that errors after 5 buffers."""

    def _launch(self) -> str:
        return (
            super()
            ._launch()
            .replace("! videoconvert !", "! identity error-after=5 ! videoconvert !")
        )


@pytest.mark.e2e
@pytest.mark.timeout(150)
def test_rtsp_media_pipeline_error_is_raised_by_push():
    with _FailingRtspServer(W, H, port=0) as server:
        client = subprocess.Popen(
            ffmpeg_frames_cmd(server.url, 50, "-rtsp_transport", "tcp"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            frame = np.zeros((H, W, 3), np.uint8)
            deadline = time.monotonic() + 90  # the client may be slow to connect when busy
            with pytest.raises(PipelineError) as info:
                while time.monotonic() < deadline:
                    server.push(frame)
                    time.sleep(1 / 30)
            assert info.value.element is not None and "identity" in info.value.element
        finally:
            client.kill()
            client.wait()


@pytest.mark.e2e
def test_rtsp_push_without_clients_drops_and_close_is_idempotent():
    server = RtspServer(W, H, port=0)
    with pytest.raises(Exception, match="not started"):
        server.push(np.zeros((H, W, 3), np.uint8))
    server.start()
    assert server.push(np.zeros((H, W, 3), np.uint8)) is False
    assert server.dropped == 1
    with pytest.raises(ValueError):
        server.push(np.zeros((H + 1, W, 3), np.uint8))
    server.close()
    server.close()
    with pytest.raises(ClosedError):
        server.push(np.zeros((H, W, 3), np.uint8))


# -- TCP -----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_tcp_mpegts_clients_come_and_go_without_stopping_the_producer():
    with TcpServer(W, H, port=0) as server, feeding(server, GREEN) as errors:
        assert server.url == f"tcp://127.0.0.1:{server.port}"
        first = ffprobe_url(server.url)
        assert first.returncode == 0, first.stderr
        # a client that reads for a moment and is killed
        viewer = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", server.url, "-f", "null", "-"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.5)
        viewer.kill()
        viewer.wait(10)
        second = ffprobe_url(server.url)
        shape, mean = mean_color(tcp_source("127.0.0.1", server.port))
        assert not errors
    for probe in (first, second):
        assert probe.returncode == 0, probe.stderr
        info = parse_probe(probe.stdout)
        assert info["codec_name"] == "h264"
        assert (info["width"], info["height"]) == (str(W), str(H))
    assert shape == (H, W, 3)
    assert mean[1] > 150 and mean[0] < 60 and mean[2] < 60, mean


@pytest.mark.e2e
def test_tcp_matroska_container():
    with TcpServer(W, H, port=0, container="matroska") as server, feeding(server, RED):
        probe = ffprobe_url(server.url)
    assert probe.returncode == 0, probe.stderr
    assert parse_probe(probe.stdout)["codec_name"] == "h264"


# -- HTTP MJPEG ----------------------------------------------------------------------------


def _get(port: int, path: str, *, parts: int = 0):
    """GET ``path``; with ``parts``, read a multipart stream until that many parts arrived."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    if not parts:
        body = resp.read()
    else:
        body = b""
        while body.count(b"--gstreamerframe\r\n") < parts + 1 and len(body) < 1 << 22:
            body += resp.read1(65536)
    conn.close()
    return resp, body


@pytest.mark.e2e
def test_mjpeg_page_stream_and_snapshot():
    with MjpegServer(W, H, port=0) as server, feeding(server, RED) as errors:
        assert server.url == f"http://127.0.0.1:{server.port}/"
        resp, page = _get(server.port, "/")
        assert resp.status == 200
        assert resp.getheader("Content-Type").startswith("text/html")
        assert b'<img src="/stream.mjpg"' in page

        resp, chunk = _get(server.port, "/stream.mjpg", parts=3)
        assert resp.status == 200
        assert resp.getheader("Content-Type") == (
            "multipart/x-mixed-replace; boundary=gstreamerframe"
        )
        assert chunk.count(b"--gstreamerframe\r\nContent-Type: image/jpeg") >= 2
        assert chunk.count(b"\xff\xd8\xff") >= 2  # JPEG start markers

        resp, jpeg = _get(server.port, "/snapshot.jpg")
        assert resp.status == 200 and jpeg.startswith(b"\xff\xd8")
        resp, _ = _get(server.port, "/nothing")
        assert resp.status == 404
        assert not errors
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "snap.jpg")
        with open(path, "wb") as fh:
            fh.write(jpeg)
        shape, mean = mean_color(
            f"filesrc location={quote(path)} ! jpegdec ! videoconvert ! video/x-raw,format=RGB",
            skip=0,
        )
    assert shape == (H, W, 3)
    assert mean[0] > 200 and mean[1] < 40 and mean[2] < 40


@pytest.mark.e2e
def test_mjpeg_client_disconnect_mid_stream_keeps_serving():
    with MjpegServer(W, H, port=0) as server, feeding(server, GREEN) as errors:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
            assert b"multipart/x-mixed-replace" in sock.recv(4096)
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            sock.close()  # reset, mid-stream
        time.sleep(0.5)
        before = server.frames_encoded
        resp, jpeg = _get(server.port, "/snapshot.jpg")
        server.wait_frames(before + 5, timeout=10)
        assert not errors
    assert resp.status == 200 and jpeg.startswith(b"\xff\xd8")


@pytest.mark.e2e
def test_mjpeg_port_in_use_is_a_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        server = MjpegServer(W, H, port=port)
        with pytest.raises(PipelineError, match="address already in use"):
            server.start()
        server.close()


def _png_mean(png: str):
    _, mean = mean_color(
        f"filesrc location={quote(png)} ! pngdec ! videoconvert ! video/x-raw,format=RGB", skip=0
    )
    return mean


@pytest.mark.e2e
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs /usr/bin/chromium")
@pytest.mark.parametrize("color", [GREEN, BLUE])
def test_headless_chromium_shows_the_mjpeg_frames(tmp_path, color):
    png = tmp_path / "shot.png"
    with MjpegServer(320, 240, port=0) as server, feeding(server, color, fps=20):
        server.wait_frames(3)
        result = subprocess.run(
            [
                shutil.which("chromium"),
                *CHROMIUM_HEADLESS,
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--screenshot={png}",
                "--window-size=320,240",
                "--timeout=3000",
                server.url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert png.exists(), result.stderr[-2000:]
    mean = _png_mean(str(png))
    np.testing.assert_allclose(mean, color, atol=25)


# -- UDP / RTP -----------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("codec", ["h264", "jpeg"])
def test_udp_rtp_send_and_receive_into_a_reader(codec):

    port = free_port(socket.SOCK_DGRAM)
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(Reader(udp_source(port, codec=codec), timeout=15))
        sender = stack.enter_context(UdpSender(W, H, port=port, codec=codec))
        stack.enter_context(feeding(sender, BLUE))
        assert sender.url == f"rtp://127.0.0.1:{port}"
        assert sender.source() == udp_source(port, codec=codec)
        frames = [reader.read() for _ in range(5)]
    assert all(f is not None for f in frames)
    data = np.asarray(frames[-1].data)
    assert data.shape == (H, W, 3)
    mean = data.reshape(-1, 3).mean(axis=0)
    assert mean[2] > 200 and mean[0] < 40 and mean[1] < 40, mean


def test_udp_sender_needs_a_destination_port():
    with pytest.raises(ValueError):
        UdpSender(W, H, port=0)
    with pytest.raises(ValueError, match="invalid host"):
        UdpSender(W, H, port=5004, host="127.0.0.1 ! fakesink")


@pytest.mark.e2e
def test_rtsp_server_uses_a_running_gstcontext():
    from gstreamer import GstContext

    with GstContext() as context:
        with RtspServer(W, H, port=0) as server, feeding(server, GREEN):
            assert server._context is None  # no second main loop
            shape, mean = mean_color(rtsp_source(server.url))
        assert context.is_running
    assert shape == (H, W, 3) and mean[1] > 150


@pytest.mark.e2e
def test_closing_one_rtsp_server_does_not_stop_another():
    """Each server without a GstContext runs its own loop: the second one did not, it
    borrowed the first one's, and stopped accepting clients when the first was closed."""
    first = RtspServer(W, H, port=0)
    first.start()
    with RtspServer(W, H, port=0) as second:
        first.close()
        with feeding(second, GREEN):
            probe = ffprobe_url(second.url, "-rtsp_transport", "tcp", frames=3)
    assert probe.returncode == 0, probe.stderr
    assert parse_probe(probe.stdout)["codec_name"] == "h264"


@pytest.mark.e2e
def test_tcp_server_counts_connected_clients():
    with TcpServer(W, H, port=0) as server, feeding(server, RED):
        assert server.clients == 0
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            assert sock.recv(188)  # MPEG-TS packets arrive
            deadline = time.monotonic() + 5
            while server.clients != 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.clients == 1


@pytest.mark.e2e
@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_mjpeg_on_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("::1 is not configured")
    with MjpegServer(W, H, port=0, host="::1") as server, feeding(server, RED):
        assert server.url == f"http://[::1]:{server.port}/"
        conn = http.client.HTTPConnection("::1", server.port, timeout=10)
        conn.request("GET", "/snapshot.jpg")
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
    assert resp.status == 200 and body.startswith(b"\xff\xd8")


EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "streaming")


@pytest.mark.e2e
def test_examples_record_and_udp_run(tmp_path):
    import sys

    out = tmp_path / "rec.mp4"
    record = run([sys.executable, os.path.join(EXAMPLES, "record.py"), "-o", str(out), "-n", "15"])
    assert record.returncode == 0, record.stderr
    assert ffprobe_stream(out, "nb_read_frames", "codec_name") == {
        "codec_name": "h264",
        "nb_read_frames": "15",
    }
    udp_example = os.path.join(EXAMPLES, "udp_send_receive.py")
    port = str(free_port(socket.SOCK_DGRAM))
    udp = run([sys.executable, udp_example, "--port", port, "-n", "3"])
    assert udp.returncode == 0, udp.stderr
    assert udp.stdout.count("received (240, 320, 3)") == 3


@pytest.mark.e2e
@pytest.mark.parametrize("cls", [RtspServer, TcpServer])
def test_port_in_use_is_a_pipeline_error(cls):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        server = cls(W, H, port=busy.getsockname()[1])
        with pytest.raises(PipelineError):
            server.start()
        server.close()
        assert server.closed


@pytest.mark.e2e
@pytest.mark.parametrize("cls", [RtspServer, TcpServer, MjpegServer])
def test_close_releases_the_port(cls):
    server = cls(W, H, port=0)
    server.start()
    port = server.port
    assert port > 0
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # listening while open
    server.close()
    server.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(ClosedError):
        server.start()
