"""gstreamer.ray.read_videos against Ray Data's own read_videos (decord), in the same run.

Ray's reader needs decord in the interpreter that runs Ray, and decord must not go into the
project's ``.venv``; this benchmark therefore runs in its own venv::

    python3 -m venv benchmarks/peers/.venv-ray
    benchmarks/peers/.venv-ray/bin/pip install -r benchmarks/peers/requirements-ray.txt -e .
    benchmarks/peers/.venv-ray/bin/python benchmarks/bench_ray.py [--frames 300] [--save]

Four clips are generated (H.264 MP4, 640x360 at 30 fps, ``--frames`` frames each, every frame
showing its index under noise, so that decoding is real work). Both readers run on a local
Ray (``ray.init(num_cpus=2)``) with ``include_timestamps=True, include_paths=True``, with
their defaults and with one block per file, and our datasource with Ray's own block planning
(``ray.data.read_datasource(VideoDatasource(...))``, what ``read_videos`` did before it chose
the number of blocks), each ``--runs`` times in turns after a warm-up; the reported wall time
(materialising the whole dataset) is the best, and the CPU seconds (this process and Ray's,
all children) their median. Then the rows are compared: count, ``frame_index`` per file,
timestamps (within 1 ms), and PSNR of our frames against decord's. ``--save`` writes
``benchmarks/results/ray.md``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
import time
from typing import Any, Optional

import numpy as np
from _common import parser_for, publish, use_test_helpers

use_test_helpers()
from _indexed import make_clip, read_index  # noqa: E402

W, H = 640, 360


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def cpu_seconds() -> float:
    """CPU seconds of this process and all its children (Ray's workers, raylet, ...)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def run(read: Any) -> tuple[float, float, list[dict[str, Any]]]:
    cpu = cpu_seconds()
    start = time.monotonic()
    rows = read().take_all()
    return time.monotonic() - start, cpu_seconds() - cpu, rows


def main(argv: Optional[list[str]] = None) -> int:
    parser = parser_for(__doc__, "ray.md")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each reader")
    args = parser.parse_args(argv)

    import decord
    import ray

    import gstreamer
    import gstreamer.ray as gray

    folder = tempfile.mkdtemp()
    paths = [
        make_clip(
            os.path.join(folder, f"clip{i}.mp4"), args.frames, width=W, height=H, start=i, noise=40
        )
        for i in range(4)
    ]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False

    options = {"include_timestamps": True, "include_paths": True}
    readers = {
        "ours": lambda: gray.read_videos(paths, **options),
        "theirs": lambda: ray.data.read_videos(paths, **options),
        "ours, one block per file": lambda: gray.read_videos(
            paths, override_num_blocks=len(paths), **options
        ),
        "theirs, one block per file": lambda: ray.data.read_videos(
            paths, override_num_blocks=len(paths), **options
        ),
        "ours, Ray's block planning": lambda: ray.data.read_datasource(
            gray.VideoDatasource(paths, **options)
        ),
    }
    for fn in readers.values():
        run(fn)  # warm-up: workers started, files in the page cache
    walls: dict[str, list[float]] = {name: [] for name in readers}
    cpus: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(args.runs):
        for name, fn in readers.items():
            wall, cpu, rows = run(fn)
            walls[name].append(wall)
            cpus[name].append(cpu)
            if name == "ours":
                our_rows = rows
            elif name == "theirs":
                their_rows = rows
    ray.shutdown()

    def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
        return {(os.path.basename(r["path"]), int(r["frame_index"])): r for r in rows}

    a, b = by_key(our_rows), by_key(their_rows)
    same_keys = sorted(a) == sorted(b)
    worst_ts = max(
        float(
            np.max(
                np.abs(np.asarray(a[k]["frame_timestamp"]) - np.asarray(b[k]["frame_timestamp"]))
            )
        )
        for k in a
        if k in b
    )
    psnrs = [psnr(a[k]["frame"], b[k]["frame"]) for k in a if k in b]
    wrong_index = sum(
        read_index(a[k]["frame"]) != k[1] + int(k[0][4]) for k in a
    )  # clip i starts at index i
    decord_version = decord.__version__
    best = {k: min(v) for k, v in walls.items()}
    cpu_median = {k: float(np.median(v)) for k, v in cpus.items()}
    total = 4 * args.frames
    lines = [
        "# gstreamer.ray.read_videos vs ray.data.read_videos (decord)",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs: the figures are "
        f"noisy), Python {platform.python_version()}, Ray {ray.__version__}, decord "
        f"{decord_version}, GStreamer {'.'.join(map(str, gstreamer.Gst.version()[:3]))}. "
        f"Local Ray with 2 CPUs; four {W}x{H} H.264 MP4 clips of {args.frames} frames at 30 fps; "
        "`include_timestamps=True, include_paths=True`; whole dataset materialised "
        f"(`take_all`), best of {args.runs} runs in turns after a warm-up; CPU seconds of the "
        "driver and all of Ray's processes, median. Written by "
        "`benchmarks/bench_ray.py --save` (run in benchmarks/peers/.venv-ray).",
        "",
        "| reader | wall s | frames/s | CPU s | all runs: wall s | all runs: CPU s |",
        "|---|---:|---:|---:|---|---|",
        *[
            f"| {'gstreamer.ray' if name.startswith('ours') else 'ray.data (decord)'}"
            f"{name[4:] if name.startswith('ours') else name[6:]} | {best[name]:.2f} | "
            f"{total / best[name]:.0f} | {cpu_median[name]:.2f} | "
            f"{', '.join(f'{w:.2f}' for w in walls[name])} | "
            f"{', '.join(f'{c:.2f}' for c in cpus[name])} |"
            for name in readers
        ],
        "",
        "Defaults: `gstreamer.ray.read_videos` asks Ray for max(files, 2 x CPUs) blocks (here "
        "4): one read task per file and no further split. Left to Ray's planning (last row), "
        "Ray asks a datasource for 200 blocks (`read_op_min_num_blocks`) unless its estimated "
        "size is under 200 MiB; ours is the decoded size (829 MB), so Ray asks for 200, gets 4 "
        "read tasks and cuts each task's output 25 ways (`SplitBlocks(25)`: 200 blocks of 3 "
        "to 9 frames). decord's datasource estimates from the file size (57 MB), so Ray asks "
        "it for about 57 blocks (`SplitBlocks(14)`, 112 blocks). The rows 'one block per "
        "file' give both `override_num_blocks=4`.",
        "",
        f"- Same rows (file, frame_index): {same_keys} ({len(our_rows)} vs {len(their_rows)}).",
        f"- Largest timestamp difference: {worst_ts * 1000:.3f} ms (target < 1 ms).",
        f"- PSNR of our frames against decord's: min {min(psnrs):.1f} dB, median "
        f"{float(np.median(psnrs)):.1f} dB (target >= 35 dB).",
        f"- Frames whose burned-in index differs from frame_index: {wrong_index}.",
        f"- Wall time, ours / Ray's: {best['ours'] / best['theirs']:.2f}x with the defaults, "
        f"{best['ours, one block per file'] / best['theirs, one block per file']:.2f}x with "
        "one block per file (target <= 1.0x); CPU seconds, ours / Ray's: "
        f"{cpu_median['ours'] / cpu_median['theirs']:.2f}x with the defaults.",
        "",
    ]
    publish("\n".join(lines), args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
