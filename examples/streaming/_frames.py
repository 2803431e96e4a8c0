"""What the streaming examples share: generated frames (a moving bar over a gradient) and the
options of the server examples. (The way a script ends, exit code and Ctrl-C, is
:func:`gstreamer.cli.run_main`.)"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np


def pattern(i: int, width: int = 640, height: int = 480) -> np.ndarray:
    """Frame ``i`` of a recognisable test pattern, RGB uint8 of shape (height, width, 3)."""
    ys, xs = np.mgrid[0:height, 0:width]
    frame = np.empty((height, width, 3), np.uint8)
    frame[..., 0] = xs * 255 // max(1, width - 1)
    frame[..., 1] = ys * 255 // max(1, height - 1)
    frame[..., 2] = (i * 4) & 0xFF
    bar = (i * 8) % width
    frame[:, bar : bar + 16] = 255
    return frame


def push_for(server: Any, seconds: float, fps: float) -> int:
    """Push :func:`pattern` frames into ``server`` in real time for ``seconds``; return how many."""
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < seconds:
        server.push(pattern(i, server.width, server.height))
        i += 1
        time.sleep(max(0.0, start + i / fps - time.monotonic()))
    return i


def server_options(doc: str, port: int) -> argparse.ArgumentParser:
    """A parser with the options every server example takes: --port, --host, --seconds."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--port", type=int, default=port, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seconds", type=float, default=30.0)
    return parser
