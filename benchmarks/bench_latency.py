"""Glass-to-glass latency on loopback: RtspServer -> Reader(latest_only=True), and ffmpeg.

Usage::

    .venv/bin/python benchmarks/bench_latency.py [--seconds 10] [--fps 30] [--save]

An :class:`~gstreamer.streaming.RtspServer` in another process pushes 320x240 frames at
``--fps`` with the frame number drawn in the pixels (16 bits as a 4x4 grid of black and white
blocks) and notes when it pushed each one (``time.monotonic``, the same clock in every
process). Each client in turn connects, reads for ``--seconds`` and decodes the number from
every frame it gets; latency = time the client has the decoded frame - time the server
pushed it. Clients, one after the other in the same run:

* ``Reader(rtsp_source(url, latency=0), latest_only=True)`` (this package; ``GRAY8``),
* the same with ``rtsp_source``'s default jitter buffer (``latency=100`` ms),
* ``ffmpeg -fflags nobuffer -flags low_delay -rtsp_transport tcp -i URL -f rawvideo -``
  (what ffplay-style low-latency clients use), the same with ``-threads 1`` (a decoder
  without frame threads holds no frames back), and plain ``ffmpeg -rtsp_transport tcp``;
  frames are read from ffmpeg's stdout as they come.

Prints a markdown table; ``--save`` also writes it to ``benchmarks/results/latency.md``.
The numbers depend on the machine's load: run it on an idle machine to compare releases.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
import threading
import time
from typing import Callable

import numpy as np
from _common import HERE, parser_for, publish

WIDTH, HEIGHT, GRID = 320, 240, 4

SERVER = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from gstreamer.streaming import RtspServer
    W, H, G = 320, 240, 4
    fps, seconds = float(sys.argv[1]), float(sys.argv[2])
    sent = {}
    def frame(n):
        bits = np.array([(n >> b) & 1 for b in range(G * G)], np.uint8).reshape(G, G)
        img = np.kron(bits * 219 + 16, np.ones((H // G, W // G), np.uint8))
        return np.repeat(img[:, :, None], 3, axis=2)
    with RtspServer(W, H, fps=fps, port=0) as server:
        print("ready", server.url, flush=True)
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            img = frame(n % 65536)
            delay = start + n / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[n % 65536] = time.monotonic()
            server.push(img)
            n += 1
    print(json.dumps(sent), flush=True)
    """
)


