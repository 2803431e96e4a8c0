"""MultiReader: CPU per batch against four independent Readers, and a long live run.

Usage::

    .venv/bin/python benchmarks/bench_multireader.py [--files] [--live] [--seconds 60] [--save]

``--files``: four 320x240 H.264 files (300 frames each), read as ``(4, 240, 320, 3)`` batches by
``MultiReader(mode="sync")`` and by four ``Reader`` objects in four threads whose frames are
stacked by hand. Reports wall time and CPU seconds per batch (all threads of the process).

``--live``: four loopback sources at 320x240, 30 fps (two RTSP streams from
``gstreamer.streaming.RtspServer``, one RTP/UDP stream from ``UdpSender``, one looping file).
The servers run in a child process, so the CPU measured is the reader's alone. For
``--seconds`` seconds ``MultiReader(mode="latest", fps=30)`` makes batches: batches/s, p95/max
age; then one RTSP server is stopped and the time until its slot is flagged ``ok=False`` is
measured. Then four independent ``Reader(latest_only=True)`` in four threads (the file one
paced by the clock and reopened at its end) are batched at 30 fps by hand for the same time,
for CPU seconds per batch.

Without ``--files``/``--live`` both run. Results are printed; ``--save`` also writes them to
``benchmarks/results/multireader.md``. On a shared machine the figures are noisy.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Optional

import numpy as np
from _common import TESTS, parser_for, publish, use_test_helpers

use_test_helpers()  # the indexed clips and live sources helpers
from _indexed import make_clip  # noqa: E402

import gstreamer  # noqa: E402

W, H, FPS = 320, 240, 30


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


# -- files -----------------------------------------------------------------------------------


def bench_files(folder: str, frames: int) -> dict[str, Any]:
    paths = [
        make_clip(os.path.join(folder, f"f{i}.mp4"), frames, width=W, height=H) for i in range(4)
    ]

    def multireader() -> int:
        misaligned = 0
        count = 0
        with gstreamer.MultiReader(paths, size=(W, H)) as reader:
            for batch in reader:
                count += 1
                misaligned += int(np.ptp(batch.pts) != 0)  # frames checked by index in the tests
        assert misaligned == 0, misaligned
        return count

    def readers() -> int:
        slots: list[list[np.ndarray]] = [[] for _ in paths]
        ready = [threading.Semaphore(0) for _ in paths]
        room = [threading.Semaphore(4) for _ in paths]

        def run(i: int) -> None:
            with gstreamer.Reader(paths[i], width=W, height=H) as reader:
                for frame in reader:
                    room[i].acquire()
                    slots[i].append(frame.data)
                    ready[i].release()
            slots[i].append(None)  # type: ignore[arg-type]
            ready[i].release()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(paths))]
        for t in threads:
            t.start()
        count = 0
        while True:
            for sem in ready:
                sem.acquire()
            heads = [s.pop(0) for s in slots]
            if any(h is None for h in heads):
                break
            np.stack(heads)  # the batch, as MultiReader gives it
            for sem in room:
                sem.release()
            count += 1
        for t in threads:
            t.join()
        return count

    results: dict[str, Any] = {"frames": frames}
    multireader()  # warm-up: plugins loaded, files in the page cache
    readers()
    for name, fn in (("multireader", multireader), ("readers", readers)) * 2:
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        batches = fn()
        wall, cpu = time.monotonic() - wall0, cpu_seconds() - cpu0
        results[name] = {
            "batches": batches,
            "wall": wall,
            "cpu": cpu,
            "cpu_per_batch": cpu / batches,
        }
    return results


# -- live ------------------------------------------------------------------------------------

_SERVER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from _live import live_sources
with live_sources(sys.argv[2]) as live:
    print(json.dumps(live.sources), flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name:
            live.kill(name)
            print("killed", flush=True)
"""


