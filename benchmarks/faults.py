"""Fault soaks of issue 14, printing the figures (the short versions are ``tests/faults``).

Usage::

    .venv/bin/python benchmarks/faults.py tcp [--seconds 60]     # never-reading TCP client
    .venv/bin/python benchmarks/faults.py writers [--count 30]   # abandoned Writers
    .venv/bin/python benchmarks/faults.py reads [--passes 20]    # RSS over repeated Readers
    .venv/bin/python benchmarks/faults.py mjpeg [--count 500]    # half-open MJPEG connections

Each prints what it measured and whether the issue's goal holds. Figures on a shared,
busy machine are noisy.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

from _common import use_test_helpers

use_test_helpers()
from _helpers import frames_in  # noqa: E402
from faults import _probe  # noqa: E402


def tcp(args: argparse.Namespace) -> bool:
    base = _probe.tcp_push_rate(args.seconds, stalled=False)
    print(
        f"no stalled client: {base['rate']:.1f} frames/s, "
        f"RSS {base['rss_start']:.1f} -> {base['rss_end']:.1f} MB"
    )
    stalled = _probe.tcp_push_rate(args.seconds, stalled=True)
    print(
        f"never-reading client: {stalled['rate']:.1f} frames/s, "
        f"RSS {stalled['rss_start']:.1f} -> {stalled['rss_end']:.1f} MB, clients "
        f"{stalled['clients_at_start']} -> {stalled['clients_at_end']}"
    )
    ratio = stalled["rate"] / base["rate"]
    growth = stalled["rss_end"] - stalled["rss_start"]
    print(
        f"rate {ratio:.1%} of the rate without it (goal >= 90 %), RSS +{growth:.1f} MB "
        "(goal < 10 MB)"
    )
    return ratio >= 0.9 and growth < 10


def writers(args: argparse.Namespace) -> bool:
    import weakref

    import numpy as np

    from gstreamer import Writer

    def abandon(path: Path) -> weakref.ref[Writer]:
        writer = Writer(path, fps=30)
        for i in range(30):
            writer.write(np.full((120, 160, 3), i * 8, np.uint8))
        return weakref.ref(writer)

    with tempfile.TemporaryDirectory() as tmp:
        abandon(Path(tmp) / "warm.mp4")
        gc.collect()
        t0, f0 = _probe.threads(), _probe.fds()
        refs = [abandon(Path(tmp) / f"w{i}.mp4") for i in range(args.count)]
        gc.collect()
        alive = sum(r() is not None for r in refs)
        _probe.wait_until(lambda: _probe.threads() <= t0 and _probe.fds() <= f0, 10)
        t1, f1 = _probe.threads(), _probe.fds()
        frames = [frames_in(Path(tmp) / f"w{i}.mp4") for i in range(args.count)]
    playable = sum(n == 30 for n in frames)
    print(
        f"{args.count} abandoned Writers: {alive} alive after gc.collect(), threads {t0} -> "
        f"{t1}, fds {f0} -> {f1}, {playable}/{args.count} files play all 30 frames"
    )
    return alive == 0 and t1 <= t0 and f1 <= f0 and playable == args.count


def reads(args: argparse.Namespace) -> bool:
    import subprocess

    from gstreamer import Reader

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip720.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
             "testsrc2=size=1280x720:rate=30", "-frames:v", "150", "-pix_fmt", "yuv420p",
             "-c:v", "libx264", "-preset", "ultrafast", str(clip)],
            check=True,
        )  # fmt: skip
        rss = []
        for _ in range(args.passes):
            with Reader(clip) as reader:
                for _frame in reader:
                    pass
            gc.collect()
            rss.append(_probe.rss_mb())
    print("RSS after each pass (MB):", " ".join(f"{r:.0f}" for r in rss))
    growth = rss[-1] - rss[1]
    print(f"pass 2 -> pass {args.passes}: {growth:+.1f} MB (goal < +30 MB)")
    return growth < 30


def mjpeg(args: argparse.Namespace) -> bool:
    import socket

    import numpy as np

    from gstreamer import _gi
    from gstreamer.streaming import MjpegServer

    _gi.ensure_init()
    with MjpegServer(64, 48, port=0) as warm:  # GStreamer's own threads start once
        warm.push(np.zeros((48, 64, 3), np.uint8))
        warm.wait_frames(1)
    t_start = _probe.threads()
    server = MjpegServer(64, 48, port=0)
    server.start()
    server.push(np.zeros((48, 64, 3), np.uint8))
    t_serving = _probe.threads()
    start = time.monotonic()
    socks = []
    for _ in range(args.count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n")  # never finished
        socks.append(sock)
    connect = time.monotonic() - start
    assert server._loop is not None
    _probe.wait_until(lambda: server._loop.connections == args.count, 10)
    t_during = _probe.threads()
    print("threads with the connections open:", _probe.thread_names())
    gone = time.monotonic()
    for sock in socks:
        sock.close()
    back = _probe.wait_until(
        lambda: server._loop.connections == 0 and _probe.threads() <= t_serving, 5
    )
    after_gone = time.monotonic() - gone
    server.close()
    closed = _probe.wait_until(lambda: _probe.threads() <= t_start, 5)
    print(
        f"{args.count} half-open connections in {connect:.2f} s; threads: {t_start} before the "
        f"server, {t_serving} serving, {t_during} with the connections open, "
        f"back to {t_serving} {after_gone:.2f} s after they went away ({'yes' if back else 'NO'}),"
        f" {_probe.threads()} after close() ({'yes' if closed else 'NO'})"
    )
    return back and closed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    soaks = [
        (tcp, "--seconds", float, 60.0),
        (writers, "--count", int, 30),
        (reads, "--passes", int, 20),
        (mjpeg, "--count", int, 500),
    ]
    for run, option, kind, default in soaks:
        p = sub.add_parser(run.__name__)
        p.add_argument(option, type=kind, default=default)
        p.set_defaults(run=run)
    args = parser.parse_args(argv)
    ok = args.run(args)
    print("goal met" if ok else "goal NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
