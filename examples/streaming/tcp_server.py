"""Serve NumPy frames as H.264 in MPEG-TS over TCP; clients may come and go.

python examples/streaming/tcp_server.py --port 5000
ffplay tcp://127.0.0.1:5000
    gst-launch-1.0 tcpclientsrc port=5000 ! decodebin ! videoconvert ! autovideosink
"""

from __future__ import annotations

import argparse
import time

from _frames import pattern

from gstreamer.streaming import TcpServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    fps = 30
    with TcpServer(640, 480, fps=fps, port=args.port, host=args.host) as server:
        print(f"serving {server.url} for {args.seconds:g} s", flush=True)
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < args.seconds:
            server.push(pattern(i))
            i += 1
            time.sleep(max(0.0, start + i / fps - time.monotonic()))
    print(f"pushed {i} frames")


if __name__ == "__main__":
    main()
