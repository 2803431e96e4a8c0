"""Clips whose frames carry their own index in their pixels (checkable after any decoder).

The index is written in binary as ``BITS`` vertical bands, black for 0 and white for 1; the
bands survive scaling and lossy codecs, so a reader's frame ``i`` can be checked exactly.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

import gstreamer

BITS = 10


def index_frame(index: int, width: int, height: int) -> np.ndarray:
    """An RGB frame showing ``index`` (0 <= index < 2**BITS)."""
    frame = np.zeros((height, width, 3), np.uint8)
    for bit in range(BITS):
        if index >> bit & 1:
            a, b = bit * width // BITS, (bit + 1) * width // BITS
            frame[:, a:b] = 255
    return frame


def read_index(frame: Any) -> int:
    """The index shown by a (possibly scaled, decoded, gray or RGB) frame."""
    arr = np.asarray(frame, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr.mean(axis=2)
    height, width = arr.shape
    value = 0
    for bit in range(BITS):
        a, b = bit * width // BITS, (bit + 1) * width // BITS
        margin = max(1, (b - a) // 4)
        band = arr[height // 4 : 3 * height // 4, a + margin : b - margin]
        if band.mean() > 128:
            value |= 1 << bit
    return value


def make_clip(
    path: os.PathLike[str] | str,
    frames: int,
    *,
    width: int = 160,
    height: int = 120,
    fps: int = 30,
    start: int = 0,
    noise: int = 0,
) -> str:
    """Write ``frames`` indexed frames (indices ``start``...) to ``path`` (codec from suffix).

    ``noise`` adds uniform noise of that amplitude (seeded), which gives a decoder real work.
    """
    rng = np.random.default_rng(start)

    def frame(i: int) -> np.ndarray:
        image = index_frame(start + i, width, height)
        if noise:
            jitter = rng.integers(-noise, noise + 1, image.shape, dtype=np.int16)
            image = np.clip(image.astype(np.int16) + jitter, 0, 255).astype(np.uint8)
        return image

    gstreamer.write_frames(path, (frame(i) for i in range(frames)), fps=fps)
    return os.fspath(path)
