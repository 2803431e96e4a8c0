"""Random access to video frames: gstreamer.VideoFile against decord, torchcodec, PyAV, OpenCV.

One run makes the media with ffmpeg (cached in --workdir), then times, in fresh processes and
alternating between methods, the fetch of the same seeded random frame indices:

* ``gstreamer``: ``VideoFile(path).get_batch(indices)`` (this package, the project's .venv);
* ``decord`` / ``decord-sorted``: ``VideoReader.get_batch`` on the indices as asked / sorted;
* ``torchcodec``: ``VideoDecoder(path, seek_mode="exact").get_frames_at(indices)``;
* ``pyav-sorted``: PyAV, seek to the keyframe and decode forward, indices sorted;
* ``opencv-sorted``: OpenCV ``CAP_PROP_POS_FRAMES`` then ``read()``, indices sorted;
* ``gstreamer-scan``: for scale, a full sequential read with ``gstreamer.Reader``.

Each frame's index is burned into its top-left corner, so every method's answer is checked
(the ``wrong`` column). Times include opening the file (decord and torchcodec's exact mode
index the file on open, as VideoFile does), not the interpreter start-up. It also times
``gstreamer.probe`` and ten ``gstreamer.thumbnails`` on a 10-minute 720p file.

The peers live in their own venv (``bash benchmarks/peers/setup.sh``), never in the
project's. A peer that is not installed is reported as such.

    .venv/bin/python benchmarks/bench_seek.py            # print a markdown table
    .venv/bin/python benchmarks/bench_seek.py --save     # and write benchmarks/results/seek.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE / "peers" / ".venv" / "bin" / "python"
RESULTS = HERE / "results" / "seek.md"

WIDTH, HEIGHT, FPS = 1280, 720, 30
MARK_W, MARK_H = 320, 240  # the burned index: 4x4 blocks in the top-left corner

# Runs in a fresh process: python -c WORKER METHOD PATH INDICES_JSON; prints one JSON line.
WORKER = r"""
import json, sys, time
method, path, indices = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

def number(frame):  # frame: (H, W, C) array
    value = 0
    for bit in range(16):
        r, c = divmod(bit, 4)
        y, x = r * 60 + 30, c * 80 + 40
        if frame[y - 4:y + 5, x - 4:x + 5].mean() > 128:
            value |= 1 << bit
    return value

def in_order(fetch_sorted):
    unique = sorted(set(indices))
    got = dict(zip(unique, fetch_sorted(unique)))
    return [got[i] for i in indices]