@contextlib.contextmanager
def server_process(folder: str):
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(TESTS), folder],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        sources = json.loads(proc.stdout.readline())
        yield proc, sources
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(30)


def bench_live_multireader(sources: list[str], seconds: float, proc: Any) -> dict[str, Any]:
    with gstreamer.MultiReader(sources, size=(W, H), fps=FPS, mode="latest", loop=True) as reader:
        deadline = time.monotonic() + 30
        while True:
            batch = reader.read()
            assert batch is not None
            if batch.ok.all():
                break
            assert time.monotonic() < deadline, batch.ok
        ages: list[np.ndarray] = []
        not_ok = 0
        count = 0
        cpu0, start = cpu_seconds(), time.monotonic()
        while time.monotonic() - start < seconds:
            batch = reader.read()
            assert batch is not None
            count += 1
            ages.append(batch.age)
            not_ok += int((~batch.ok).sum())
        wall, cpu = time.monotonic() - start, cpu_seconds() - cpu0
        flagged = {}
        for name, index in (("rtsp0", 0), ("udp", 2)):  # an error, then a silent source
            proc.stdin.write(f"{name}\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "killed"
            killed = time.monotonic()
            while True:
                batch = reader.read()
                if not batch.ok[index]:
                    break
            flagged[name] = time.monotonic() - killed
        others = [reader.read() for _ in range(30)][-1].ok[[1, 3]].all()
    age = np.concatenate(ages)
    return {
        "batches": count,
        "seconds": wall,
        "batches_per_s": count / wall,
        "age_p50_ms": float(np.percentile(age, 50) * 1000),
        "age_p95_ms": float(np.percentile(age, 95) * 1000),
        "age_max_ms": float(age.max() * 1000),
        "not_ok_slots": not_ok,
        "cpu": cpu,
        "cpu_per_batch": cpu / count,
        "flagged_after_s": flagged,
        "others_ok_after_kill": bool(others),
    }


def bench_live_readers(sources: list[str], seconds: float) -> dict[str, Any]:
    latest: list[Optional[np.ndarray]] = [None] * len(sources)
    stop = threading.Event()
    errors: list[BaseException] = []

    def open_reader(source: str) -> gstreamer.Reader:
        if os.path.exists(source):  # the looping file, paced by the clock like a camera
            return gstreamer.Reader(
                f"filesrc location={source} ! decodebin ! videoconvert ! videoscale ! "
                f"video/x-raw,format=RGB,width={W},height={H} ! "
                "appsink name=sink sync=true max-buffers=1 drop=true"
            )
        return gstreamer.Reader(source, width=W, height=H, latest_only=True)

    def run(i: int) -> None:
        try:
            while not stop.is_set():
                with open_reader(sources[i]) as reader:
                    while not stop.is_set():
                        frame = reader.read()
                        if frame is None:
                            break  # the file ended: play it again
                        latest[i] = frame.data
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(sources))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while any(x is None for x in latest):
        assert time.monotonic() < deadline and not errors, errors
        time.sleep(0.01)
    count = 0
    cpu0, start = cpu_seconds(), time.monotonic()
    tick = start
    while time.monotonic() - start < seconds:
        tick += 1 / FPS
        time.sleep(max(0.0, tick - time.monotonic()))
        np.stack(latest)  # type: ignore[arg-type]
        count += 1
    wall, cpu = time.monotonic() - start, cpu_seconds() - cpu0
    stop.set()
    for t in threads:
        t.join(15)
    assert not errors, errors
    return {
        "batches": count,
        "seconds": wall,
        "batches_per_s": count / wall,
        "cpu": cpu,
        "cpu_per_batch": cpu / count,
    }


def bench_live(folder: str, seconds: float) -> dict[str, Any]:
    with server_process(folder) as (proc, sources):
        multi = bench_live_multireader(sources, seconds, proc)
    with server_process(folder) as (proc, sources):
        readers = bench_live_readers(sources, seconds)
    return {"multireader": multi, "readers": readers}


