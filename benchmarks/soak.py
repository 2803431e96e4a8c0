"""Soak: push and pull many small frames zero-copy and check that memory does not grow.

Usage::

    .venv/bin/python benchmarks/soak.py [--quick] [--frames 100000] [--save [FILE]]

``appsrc ! queue ! appsink``: each loop wraps a fresh 64x48 RGB array with
``ndarray_to_buffer`` (zero-copy, GstVideoMeta-free), pushes it, pulls the sample and views it
with ``buffer_to_ndarray``; every 1000th view is kept for a while (so mappings outlive their
samples) and checked against what was pushed. RSS (from ``/proc/self/status``) is read after
a warm-up and at the end; the goal is growth < 20 MB with no wrapped array left alive. The
markdown table is printed; ``--save`` also writes it to ``benchmarks/results/soak.md``.
"""

from __future__ import annotations

import gc
import platform
import sys
import time

import numpy as np
from _common import parser_for, publish, use_test_helpers

use_test_helpers()
from faults._probe import rss_mb  # noqa: E402

WARMUP = 2000


def run(frames: int) -> dict[str, float]:
    from gstreamer import _gi, buffers
    from gstreamer.caps import layout_from_caps

    Gst = _gi.Gst()
    caps = "video/x-raw,format=RGB,width=64,height=48,framerate=30/1"
    layout = layout_from_caps(caps)
    pipeline = Gst.parse_launch(
        "appsrc name=src format=time block=true max-buffers=8 max-bytes=0 ! "
        "queue max-size-buffers=8 ! appsink name=sink sync=false max-buffers=8"
    )
    src, sink = pipeline.get_by_name("src"), pipeline.get_by_name("sink")
    src.set_property("caps", Gst.Caps.from_string(caps))
    pipeline.set_state(Gst.State.PLAYING)
    kept: list[tuple[int, np.ndarray]] = []
    rss_before = 0.0
    start = time.perf_counter()
    pushed = pulled = 0
    try:
        for i in range(WARMUP + frames):
            if i == WARMUP:
                gc.collect()
                rss_before = rss_mb()
                start = time.perf_counter()
            a = np.full((48, 64, 3), i % 256, np.uint8)
            a[0, 0, 0] = (i // 256) % 256
            src.emit("push-buffer", buffers.ndarray_to_buffer(a, layout))
            del a
            pushed += 1
            sample = sink.emit("try-pull-sample", 5 * Gst.SECOND)
            if sample is None:
                raise RuntimeError(f"no sample after {pulled} frames")
            view = buffers.buffer_to_ndarray(sample.get_buffer(), layout)
            pulled += 1
            if view[1, 1, 1] != i % 256 or view[0, 0, 0] != (i // 256) % 256:
                raise AssertionError(f"frame {i} came back wrong")
            if i % 1000 == 0:
                kept.append((i, view))
            if len(kept) > 5:
                j, old = kept.pop(0)
                if old[5, 5, 2] != j % 256:
                    raise AssertionError(f"kept view of frame {j} changed")
                del old
            del sample, view
        elapsed = time.perf_counter() - start
    finally:
        pipeline.set_state(Gst.State.NULL)
    del pipeline, src, sink, kept
    gc.collect()
    return {
        "frames_pushed": pushed - WARMUP,
        "frames_pulled": pulled - WARMUP,
        "seconds": elapsed,
        "rss_before": rss_before,
        "rss_after": rss_mb(),
        "live": buffers.live_wrapped_arrays(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, "soak.md", quick="10,000 frames")
    parser.add_argument("--frames", type=int, default=100_000)
    args = parser.parse_args(argv)
    frames = 10_000 if args.quick else args.frames
    r = run(frames)
    growth = r["rss_after"] - r["rss_before"]
    ok = growth < 20 and r["live"] == 0 and r["frames_pulled"] == frames
    from gstreamer import _gi

    table = "\n".join(
        [
            f"Machine: {platform.machine()}, Python {platform.python_version()}, "
            f"NumPy {np.__version__}, {_gi.Gst().version_string()}; 64x48 RGB frames, "
            f"RSS after {WARMUP} warm-up frames vs after the run.",
            "",
            "| frames pushed | frames pulled | seconds | frames/s | RSS before (MB) | "
            "RSS after (MB) | growth (MB) | wrapped arrays alive | goal < 20 MB met |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            f"| {r['frames_pushed']:,.0f} | {r['frames_pulled']:,.0f} | {r['seconds']:.1f} | "
            f"{r['frames_pulled'] / r['seconds']:,.0f} | {r['rss_before']:.1f} | "
            f"{r['rss_after']:.1f} | {growth:+.1f} | {r['live']:.0f} | {'yes' if ok else 'NO'} |",
        ]
    )
    publish(table, args.save, heading="# soak.py")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
