"""Live sources that heal: reconnect, stats and ConnectionLostError, against real servers
in other processes (killed with SIGKILL and restarted)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _helpers import in_thread
from _servers import ServerProcess, free_port

import gstreamer
from gstreamer import ConnectionLostError, PipelineError, Reader, Reconnect
from gstreamer.live import ReaderStats, live_source
from gstreamer.streaming import rtsp_source, tcp_source, udp_source

ROOT = Path(__file__).resolve().parents[1]


def source_for(kind: str, port: int) -> str:
    if kind == "srt":  # a URI: uridecodebin picks srtsrc (caller) for the srtsink listener
        return f"srt://127.0.0.1:{port}"
    if kind == "http":  # a URI: Motion JPEG over HTTP from MjpegServer
        return f"http://127.0.0.1:{port}/stream.mjpg"
    if kind == "rtsp":
        return rtsp_source(f"rtsp://127.0.0.1:{port}/stream")
    if kind == "tcp":
        return tcp_source("127.0.0.1", port)
    return udp_source(port)


def port_for(kind: str) -> int:
    # SRT runs over UDP
    return free_port(socket.SOCK_DGRAM if kind in ("udp", "srt") else socket.SOCK_STREAM)


# -- policy and classification (fast) ------------------------------------------------------


def test_reconnect_schedule():
    policy = Reconnect(backoff=1.0, max_backoff=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.0, 1.0, 2.0, 3.0, 3.0]
    with pytest.raises(ValueError):
        Reconnect(attempts=0)
    with pytest.raises(ValueError):
        Reconnect(stall=0)


def test_connection_lost_error_is_a_pipeline_error():
    assert issubclass(ConnectionLostError, PipelineError)
    assert issubclass(ConnectionLostError, gstreamer.GstError)


@pytest.mark.parametrize(
    ("where", "value", "reconnect", "what", "eos_is_loss"),
    [
        ("uri", "rtsp://cam/stream", False, "rtsp", True),
        ("uri", "srt://127.0.0.1:9000", False, "srt", True),
        ("uri", "http://host/a.mp4", False, "http", False),
        ("uri", "https://host/live", True, "https", True),
        ("fragment", udp_source(5000), False, "udpsrc", True),
        ("fragment", tcp_source("127.0.0.1", 5000), False, "tcpclientsrc", True),
        ("fragment", rtsp_source("rtsp://127.0.0.1/x"), False, "rtspsrc", True),
        ("fragment", "videotestsrc is-live=true", False, None, None),
        ("file", "/tmp/a.mp4", False, None, None),
    ],
)
def test_live_sources_are_recognised(where, value, reconnect, what, eos_is_loss):
    live = live_source(where, value, reconnect)
    if what is None:
        assert live is None
    else:
        assert (live.what, live.eos_is_loss) == (what, eos_is_loss)


def test_reconnect_is_refused_for_files_and_test_sources(tmp_path):
    with pytest.raises(ValueError, match="live sources"):
        Reader("videotestsrc num-buffers=3", reconnect=True)


def test_stats_of_an_ordinary_reader():
    with Reader("videotestsrc num-buffers=5", format="GRAY8") as reader:
        before = reader.stats  # frames already queued in the appsink count as not read
        assert before == ReaderStats(0, before.dropped, 0, None) and 0 <= before.dropped <= 5
        assert sum(1 for _ in reader) == 5
        stats = reader.stats
    assert (stats.frames, stats.reconnects) == (5, 0)
    assert 0 <= stats.last_frame_age < 60


UNWINDER_CHILD = """
import ctypes
from gstreamer import _gi
_gi.Gst()  # loads libgstreamer, and with it libunwind
class Info(ctypes.Structure):
    _fields_ = [("file", ctypes.c_char_p), ("base", ctypes.c_void_p),
                ("name", ctypes.c_char_p), ("addr", ctypes.c_void_p)]
process = ctypes.CDLL(None)
info = Info()
process.dladdr(ctypes.cast(process._Unwind_Resume, ctypes.c_void_p), ctypes.byref(info))
maps = open("/proc/self/maps").read()
print(info.file.decode(), "libunwind" in maps)
"""


@pytest.mark.e2e  # a fresh interpreter in a child process
def test_cxx_exceptions_are_unwound_by_gcc_not_libunwind():
    """libsrt's C++ exceptions crashed the process (SIGSEGV) when libgstreamer's libunwind
    took the place of GCC's unwinder: the process's ``_Unwind_Resume`` is GCC's."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run(
        [sys.executable, "-c", UNWINDER_CHILD], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert os.path.basename(out[0]).startswith("libgcc_s.so"), out
    print("libunwind loaded too:", out[1])


