"""Serve NumPy frames as H.264 in MPEG-TS over TCP; clients may come and go.

python examples/streaming/tcp_server.py --port 5000
ffplay tcp://127.0.0.1:5000
    gst-launch-1.0 tcpclientsrc port=5000 ! decodebin ! videoconvert ! autovideosink

Run it from the checkout with the virtual environment active (``source .venv/bin/activate``,
as the README says). Ctrl-C stops it cleanly (exit code 130, no traceback).
"""

from __future__ import annotations

from _frames import push_for, server_options

from gstreamer.cli import run_main
from gstreamer.streaming import TcpServer


def main() -> None:
    parser = server_options(__doc__, port=5000)
    args = parser.parse_args()
    fps = 30
    with TcpServer(640, 480, fps=fps, port=args.port, host=args.host) as server:
        print(f"serving {server.url} for {args.seconds:g} s", flush=True)
        i = push_for(server, args.seconds, fps)
    print(f"pushed {i} frames")


if __name__ == "__main__":
    run_main(main)
