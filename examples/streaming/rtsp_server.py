"""Serve NumPy frames over RTSP (H.264) to any number of clients, optionally with a password.

python examples/streaming/rtsp_server.py --port 8554 [--user me --password secret]
ffplay -rtsp_transport tcp rtsp://me:secret@127.0.0.1:8554/stream

Run it from the checkout with the virtual environment active (``source .venv/bin/activate``,
as the README says). Ctrl-C stops it cleanly (exit code 130, no traceback).
"""

from __future__ import annotations

from _frames import push_for, server_options

from gstreamer.cli import run_main
from gstreamer.streaming import RtspServer


def main() -> None:
    parser = server_options(__doc__, port=8554)
    parser.add_argument("--mount", default="/stream")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    fps = 30
    server = RtspServer(
        640,
        480,
        fps=fps,
        port=args.port,
        host=args.host,
        mount=args.mount,
        username=args.user,
        password=args.password,
    )
    with server:
        print(f"serving {server.url} for {args.seconds:g} s", flush=True)
        push_for(server, args.seconds, fps)  # frames are dropped while nobody watches
    print(f"{server.frames_written} frames went to clients, {server.dropped} were dropped")


if __name__ == "__main__":
    run_main(main)
