"""NumPy <-> Gst.Buffer: zero-copy wrap/view vs the copying PyGObject paths, side by side.

Usage::

    .venv/bin/python benchmarks/bench_buffers.py [--quick] [--repeat 3] [--save [FILE]]

Push: ``appsrc ! fakesink`` fed with ``appsrc.emit("push-buffer", buf)`` where ``buf`` is
``gstreamer.utils.ndarray_to_gst_buffer(a)`` (wraps the array) or
``Gst.Buffer.new_wrapped(a.tobytes())`` (the usual PyGObject idiom, which copies). Timed from
the first push until EOS reaches the sink.

Pull: ``appsrc ! appsink``; each loop pushes one (zero-copy) buffer and pulls the sample,
then turns it into an array with ``buffer_to_ndarray`` (a view), ``buffer_to_ndarray(copy=True)``
(one copy) or ``np.frombuffer(buffer.extract_dup(...))`` (the PyGObject idiom).

Methods run in turns, ``--repeat`` times; the median is reported. Targets: zero-copy push
>= 8x the tobytes path at 1080p; zero-copy push per frame at 4K within 1.5x of 480p; view pull
>= 2x the extract_dup path at 1080p. The markdown table is printed; ``--save`` also
writes it to ``benchmarks/results/buffers.md``.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np
from _common import parser_for, publish

SIZES = {"480p": (480, 640), "1080p": (1080, 1920), "4K": (2160, 3840)}


def _gst() -> Any:
    from gstreamer import _gi

    return _gi.Gst()


def _pipeline(desc: str, caps: str) -> tuple[Any, Any, Any]:
    Gst = _gst()
    pipeline = Gst.parse_launch(desc)
    src = pipeline.get_by_name("src")
    src.set_property("caps", Gst.Caps.from_string(caps))
    pipeline.set_state(Gst.State.PLAYING)
    return pipeline, src, pipeline.get_by_name("sink")


def _caps(size: str) -> str:
    h, w = SIZES[size]
    return f"video/x-raw,format=RGB,width={w},height={h},framerate=30/1"


def _frames(size: str) -> list[np.ndarray]:
    h, w = SIZES[size]
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(4)]


def push(size: str, n: int, make: Callable[[np.ndarray], Any]) -> float:
    """Seconds to push ``n`` frames through ``appsrc ! fakesink`` and reach EOS."""
    Gst = _gst()
    pipeline, src, _ = _pipeline(
        "appsrc name=src format=time block=true max-buffers=4 max-bytes=0 ! "
        "fakesink name=sink sync=false",
        _caps(size),
    )
    arrays = _frames(size)
    try:
        start = time.perf_counter()
        for i in range(n):
            src.emit("push-buffer", make(arrays[i % 4]))
        src.emit("end-of-stream")
        msg = pipeline.get_bus().timed_pop_filtered(
            60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
        )
        elapsed = time.perf_counter() - start
        assert msg is not None and msg.type == Gst.MessageType.EOS, msg
        return elapsed
    finally:
        pipeline.set_state(Gst.State.NULL)


def push_zero_copy(size: str, n: int) -> float:
    from gstreamer.utils import ndarray_to_gst_buffer

    return push(size, n, ndarray_to_gst_buffer)


def push_tobytes(size: str, n: int) -> float:
    Gst = _gst()
    return push(size, n, lambda a: Gst.Buffer.new_wrapped(a.tobytes()))


def pull(size: str, n: int, convert: Callable[[Any, Any], np.ndarray]) -> float:
    """Seconds for ``n`` push/pull/convert loops through ``appsrc ! appsink``."""
    from gstreamer import buffers
    from gstreamer.caps import layout_from_caps

    Gst = _gst()
    layout = layout_from_caps(_caps(size))
    pipeline, src, sink = _pipeline(
        "appsrc name=src format=time ! appsink name=sink sync=false", _caps(size)
    )
    arrays = _frames(size)
    checksum = 0
    try:
        start = time.perf_counter()
        for i in range(n):
            src.emit("push-buffer", buffers.ndarray_to_buffer(arrays[i % 4], layout))
            sample = sink.emit("try-pull-sample", 5 * Gst.SECOND)
            frame = convert(sample.get_buffer(), layout)
            checksum += int(frame[-1, -1, 0])
            del frame, sample
        elapsed = time.perf_counter() - start
        assert checksum == sum(int(arrays[i % 4][-1, -1, 0]) for i in range(n))
        return elapsed
    finally:
        pipeline.set_state(Gst.State.NULL)


def pull_view(size: str, n: int) -> float:
    from gstreamer.buffers import buffer_to_ndarray

    return pull(size, n, lambda buf, layout: buffer_to_ndarray(buf, layout))  # type: ignore


def pull_copy(size: str, n: int) -> float:
    from gstreamer.buffers import buffer_to_ndarray

    return pull(size, n, lambda buf, layout: buffer_to_ndarray(buf, layout, copy=True))  # type: ignore


def pull_extract_dup(size: str, n: int) -> float:
    def convert(buf: Any, layout: Any) -> np.ndarray:
        data = np.frombuffer(buf.extract_dup(0, buf.get_size()), np.uint8)
        return data.reshape(layout.height, layout.strides[0])[:, : layout.width * 3].reshape(
            layout.height, layout.width, 3
        )

    return pull(size, n, convert)


def measure(cases: list[tuple[str, str, str, Callable[[str, int], float], int]], repeat: int):
    times: dict[tuple[str, str, str], list[float]] = {(g, s, m): [] for g, s, m, _, _ in cases}
    for _ in range(repeat):  # in turns, so drift hits every method alike
        for group, size, name, fn, n in cases:
            times[(group, size, name)].append(fn(size, n) / n)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, "buffers.md", quick="few frames, one repeat")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    scale = 0.2 if args.quick else 1.0

    def frames(k: int) -> int:
        return max(10, int(k * scale))

    cases = [
        ("push", "1080p", "ndarray_to_gst_buffer(a)", push_zero_copy, frames(2000)),
        ("push", "1080p", "Gst.Buffer.new_wrapped(a.tobytes())", push_tobytes, frames(300)),
        ("push", "480p", "ndarray_to_gst_buffer(a)", push_zero_copy, frames(2000)),
        ("push", "4K", "ndarray_to_gst_buffer(a)", push_zero_copy, frames(2000)),
        ("pull", "1080p", "buffer_to_ndarray(buf, caps)", pull_view, frames(2000)),
        ("pull", "1080p", "buffer_to_ndarray(buf, caps, copy=True)", pull_copy, frames(300)),
        ("pull", "1080p", "np.frombuffer(buf.extract_dup(...))", pull_extract_dup, frames(300)),
    ]
    per_frame = measure(cases, repeat)

    rows = []
    baselines = {
        ("push", "1080p"): per_frame[("push", "1080p", "Gst.Buffer.new_wrapped(a.tobytes())")],
        ("push", "480p"): per_frame[("push", "1080p", "Gst.Buffer.new_wrapped(a.tobytes())")],
        ("push", "4K"): per_frame[("push", "1080p", "Gst.Buffer.new_wrapped(a.tobytes())")],
        ("pull", "1080p"): per_frame[("pull", "1080p", "np.frombuffer(buf.extract_dup(...))")],
    }
    for group, size, name, _, n in cases:
        t = per_frame[(group, size, name)]
        base = baselines[(group, size)]
        rows.append(
            f"| {group} | {size} RGB | `{name}` | {n} | {1 / t:,.0f} | {t * 1e6:,.1f} | "
            f"{base / t:.1f}x |"
        )

    zc = per_frame[("push", "1080p", "ndarray_to_gst_buffer(a)")]
    tb = per_frame[("push", "1080p", "Gst.Buffer.new_wrapped(a.tobytes())")]
    p480 = per_frame[("push", "480p", "ndarray_to_gst_buffer(a)")]
    p4k = per_frame[("push", "4K", "ndarray_to_gst_buffer(a)")]
    view = per_frame[("pull", "1080p", "buffer_to_ndarray(buf, caps)")]
    dup = per_frame[("pull", "1080p", "np.frombuffer(buf.extract_dup(...))")]
    checks = [
        ("zero-copy push vs tobytes at 1080p", tb / zc, ">= 8x", tb / zc >= 8),
        ("push per frame, 4K / 480p", p4k / p480, "<= 1.5x", p4k / p480 <= 1.5),
        ("view pull vs extract_dup at 1080p", dup / view, ">= 2x", dup / view >= 2),
    ]
    lines = [
        f"Machine: {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"{_gst().version_string()}; {'quick' if args.quick else 'full'} run, "
        f"median of {repeat}.",
        "",
        "| what | frames | method | n | frames/s | µs/frame | speed vs the 1080p copy path |",
        "|---|---|---|---:|---:|---:|---:|",
        *rows,
        "",
        "| target | measured | goal | met |",
        "|---|---:|---|---|",
        *[
            f"| {name} | {v:.2f}x | {goal} | {'yes' if ok else 'NO'} |"
            for name, v, goal, ok in checks
        ],
    ]
    publish("\n".join(lines), args.save, heading="# bench_buffers.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
