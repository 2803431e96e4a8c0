"""A TCP client that never reads must not slow the producer or grow its memory."""

import pytest

from gstreamer.streaming import TcpServer

from ._probe import tcp_push_rate, wait_until


def test_slow_client_policy_is_on_the_sink():
    with TcpServer(
        64, 48, port=0, client_soft_limit=1000, client_max_bytes=5000, client_timeout=1.5
    ) as server:
        sink = server._element("tcpsink")
        assert sink.get_property("units-soft-max") == 1000
        assert sink.get_property("units-max") == 5000
        assert sink.get_property("timeout") == 1_500_000_000
        assert sink.get_property("recover-policy").value_nick == "keyframe"
        assert sink.get_property("unit-format").value_nick == "bytes"


@pytest.mark.parametrize(
    "options",
    [
        {"client_soft_limit": 0},
        {"client_soft_limit": 10, "client_max_bytes": 5},
        {"client_timeout": -1},
    ],
)
def test_slow_client_policy_is_validated(options):
    with pytest.raises(ValueError):
        TcpServer(64, 48, port=0, **options)


@pytest.mark.e2e
def test_never_reading_client_is_dropped_and_does_not_slow_the_producer():
    options = {"client_soft_limit": 200_000, "client_max_bytes": 2_000_000, "client_timeout": 2.0}
    base = tcp_push_rate(4, stalled=False, width=320, height=240, **options)
    stalled = tcp_push_rate(6, stalled=True, width=320, height=240, **options)
    assert stalled["clients_at_start"] == 2
    # disconnected by the policy (timeout or units-max); the healthy client stays
    assert stalled["clients_at_end"] == 1
    assert stalled["healthy_bytes"] > 0
    # memory bounded by client_max_bytes (plus noise), not by the client
    assert stalled["rss_end"] - stalled["rss_start"] < 10
    # a busy shared machine makes rates noisy: the 90 % figure is benchmarks/faults.py's
    assert stalled["rate"] > 0.5 * base["rate"], (base, stalled)


@pytest.mark.e2e
def test_a_client_that_reconnects_after_being_dropped_is_served():
    from ._probe import ReadingClient, never_reading_client, pattern

    with TcpServer(160, 120, port=0, client_max_bytes=100_000, client_soft_limit=50_000) as server:
        with never_reading_client("127.0.0.1", server.port):
            assert wait_until(lambda: server.clients == 1, 10)
            frames = [pattern(i, 160, 120) for i in range(16)]
            counter = iter(range(10**9))
            # keep pushing until the never-reading client is disconnected
            assert wait_until(
                lambda: server.push(frames[next(counter) % 16]) and server.clients == 0, 60, 0
            )
        client = ReadingClient("127.0.0.1", server.port)
        try:
            for j in range(120):
                server.push(frames[j % 16])
            assert wait_until(lambda: client.received > 0, 10)
        finally:
            client.close()