# -- against servers in other processes -----------------------------------------------------


def reconnect_policy(kind: str) -> Reconnect:
    # UDP has no connection to lose: a sender that stops is seen as a stall
    if kind == "udp":
        return Reconnect(stall=1.0)
    # SRT notices a silent peer after 5 s (its peer idle timeout): a stall is sooner; 2 s
    # leave a new connection time for its first keyframe (one a second)
    if kind == "srt":
        return Reconnect(stall=2.0)
    return Reconnect()


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["rtsp", "tcp", "udp", "srt", "http"])
def test_reader_heals_when_the_server_is_killed_and_restarted(kind, caplog):
    caplog.set_level(logging.INFO, logger="gstreamer.live")  # the timeline, if it fails
    # the read timeout covers the outage: 2 s down, the server's start (seconds on a busy
    # machine: a new Python process) and the next attempt
    cycles, timeout = 5, 20.0
    port = port_for(kind)
    server = ServerProcess(kind, port)
    server.start()
    restarts: list[float] = []
    done = threading.Event()
    failures: list[BaseException] = []
    reader = Reader(source_for(kind, port), reconnect=reconnect_policy(kind), timeout=timeout)
    frame_times: list[float] = []
    read_durations: list[float] = []

    def control():
        try:
            for _ in range(cycles):
                target = len(frame_times) + 15
                deadline = time.monotonic() + 60
                while len(frame_times) < target and time.monotonic() < deadline:
                    time.sleep(0.05)
                server.kill()
                logging.getLogger("gstreamer.live").info("test: server killed")
                time.sleep(2.0)
                server.start()
                restarts.append(time.monotonic())
                logging.getLogger("gstreamer.live").info("test: server restarted")
            target = len(frame_times) + 15
            deadline = time.monotonic() + 60
            while len(frame_times) < target and time.monotonic() < deadline:
                time.sleep(0.05)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=control, daemon=True)
    try:
        first = reader.read(timeout=30)  # the first connection may be slow on a busy machine
        assert first is not None
        thread.start()
        while not done.is_set():
            start = time.monotonic()
            frame = reader.read()  # no exception while the server comes and goes
            read_durations.append(time.monotonic() - start)
            assert frame is not None
            frame_times.append(time.monotonic())
        stats = reader.stats
    finally:
        done.set()
        thread.join(60)
        reader.close()
        server.kill()
    assert not failures, failures
    assert len(restarts) == cycles
    assert max(read_durations) <= timeout + 0.5
    gaps = [min((t for t in frame_times if t >= r), default=r) - r for r in restarts]
    print(f"{kind}: frames back {[round(g, 2) for g in gaps]} s after the restarts")
    for restart in restarts:
        back = [t for t in frame_times if t >= restart]
        assert back, f"no frame after the restart at {restart}"
        # the 3 s target is measured (benchmarks/reconnect_soak.py, and this test on a normally
        # loaded machine); the assertion only allows for a machine busy with other work
        assert back[0] - restart <= 15.0, f"frames back {back[0] - restart:.2f} s after restart"
    if kind == "udp":
        # no connection to lose: a gap of more than stall= (1 s) on a very busy machine is
        # a stall too, and rebuilds the pipeline once more
        assert cycles <= stats.reconnects <= cycles + 2
    else:
        assert stats.reconnects == cycles
    assert stats.frames == len(frame_times) + 1
    assert stats.last_frame_age < timeout


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["rtsp", "tcp", "udp", "srt", "http"])
def test_connection_lost_error_when_the_attempts_run_out(kind):
    port = port_for(kind)
    timeout = 10.0
    # SRT: a new connection needs a moment for its first keyframe (see reconnect_policy)
    policy = Reconnect(attempts=2, backoff=1.0, stall=2.0 if kind == "srt" else 1.0)
    with ServerProcess(kind, port) as server:
        reader = Reader(source_for(kind, port), reconnect=policy, timeout=timeout)
        try:
            assert reader.read(timeout=30) is not None
            server.kill()
            killed = time.monotonic()
            with pytest.raises(ConnectionLostError) as info:
                while True:
                    reader.read()
            elapsed = time.monotonic() - killed
            with pytest.raises(ConnectionLostError):  # and again at every later read
                reader.read()
        finally:
            reader.close()
    assert info.value.attempts == 2
    print(f"{kind}: ConnectionLostError {elapsed:.2f} s after the kill")
    # udp: a stall (1 s) before each attempt counts as well
    allowed = policy.attempts * policy.backoff + timeout
    assert elapsed <= allowed, f"{elapsed:.2f} s > {allowed} s"


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["rtsp", "tcp", "srt", "http"])
def test_without_reconnect_a_lost_server_raises_connection_lost(kind):
    port = port_for(kind)
    with ServerProcess(kind, port) as server:
        reader = Reader(source_for(kind, port), timeout=10.0)
        try:
            assert reader.read(timeout=30) is not None
            server.kill()
            with pytest.raises(ConnectionLostError):
                while True:
                    frame = reader.read()
                    assert frame is not None, "a lost live source read as a clean end"
        finally:
            reader.close()


