"""Send NumPy frames as RTP/H.264 over UDP and receive them back into a Reader.

python examples/streaming/udp_send_receive.py --port 5004

Run it from the checkout with the virtual environment active (``source .venv/bin/activate``,
as the README says). Ctrl-C stops it cleanly (exit code 130, no traceback).
"""

from __future__ import annotations

import argparse
import threading
import time

from _frames import pattern

from gstreamer import Reader
from gstreamer.cli import run_main
from gstreamer.streaming import UdpSender, udp_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5004)
    parser.add_argument("--codec", choices=("h264", "jpeg"), default="h264")
    parser.add_argument("-n", "--frames", type=int, default=30, help="frames to receive")
    args = parser.parse_args()
    stop = threading.Event()
    # the receiver listens first; it is a Reader like any other
    receiver = Reader(udp_source(args.port, codec=args.codec), timeout=10)
    with receiver as reader, UdpSender(320, 240, port=args.port, codec=args.codec) as sender:

        def send() -> None:
            i = 0
            while not stop.is_set():
                sender.push(pattern(i, 320, 240))
                i += 1
                time.sleep(1 / 30)

        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        try:
            for count, frame in enumerate(reader, 1):
                print(f"received {frame.shape} pts={frame.time}")
                if count >= args.frames:
                    break
        finally:
            stop.set()
            thread.join()


if __name__ == "__main__":
    run_main(main)
