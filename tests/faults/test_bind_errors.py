"""A busy port is reported with its address and "in use"; UDP sockets bind the host given."""

import os
import socket

import numpy as np
import pytest

from gstreamer import GstError, PipelineError, Reader, cli
from gstreamer.streaming import MjpegServer, RtspServer, TcpServer, UdpSender, udp_source


@pytest.fixture
def busy_tcp_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def busy_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("server_class", [TcpServer, MjpegServer, RtspServer])
def test_server_on_a_busy_port_says_address_in_use(server_class, busy_tcp_port):
    with pytest.raises(PipelineError) as info, server_class(64, 48, port=busy_tcp_port):
        pass
    assert f"cannot bind 127.0.0.1:{busy_tcp_port}: address already in use" in str(info.value)
    assert "port=0" in info.value.hint


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["tcp", "http", "rtsp"])
def test_cli_serve_on_a_busy_port_says_address_in_use(kind, busy_tcp_port, capsys):
    code = cli.main(["serve", kind, "--port", str(busy_tcp_port), "-n", "5"])
    assert code != 0
    err = capsys.readouterr().err
    assert f"cannot bind 127.0.0.1:{busy_tcp_port}: address already in use" in err
    assert "Could not open resource" not in err.splitlines()[0]


def test_udp_receiver_on_a_busy_port_says_address_in_use(busy_udp_port):
    with pytest.raises(GstError, match=f"cannot bind 127.0.0.1:{busy_udp_port}: address already"):
        Reader(udp_source(busy_udp_port), timeout=5)


def _udp_sockets_of_this_process():
    """Local addresses of this process's UDP sockets, from /proc/net/udp{,6}."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, family in (("/proc/net/udp", 4), ("/proc/net/udp6", 6)):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[9] in inodes:
                    found.append((family, fields[1]))  # hex address:port
    return found


def test_udp_sender_binds_loopback_only(busy_udp_port):
    before = set(_udp_sockets_of_this_process())
    with UdpSender(64, 48, port=busy_udp_port) as sender:
        sender.push(np.zeros((48, 64, 3), np.uint8))
        new = set(_udp_sockets_of_this_process()) - before
    assert new, "the sender has a socket"
    # 127.0.0.1 only: no 0.0.0.0, no ::
    assert {(family, local.split(":")[0]) for family, local in new} == {(4, "0100007F")}


def test_udp_sender_bind_address_follows_the_host():
    assert UdpSender(64, 48, port=5004).bind_address == "127.0.0.1"
    assert UdpSender(64, 48, port=5004, host="::1").bind_address == "::1"
    assert UdpSender(64, 48, port=5004, host="192.0.2.7").bind_address == "0.0.0.0"
    assert UdpSender(64, 48, port=5004, bind_address="127.0.0.1").bind_address == "127.0.0.1"
    with pytest.raises(ValueError):
        UdpSender(64, 48, port=5004, bind_address="1.2.3.4 ! fakesink")