@pytest.mark.e2e
def test_reconnect_soak_short():
    """The short version of benchmarks/reconnect_soak.py: threads, fds and RSS stay flat."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "reconnect_soak.py"),
            "--cycles",
            "10",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["reconnects"] >= 10, result
    assert result["threads_delta"] == 0, result
    assert abs(result["fds_delta"]) <= 2, result
    assert result["rss_delta_mb"] < 10, result


def test_close_from_another_thread_ends_a_reconnecting_read():
    port = free_port()  # nobody listens: every attempt fails
    reader = Reader(tcp_source("127.0.0.1", port), reconnect=Reconnect(backoff=0.2), timeout=30)
    thread, errors = in_thread(reader.read)
    time.sleep(0.5)
    start = time.monotonic()
    reader.close()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - start < 5
    assert len(errors) == 1 and isinstance(errors[0], gstreamer.ClosedError), errors
    assert reader.pipeline is None


def test_read_timeout_while_the_source_is_away():
    port = free_port()
    policy = Reconnect(attempts=None, backoff=0.2, max_backoff=0.2)
    with Reader(tcp_source("127.0.0.1", port), reconnect=policy, timeout=10) as reader:
        start = time.monotonic()
        with pytest.raises(gstreamer.TimeoutError, match=r"reconnecting|no frame"):
            reader.read(timeout=0.3)
        assert time.monotonic() - start < 0.3 + 0.5


@pytest.mark.e2e
def test_a_server_that_comes_up_later_is_picked_up():
    port = free_port()
    reader = Reader(tcp_source("127.0.0.1", port), reconnect=Reconnect(backoff=0.5), timeout=30)
    try:
        with ServerProcess("tcp", port):
            frame = reader.read(timeout=60)
            assert frame is not None and frame.data.shape == (120, 160, 3)
            assert reader.stats.reconnects == 1
    finally:
        reader.close()


@pytest.mark.e2e
def test_rtsp_uri_reconnects_through_uridecodebin():
    port = free_port()
    server = ServerProcess("rtsp", port)
    url = server.start()
    reader = Reader(url, reconnect=Reconnect(), timeout=20)
    try:
        assert reader.read(timeout=30) is not None
        server.kill()
        server.start()
        deadline = time.monotonic() + 60
        while reader.stats.reconnects < 1 and time.monotonic() < deadline:
            assert reader.read() is not None
        assert reader.stats.reconnects == 1
    finally:
        reader.close()
        server.kill()


@pytest.mark.e2e
def test_closing_a_healing_reader_whose_server_just_died_does_not_raise():
    """A connection lost while a reconnecting Reader closes is not an error of the close:
    the Reader would only have reconnected (rtspsrc said "Could not send message" here)."""
    server = ServerProcess("rtsp", free_port())
    url = server.start()
    try:
        for _ in range(3):
            reader = Reader(url, reconnect=Reconnect(), timeout=20)
            assert reader.read(timeout=30) is not None
            server.kill()
            reader.close()  # must not raise
            assert reader.closed
            server.start()
    finally:
        server.kill()
