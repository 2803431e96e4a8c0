"""Serve NumPy frames as MJPEG over HTTP: open http://127.0.0.1:8080/ in a browser.

python examples/streaming/http_mjpeg.py --port 8080
curl -o frame.jpg http://127.0.0.1:8080/snapshot.jpg

Run it from the checkout with the virtual environment active (``source .venv/bin/activate``,
as the README says). Ctrl-C stops it cleanly (exit code 130, no traceback).
"""

from __future__ import annotations

from _frames import push_for, server_options

from gstreamer.cli import run_main
from gstreamer.streaming import MjpegServer


def main() -> None:
    parser = server_options(__doc__, port=8080)
    args = parser.parse_args()
    fps = 20
    with MjpegServer(640, 480, fps=fps, port=args.port, host=args.host) as server:
        print(f"open {server.url} in a browser (for {args.seconds:g} s)", flush=True)
        i = push_for(server, args.seconds, fps)
    print(f"pushed {i} frames")


if __name__ == "__main__":
    run_main(main)
