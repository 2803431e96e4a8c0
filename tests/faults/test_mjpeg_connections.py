"""Half-open and idle MJPEG connections cost no threads and are closed after idle_timeout."""

import socket
import subprocess
import time

import numpy as np
import pytest

from gstreamer.streaming import MjpegServer

from ._probe import abandon_server, threads, wait_until


def half_open(port, count, request=b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n"):
    """``count`` connections that send the start of a request and never finish it."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(request)
        socks.append(sock)
    return socks


def _listen_backlog(port):
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True)
    return int(out.stdout.split()[2])  # Send-Q of a listening socket is its backlog


def test_listen_backlog_is_at_least_128():
    with MjpegServer(64, 48, port=0) as server:
        assert _listen_backlog(server.port) >= 128


@pytest.mark.e2e
def test_half_open_connections_cost_no_threads_and_go_away():
    with MjpegServer(64, 48, port=0, idle_timeout=30) as server:
        server.push(np.zeros((48, 64, 3), np.uint8))
        t0 = threads()
        start = time.monotonic()
        socks = half_open(server.port, 150)
        connect_time = time.monotonic() - start
        assert wait_until(lambda: server._loop.connections == 150, 10)
        assert threads() <= t0  # one HTTP thread serves them all
        for sock in socks:
            sock.close()
        # the clients went away: connections closed, threads as at the start
        assert wait_until(lambda: server._loop.connections == 0, 5)
        assert threads() <= t0
        assert connect_time < 10  # backlog: connects are not refused and retried
    assert wait_until(lambda: threads() < t0, 5)  # close(): the server's threads are gone


@pytest.mark.e2e
def test_idle_connections_are_closed_after_idle_timeout():
    with MjpegServer(64, 48, port=0, idle_timeout=1.0) as server:
        server.push(np.zeros((48, 64, 3), np.uint8))
        socks = half_open(server.port, 20, request=b"GET /")
        start = time.monotonic()
        assert wait_until(lambda: server._loop.connections == 0, 10)
        assert time.monotonic() - start < 5
        for sock in socks:
            sock.settimeout(5)
            assert sock.recv(100) == b""  # closed by the server
            sock.close()


@pytest.mark.e2e
def test_a_stalled_stream_client_is_dropped_and_others_keep_getting_frames():
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8)  # big JPEGs
    with MjpegServer(320, 240, port=0, idle_timeout=1.0, quality=95) as server:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        healthy = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        healthy.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        received = 0
        deadline = time.monotonic() + 30
        t_push = []
        while time.monotonic() < deadline:
            t = time.monotonic()
            server.push(frame)
            t_push.append(time.monotonic() - t)
            received += len(healthy.recv(1 << 20))
            if server.clients == 1 and received > 1 << 20:
                break
        assert server.clients == 1  # the stalled one was dropped
        assert received > 1 << 20
        assert max(t_push) < 2.0
        stalled.close()
        healthy.close()


@pytest.mark.e2e
def test_abandoned_mjpeg_server_is_collected():
    t0 = threads()
    port = abandon_server(MjpegServer)
    assert wait_until(lambda: threads() <= t0, 10)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