try:
    t0 = time.perf_counter()
    if method == "gstreamer":
        import gstreamer
        vf = gstreamer.VideoFile(path)
        t1 = time.perf_counter()
        frames = list(vf.get_batch(indices))
    elif method == "gstreamer-scan":
        import gstreamer
        reader = gstreamer.Reader(path)
        t1 = time.perf_counter()
        frames, wanted, n = [], set(indices), 0
        for frame in reader:
            if n in wanted:
                frames.append((n, frame.data.copy()))
            n += 1
        got = dict(frames)
        frames = [got[i] for i in indices]
    elif method in ("decord", "decord-sorted"):
        from decord import VideoReader, cpu
        vr = VideoReader(path, ctx=cpu(0))
        t1 = time.perf_counter()
        if method == "decord":
            frames = list(vr.get_batch(indices).asnumpy())
        else:
            frames = in_order(lambda ix: list(vr.get_batch(ix).asnumpy()))
    elif method == "torchcodec":
        from torchcodec.decoders import VideoDecoder
        decoder = VideoDecoder(path, seek_mode="exact")
        t1 = time.perf_counter()
        batch = decoder.get_frames_at(indices=indices).data  # (N, C, H, W)
        frames = list(batch.permute(0, 2, 3, 1).numpy())
    elif method == "pyav-sorted":
        import av
        container = av.open(path)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        t1 = time.perf_counter()
        step = 1 / (stream.average_rate * stream.time_base)
        start = stream.start_time or 0
        def fetch(unique):
            out, frames_iter, last = [], None, None
            for i in unique:
                target = start + round(i * step)
                far = last is None or target < last or target - last > 60 * step
                if frames_iter is None or far:
                    container.seek(target, stream=stream, backward=True, any_frame=False)
                    frames_iter = container.decode(stream)
                for frame in frames_iter:
                    last = frame.pts
                    if frame.pts >= target:
                        out.append(frame.to_ndarray(format="rgb24"))
                        break
            return out
        frames = in_order(fetch)
    elif method == "opencv-sorted":
        import cv2
        cap = cv2.VideoCapture(path)
        t1 = time.perf_counter()
        def fetch(unique):
            out, position = [], None
            for i in unique:
                if position != i:
                    cap.set(cv2.CAP_PROP_POS_FRAMES, i)
                ok, frame = cap.read()
                position = i + 1
                out.append(frame)
            return out
        frames = in_order(fetch)
    elif method == "gstreamer-probe":
        import gstreamer
        t1 = time.perf_counter()
        info = gstreamer.probe(path)
        frames = []
    elif method == "gstreamer-thumbnails":
        import gstreamer
        t1 = time.perf_counter()
        frames = gstreamer.thumbnails(path, n=10)
        assert len(frames) == 10
        frames = []
    else:
        raise ValueError(method)
    t2 = time.perf_counter()
    wrong = sum(number(f) != i for f, i in zip(frames, indices)) if frames else 0
    print(json.dumps({"open": t1 - t0, "get": t2 - t1, "wrong": wrong}))
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:300]}))
"""

SEEK_METHODS = [
    "gstreamer",
    "decord",
    "decord-sorted",
    "torchcodec",
    "pyav-sorted",
    "opencv-sorted",
    "gstreamer-scan",
]


def run(cmd: list[str], **kwargs: object) -> None:
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def make_seek_clip(path: Path, seconds: int) -> None:
    """720p H.264 (B-frames, GOP 60) of moving test content, the frame index burned in."""
    import numpy as np

    n = seconds * FPS
    proc = subprocess.Popen(
        ["ffmpeg", "-y", "-v", "error",
         "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{MARK_W}x{MARK_H}", "-r", str(FPS),
         "-i", "-",
         "-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds}",
         "-filter_complex", "[1:v][0:v]overlay=0:0:shortest=1",
         "-c:v", "libx264", "-preset", "fast", "-g", "60", "-keyint_min", "60",
         "-sc_threshold", "0", "-bf", "2", "-pix_fmt", "yuv420p", str(path)],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None
    bw, bh = MARK_W // 4, MARK_H // 4
    for i in range(n):
        mark = np.full((MARK_H, MARK_W), 16, np.uint8)
        for bit in range(16):
            if (i >> bit) & 1:
                r, c = divmod(bit, 4)
                mark[r * bh : (r + 1) * bh, c * bw : (c + 1) * bw] = 235
        proc.stdin.write(mark.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("ffmpeg failed to make the seek clip")


def make_long_clip(path: Path, seconds: int) -> None:
    """A long 720p H.264 file (ultrafast preset, default GOP 250)."""
    run(
        ["ffmpeg", "-y", "-v", "error", "-f", "lavfi",
         "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]
    )  # fmt: skip


def python_for(method: str) -> Path:
    return Path(sys.executable) if method.startswith("gstreamer") else PEERS_PYTHON


def measure(method: str, path: Path, indices: list[int], timeout: float) -> dict[str, object]:
    python = python_for(method)
    if not python.exists():
        return {"error": "peers venv missing: run bash benchmarks/peers/setup.sh"}
    try:
        out = subprocess.run(
            [str(python), "-c", WORKER, method, str(path), json.dumps(indices)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": (out.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    result: dict[str, object] = json.loads(lines[-1])
    return result


def summarise(
    runs: dict[str, list[dict[str, object]]], reference: str
) -> list[tuple[str, str, str, str, str, str]]:
    rows = []
    base = None
    medians: dict[str, float] = {}
    for method, results in runs.items():
        ok = [r for r in results if "error" not in r]
        if ok:
            medians[method] = statistics.median(
                float(r["open"]) + float(r["get"])  # type: ignore[arg-type]
                for r in ok
            )
    base = medians.get(reference)
    for method, results in runs.items():
        ok = [r for r in results if "error" not in r]
        if not ok:
            error = str(results[0].get("error", "?")) if results else "not run"
            rows.append((method, "-", "-", "-", "-", f"not measured: {error}"))
            continue
        total = medians[method]
        opened = statistics.median(float(r["open"]) for r in ok)  # type: ignore[arg-type]
        got = statistics.median(float(r["get"]) for r in ok)  # type: ignore[arg-type]
        wrong = max(int(r["wrong"]) for r in ok)  # type: ignore[call-overload]
        ratio = f"{total / base:.2f}x" if base else "-"
        rows.append((method, f"{total:.3f}", f"{opened:.3f}", f"{got:.3f}", str(wrong), ratio))
    return rows


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "bench-seek"))
    parser.add_argument("--seconds", type=int, default=30, help="seek clip length (30)")
    parser.add_argument("--long-seconds", type=int, default=600, help="probe clip (600)")
    parser.add_argument("-n", "--indices", type=int, default=100, help="random indices (100)")
    parser.add_argument("-r", "--repeat", type=int, default=3, help="runs per method (3)")
    parser.add_argument("--methods", default=",".join(SEEK_METHODS))
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--save", action="store_true", help=f"write {RESULTS}")
    args = parser.parse_args()

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    clip = work / f"seek-{args.seconds}s-720p-gop60.mp4"
    long_clip = work / f"long-{args.long_seconds}s-720p.mp4"
    if not clip.exists():
        print(f"making {clip} ...", file=sys.stderr)
        make_seek_clip(clip, args.seconds)
    if not long_clip.exists():
        print(f"making {long_clip} ...", file=sys.stderr)
        make_long_clip(long_clip, args.long_seconds)

    frames = args.seconds * FPS
    rng = random.Random(0)
    indices = [rng.randrange(frames) for _ in range(args.indices)]
    methods = [m for m in args.methods.split(",") if m]
    runs: dict[str, list[dict[str, object]]] = {m: [] for m in methods}
    extra: dict[str, list[dict[str, object]]] = {
        "gstreamer-probe": [],
        "gstreamer-thumbnails": [],
    }
    for rep in range(args.repeat):
        order = methods[rep % len(methods) :] + methods[: rep % len(methods)]
        for method in order:
            result = measure(method, clip, indices, args.timeout)
            runs[method].append(result)
            print(f"run {rep + 1} {method}: {result}", file=sys.stderr)
            if "error" in result and rep == 0:
                pass
        for method in extra:
            result = measure(method, long_clip, [], args.timeout)
            extra[method].append(result)
            print(f"run {rep + 1} {method}: {result}", file=sys.stderr)

    header = ("method", "total s (median)", "open s", "get s", "wrong frames", "vs gstreamer")
    seek_table = table(summarise(runs, "gstreamer"), header)
    extra_rows = []
    for method, results in extra.items():
        ok = [r for r in results if "error" not in r]
        if ok:
            call = statistics.median(float(r["get"]) for r in ok)  # type: ignore[arg-type]
            extra_rows.append((method, f"{call:.3f}", f"{min(float(r['get']) for r in ok):.3f}"))  # type: ignore[arg-type]
        else:
            extra_rows.append((method, "-", str(results[0].get("error") if results else "")))
    extra_table = table(extra_rows, ("call", "median s", "min s"))
    text = (
        f"# Random access (`benchmarks/bench_seek.py`)\n\n"
        f"{args.indices} seeded random frame indices (repeats possible, unsorted) out of "
        f"{frames} frames of a {WIDTH}x{HEIGHT} {args.seconds} s H.264 clip (GOP 60, "
        f"B-frames); each method in a fresh process, methods alternating, {args.repeat} "
        f"runs each; times include opening the file. `wrong` counts frames whose burned "
        f"index differs from the one asked.\n\n{seek_table}\n\n"
        f"On a {args.long_seconds} s {WIDTH}x{HEIGHT} H.264 file (fresh process; the call "
        f"includes GStreamer's first-use initialisation):\n\n{extra_table}\n\n"
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {time.strftime('%Y-%m-%d')}. A shared, busy machine: "
        f"figures are noisy.\n"
    )
    print(text)
    if args.save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
        print(f"saved {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