def decode_number(gray: np.ndarray) -> int:
    """The frame number drawn by the server (gray image, 320x240)."""
    h, w = gray.shape[0] // GRID, gray.shape[1] // GRID
    n = 0
    for b in range(GRID * GRID):
        r, c = divmod(b, GRID)
        block = gray[r * h + h // 4 : r * h + 3 * h // 4, c * w + w // 4 : c * w + 3 * w // 4]
        if float(block.mean()) > 128:
            n |= 1 << b
    return n


Received = list[tuple[int, float]]
Client = Callable[[threading.Event, Received], None]


def reader_client(url: str, latency: int) -> Client:
    def run(stop: threading.Event, got: Received) -> None:
        import gstreamer
        from gstreamer.streaming import rtsp_source

        with gstreamer.Reader(
            rtsp_source(url, latency=latency), format="GRAY8", latest_only=True, timeout=10
        ) as reader:
            while not stop.is_set():
                frame = reader.read()
                if frame is None:
                    break
                got.append((decode_number(np.asarray(frame.data)), time.monotonic()))

    return run


def ffmpeg_client(url: str, low_delay: bool, threads: int = 0) -> Client:
    def run(stop: threading.Event, got: Received) -> None:
        flags = ["-fflags", "nobuffer", "-flags", "low_delay"] if low_delay else []
        if threads:
            flags += ["-threads", str(threads)]  # no frame threads: no frames held back
        cmd = [
            "ffmpeg", "-hide_banner", "-loglevel", "error", *flags, "-rtsp_transport", "tcp",
            "-i", url, "-fps_mode", "passthrough", "-enc_time_base", "-1",
            "-f", "rawvideo", "-pix_fmt", "gray", "-",
        ]  # fmt: skip
        # -enc_time_base -1 keeps the demuxer's 90 kHz time base: in 1/fps units, frames
        # with the same rounded time were dropped by the rawvideo muxer ("non monotonically
        # increasing dts")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        size = WIDTH * HEIGHT
        try:
            while not stop.is_set():
                data = proc.stdout.read(size)
                if len(data) < size:
                    break
                gray = np.frombuffer(data, np.uint8).reshape(HEIGHT, WIDTH)
                got.append((decode_number(gray), time.monotonic()))
        finally:
            proc.kill()
            _, err = proc.communicate()
            if not got:
                print(
                    f"ffmpeg gave no frame: {err.decode(errors='replace')[-1000:]}", file=sys.stderr
                )

    return run


def measure(name: str, make: Callable[[str], Client], seconds: float, fps: float) -> dict:
    """Start a server, run the client made for its URL, and compute the latencies."""
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(fps), str(seconds + 4)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert server.stdout is not None
    line = server.stdout.readline().split()
    if not line or line[0] != "ready":
        raise RuntimeError(f"server did not start: {server.communicate()[1][-2000:]}")
    client = make(line[1])
    stop = threading.Event()
    got: Received = []
    thread = threading.Thread(target=client, args=(stop, got), daemon=True)
    thread.start()
    time.sleep(seconds + 2)  # 2 s to connect and settle, then the measured part
    stop.set()
    thread.join(20)
    sent = {int(k): v for k, v in json.loads(server.communicate(timeout=60)[0]).items()}
    start = min(sent.values()) + 2.0
    end = start + seconds - 0.5  # frames pushed in [start, end] are counted
    lat = [t - sent[n] for n, t in got if n in sent and start <= sent[n] <= end]
    bogus = sum(1 for n, _ in got if n not in sent)
    expected = sum(1 for t in sent.values() if start <= t <= end)
    ms = np.array(lat) * 1000 if lat else np.array([np.nan])
    return {
        "client": name,
        "frames": len(lat),
        "expected": expected,
        "unreadable": bogus,  # numbers that were never sent (a decoding error)
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "max": float(ms.max()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, "latency.md")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args(argv)
    clients = [
        ("Reader(latest_only=True), rtspsrc latency=0", lambda u: reader_client(u, 0)),
        ("Reader(latest_only=True), rtspsrc latency=100", lambda u: reader_client(u, 100)),
        ("ffmpeg -fflags nobuffer -flags low_delay (tcp)", lambda u: ffmpeg_client(u, True)),
        (
            "ffmpeg -fflags nobuffer -flags low_delay -threads 1 (tcp)",
            lambda u: ffmpeg_client(u, True, 1),
        ),
        ("ffmpeg, default flags (tcp)", lambda u: ffmpeg_client(u, False)),
    ]
    rows = [measure(name, make, args.seconds, args.fps) for name, make in clients]
    lines = [
        f"Glass-to-glass latency, RtspServer -> client on loopback, {WIDTH}x{HEIGHT} @ "
        f"{args.fps:g} fps, {args.seconds:g} s per client "
        f"({platform.machine()}, {os.cpu_count()} cores; "
        f"load average {os.getloadavg()[0]:.1f} at the end)",
        "",
        "| client | frames | p50 (ms) | p95 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['client']} | {r['frames']}/{r['expected']} | {r['p50']:.1f} | "
            f"{r['p95']:.1f} | {r['max']:.1f} |"
        )
    lines += [
        "",
        "frames: frames the client got (with a readable number) / frames pushed in the "
        "measured window; latest_only drops frames when the reader is behind.",
    ]
    publish("\n".join(lines), args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
