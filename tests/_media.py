"""Test clips with each frame's index burned into its pixels, and ffprobe's view of them.

A frame's index is written as 16 bits in a 4x4 grid of blocks (bright = 1), read back by
:func:`frame_number` from the block centres, so a decoded frame is checked exactly. A red
square marks the top-left corner (to check orientation).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

W, H = 160, 120
_BW, _BH = W // 4, H // 4


def burned_frame(i: int, width: int = W, height: int = H) -> np.ndarray:
    """RGB frame ``i``: its index in 16 blocks, a red marker top-left."""
    frame = np.full((height, width, 3), 16, np.uint8)
    bw, bh = width // 4, height // 4
    for bit in range(16):
        r, c = divmod(bit, 4)
        if (i >> bit) & 1:
            frame[r * bh : (r + 1) * bh, c * bw : (c + 1) * bw] = 235
    frame[: bh // 3, : bw // 3] = (235, 16, 16)
    return frame


def frame_number(frame: np.ndarray) -> int:
    """The index burned into a decoded (upright, full-size) RGB or gray frame."""
    height, width = frame.shape[:2]
    bw, bh = width // 4, height // 4
    value = 0
    for bit in range(16):
        r, c = divmod(bit, 4)
        y, x = r * bh + bh // 2, c * bw + bw // 2
        if frame[y - 2 : y + 3, x - 2 : x + 3].mean() > 128:
            value |= 1 << bit
    return value


def _encode(path: Path, n: int, args: list[str], fps: str = "30") -> None:
    assert shutil.which("ffmpeg"), "ffmpeg is required (apt-get install ffmpeg)"
    proc = subprocess.Popen(
        [
            "ffmpeg", "-y", "-v", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", fps, "-i", "-",
            *args, os.fspath(path),
        ],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None
    for i in range(n):
        proc.stdin.write(burned_frame(i).tobytes())
    proc.stdin.close()
    assert proc.wait(timeout=120) == 0


_X264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18"]

# name -> (frames, ffmpeg arguments)
_HEVC = "-c:v libx265 -x265-params log-level=error:keyint=30 -crf 20 -pix_fmt yuv420p -tag:v hvc1"
_VP9 = "-c:v libvpx-vp9 -pix_fmt yuv420p -g 30 -crf 20 -b:v 0 -deadline realtime -cpu-used 8"
# 30 fps for one second, then 10 fps
_VFR = ["-vf", "setpts='if(lt(N,30),N/30,1+(N-30)/10)/TB'", "-fps_mode", "passthrough"]
CLIPS = {
    "h264.mp4": (150, [*_X264, "-profile:v", "high", "-bf", "3", "-g", "30"]),
    "hevc.mp4": (90, _HEVC.split()),
    "vp9.webm": (90, _VP9.split()),
    "h264.ts": (90, [*_X264, "-bf", "2", "-g", "30"]),
    "vfr.mkv": (50, [*_VFR, *_X264, "-g", "30"]),
}


def make_clips(folder: Path) -> dict[str, Path]:
    """Every clip of :data:`CLIPS`, plus ``rot90.mp4`` (h264.mp4 tagged with a 90° rotation)."""
    paths = {name: folder / name for name in CLIPS}
    # the encoders run side by side (each ffmpeg is fed from its own thread)
    with ThreadPoolExecutor(len(CLIPS)) as pool:
        for done in [pool.submit(_encode, paths[n], *CLIPS[n]) for n in CLIPS]:
            done.result()
    rotated = folder / "rot90.mp4"
    subprocess.run(
        ["ffmpeg", "-y", "-v", "error", "-i", os.fspath(paths["h264.mp4"]), "-c", "copy",
         "-metadata:s:v:0", "rotate=90", os.fspath(rotated)],
        check=True,
        timeout=60,
    )  # fmt: skip
    paths["rot90.mp4"] = rotated
    return paths


@functools.cache
def _ffprobe(path: str, stamp: tuple[int, int], *args: str) -> str:
    """ffprobe's answer, kept for the session: the clips are made once and only read, and
    several modules ask about the same ones (``stamp``, the file's mtime and size, keeps an
    answer from outliving a rewritten file)."""
    return subprocess.run(
        ["ffprobe", "-v", "error", *args, path],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


def _probe(path: Path, *args: str) -> str:
    st = os.stat(path)
    return _ffprobe(os.fspath(path), (st.st_mtime_ns, st.st_size), *args)


def ffprobe_frames(path: Path) -> tuple[np.ndarray, list[int]]:
    """``(pts_time seconds, keyframe indices)`` of the first video stream, as ffprobe says
    (MPEG-TS times made relative to the first frame)."""
    out = _probe(path, "-select_streams", "v:0", "-show_entries", "frame=pts_time,key_frame",
                 "-of", "csv=p=0")  # fmt: skip
    rows = [line.split(",")[:2] for line in out.split() if line.strip()]
    times = np.array([float(t) for _, t in rows])
    if str(path).endswith(".ts"):
        times -= times[0]
    keys = [i for i, (k, _) in enumerate(rows) if k == "1"]
    return times, keys


def ffprobe_stream(path: Path) -> dict[str, str]:
    """ffprobe's stream entries (with -count_frames) and the format duration."""
    out = _probe(
        path, "-count_frames", "-select_streams", "v:0", "-show_entries",
        "stream=codec_name,width,height,r_frame_rate,nb_frames,nb_read_frames:"
        "format=duration:stream_side_data=rotation", "-of", "default=noprint_wrappers=1",
    )  # fmt: skip
    entries: dict[str, str] = {}
    for line in out.strip().splitlines():
        key, _, value = line.partition("=")
        entries.setdefault(key, value)
    return entries


def ffmpeg_frame(path: Path, index: int = 0) -> np.ndarray:
    """Frame ``index`` decoded by ffmpeg (auto-rotated, as ffmpeg does by default), RGB."""
    info = ffprobe_stream(path)
    width, height = int(info["width"]), int(info["height"])
    if info.get("rotation", "0").lstrip("-") in ("90", "270"):
        width, height = height, width
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", os.fspath(path), "-vf", f"select=eq(n\\,{index})",
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True, timeout=60,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


_made: dict[str, dict[str, Path]] = {}


def session_clips(tmp_path_factory) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """The clips, made once per test session (each test module's fixture calls this)."""
    if "clips" not in _made:
        _made["clips"] = make_clips(tmp_path_factory.mktemp("clips"))
    return _made["clips"]
