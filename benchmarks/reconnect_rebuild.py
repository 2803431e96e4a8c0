"""What a reconnect spends rebuilding the pipeline, against the time to the first frame.

Usage::

    .venv/bin/python benchmarks/reconnect_rebuild.py [--rounds 8] [--save]

A server of each kind (``tests/_servers.py``: RTSP, TCP/MPEG-TS, SRT, MJPEG over HTTP) runs
in another process and stays up; a ``Reader(..., reconnect=True)`` reads a frame, then
``--rounds`` times does what a reconnect does (the Healer's hooks: stop the pipeline, build
and start a new one) and waits for the first frame. It prints the medians of the three
steps. The question it answers: would rebuilding only the source part (keeping converter
and appsink) make reconnects noticeably faster? Only the non-source share of "teardown" and
"build + start" could be saved. ``--save`` writes ``benchmarks/results/reconnect_rebuild.md``.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import time

from _common import parser_for, publish, use_test_helpers

use_test_helpers()  # the server process helper


def measure(kind: str, rounds: int) -> tuple[float, float, float, int]:
    """Medians in ms of (teardown, build + start, first frame after the start), and the
    rebuilds that gave no frame within 10 s (done again; the Healer would see a stall)."""
    from _servers import ServerProcess, free_port

    from gstreamer import Reader, Reconnect
    from gstreamer.streaming import rtsp_source, tcp_source

    port = free_port(socket.SOCK_DGRAM if kind == "srt" else socket.SOCK_STREAM)
    with ServerProcess(kind, port) as server:
        if kind == "tcp":
            source = tcp_source("127.0.0.1", port)
        elif kind == "rtsp":
            source = rtsp_source(server.url)
        else:
            source = server.url
        reader = Reader(source, reconnect=Reconnect(), timeout=20)
        try:
            assert reader.read(timeout=30) is not None
            stops, starts, firsts = [], [], []
            failed = 0
            while len(firsts) < rounds and failed < rounds:
                t0 = time.perf_counter()
                reader._stop(raise_errors=False)  # the Healer's hooks
                t1 = time.perf_counter()
                reader._open()
                t2 = time.perf_counter()
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    puller = reader._puller
                    if puller is not None and puller.pull(0.05) is not None:
                        break
                else:
                    failed += 1
                    continue
                t3 = time.perf_counter()
                stops.append(t1 - t0)
                starts.append(t2 - t1)
                firsts.append(t3 - t2)
        finally:
            reader.close()
    if not firsts:
        raise RuntimeError(f"{kind}: no rebuild gave a frame")
    stop, start, first = (1000 * statistics.median(v) for v in (stops, starts, firsts))
    return stop, start, first, failed


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, "reconnect_rebuild.md")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)
    lines = [
        f"Pipeline rebuild on reconnect, server up, medians of {args.rounds} rounds "
        f"({os.cpu_count()} cores shared with other jobs)",
        "",
        "| source | teardown ms | build + start ms | first frame after start ms "
        "| rebuilds with no frame in 10 s |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in ("tcp", "rtsp", "srt", "http"):
        stop, start, first, failed = measure(kind, args.rounds)
        lines.append(f"| {kind} | {stop:.1f} | {start:.1f} | {first:.1f} | {failed} |")
    lines += ["", f"Load average at the end: {os.getloadavg()[0]:.2f}."]
    publish("\n".join(lines), args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