# -- report ----------------------------------------------------------------------------------


def report(files: Optional[dict[str, Any]], live: Optional[dict[str, Any]], seconds: float) -> str:
    lines = [
        "# MultiReader",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs: the figures are "
        f"noisy), Python {platform.python_version()}, GStreamer "
        f"{'.'.join(map(str, gstreamer.Gst.version()[:3]))}. "
        "`.venv/bin/python benchmarks/bench_multireader.py --save` wrote this file.",
        "",
    ]
    if files is not None:
        m, r = files["multireader"], files["readers"]
        lines += [
            f'## Four {W}x{H} H.264 files ({files["frames"]} frames each), `mode="sync"`',
            "",
            "| method | batches | wall s | CPU s | CPU ms per batch |",
            "|---|---:|---:|---:|---:|",
            f"| MultiReader (one pipeline) | {m['batches']} | {m['wall']:.2f} | {m['cpu']:.2f} | "
            f"{m['cpu_per_batch'] * 1000:.2f} |",
            f"| four Readers in four threads, stacked | {r['batches']} | {r['wall']:.2f} | "
            f"{r['cpu']:.2f} | {r['cpu_per_batch'] * 1000:.2f} |",
            "",
            f"CPU per batch, MultiReader / four Readers: "
            f"{m['cpu_per_batch'] / r['cpu_per_batch']:.2f}x (target <= 1.2x). "
            "Misaligned batches (timestamps not equal): 0. Each method ran twice in turns after a "
            "warm-up run; the table shows the second run.",
            "",
        ]
    if live is not None:
        m, r = live["multireader"], live["readers"]
        ratio = m["cpu_per_batch"] / r["cpu_per_batch"]
        lines += [
            f"## Four live sources, {W}x{H} at {FPS} fps, {seconds:.0f} s",
            "",
            "Two RTSP streams (`RtspServer`), one RTP/UDP stream (`UdpSender`), one looping MP4; "
            "the servers run in another process.",
            "",
            "| method | batches/s | age p50 / p95 / max ms | CPU ms per batch |",
            "|---|---:|---:|---:|",
            f'| MultiReader `mode="latest", fps=30` | {m["batches_per_s"]:.2f} | '
            f"{m['age_p50_ms']:.1f} / {m['age_p95_ms']:.1f} / {m['age_max_ms']:.1f} | "
            f"{m['cpu_per_batch'] * 1000:.2f} |",
            f"| four `Reader(latest_only=True)` in threads, stacked at 30/s | "
            f"{r['batches_per_s']:.2f} | - | {r['cpu_per_batch'] * 1000:.2f} |",
            "",
            f"- batches/s: {m['batches_per_s']:.2f} (target >= 25); p95 age "
            f"{m['age_p95_ms']:.1f} ms (target <= 100); slots flagged not ok during the run: "
            f"{m['not_ok_slots']}.",
            f"- One RTSP server stopped (the client sees the connection close): its slot flagged "
            f"`ok=False` after {m['flagged_after_s']['rtsp0']:.3f} s; then the UDP sender stopped "
            f"(nothing arrives any more): flagged after {m['flagged_after_s']['udp']:.3f} s "
            f"(`stale=1.0`); target <= 2 s. The other two ok afterwards: "
            f"{m['others_ok_after_kill']}.",
            f"- CPU per batch, MultiReader / four Readers: {ratio:.2f}x (target <= 1.2x).",
            "",
        ]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = parser_for(__doc__, "multireader.md")
    parser.add_argument("--files", action="store_true")
    parser.add_argument("--live", action="store_true")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    both = not args.files and not args.live
    with tempfile.TemporaryDirectory() as folder:
        files = bench_files(folder, args.frames) if args.files or both else None
        live = bench_live(folder, args.seconds) if args.live or both else None
    text = report(files, live, args.seconds)
    publish(text, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
