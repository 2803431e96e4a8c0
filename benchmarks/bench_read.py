"""Decode a 720p H.264 MP4 into RGB arrays: gstreamer.Reader vs PyAV vs gst-launch-1.0.

Usage::

    .venv/bin/python benchmarks/bench_read.py [--frames 300] [--repeat 3] [--save [FILE]]

The clip is made first with ``gst-launch-1.0 ... x264enc ! mp4mux`` (videotestsrc snow at
6 Mbit/s, so the decoder has real work). Each method runs ``--repeat`` times, in turns, and
the median wall time is reported with the CPU time it used. Targets: Reader >= 1.3x PyAV and
within 10 % of gst-launch (decoding to RGB into fakesink). The markdown table is printed;
``--save`` also writes it to ``benchmarks/results/read.md``.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from _common import parser_for, publish


def make_clip(path: Path, frames: int) -> None:
    subprocess.run(
        [
            "gst-launch-1.0",
            "-q",
            "videotestsrc",
            f"num-buffers={frames}",
            "pattern=snow",
            "!",
            "video/x-raw,format=I420,width=1280,height=720,framerate=30/1",
            "!",
            "x264enc",
            "speed-preset=veryfast",
            "bitrate=6000",
            "key-int-max=60",
            "!",
            "video/x-h264,profile=high",
            "!",
            "mp4mux",
            "!",
            "filesink",
            f"location={path}",
        ],
        check=True,
    )


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_reader(path: Path) -> int:
    from gstreamer import Reader

    n = 0
    checksum = 0
    with Reader(path, format="RGB") as reader:
        for frame in reader:
            checksum += int(frame.data[360, 640, 0])
            n += 1
    return n


def run_pyav(path: Path) -> int:
    import av

    n = 0
    checksum = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            array = frame.to_ndarray(format="rgb24")
            checksum += int(array[360, 640, 0])
            n += 1
    return n


def _gst_launch(*elements: str) -> Callable[[Path], int]:
    def run(path: Path) -> int:
        cmd = ["gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", *elements]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return -1  # frames are not counted by gst-launch

    return run


def run_pyav_decode_only(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


CORES = os.cpu_count() or 1
TUNED_AVDEC = f"avdec_h264 max-threads={CORES + 1} thread-type=frame"
GST_RGB = "qtdemux ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=RGB ! fakesink"
GST_READER_FAKESINK = (
    f"qtdemux ! h264parse ! {TUNED_AVDEC} ! queue ! videoconvert n-threads={CORES} ! "
    "video/x-raw,format=RGB ! fakesink"
)

METHODS: dict[str, Callable[[Path], int]] = {
    "gstreamer.Reader (RGB arrays)": run_reader,
    "PyAV (to_ndarray rgb24, thread_type=AUTO)": run_pyav,
    f"gst-launch-1.0 `{GST_RGB}`": _gst_launch(*GST_RGB.split()),
}
# Where the time goes.
PROFILE: dict[str, Callable[[Path], int]] = {
    "profile: PyAV decode only (no RGB)": run_pyav_decode_only,
    "profile: gst-launch avdec_h264 (defaults) ! fakesink": _gst_launch(
        *["qtdemux", "!", "h264parse", "!", "avdec_h264", "!", "fakesink"]
    ),
    f"profile: gst-launch {TUNED_AVDEC} ! fakesink (the Reader's decoder settings)": (
        _gst_launch(*f"qtdemux ! h264parse ! {TUNED_AVDEC} ! fakesink".split())
    ),
    f"profile: gst-launch `{GST_READER_FAKESINK}` (the Reader's pipeline, no Python)": (
        _gst_launch(*GST_READER_FAKESINK.split())
    ),
}


THREAD_SRC = (
    "videotestsrc num-buffers=150 pattern=snow ! video/x-raw,format=I420,width=1280,height=720"
)


def _read_pattern() -> None:
    from gstreamer import Reader

    with Reader(THREAD_SRC) as reader:
        for _ in reader:
            pass


def threads_vs_sequential(repeat: int) -> tuple[float, float]:
    """Median wall time of two readers one after the other, and of two in threads."""
    import threading

    _read_pattern()
    seq, par = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _read_pattern()
        _read_pattern()
        seq.append(time.perf_counter() - t0)
        threads = [threading.Thread(target=_read_pattern) for _ in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        par.append(time.perf_counter() - t0)
    return statistics.median(seq), statistics.median(par)


def _libavcodec_versions() -> str:
    """Which libavcodec each side decodes with."""
    import av

    pyav = ".".join(str(v) for v in av.library_versions.get("libavcodec", ()))
    gst = "?"
    try:
        out = subprocess.run(
            ["gst-inspect-1.0", "libav"], capture_output=True, text=True, check=False
        ).stdout
        for line in out.splitlines():
            if "Version" in line and gst == "?":
                gst = line.split()[-1]
    except OSError:
        pass
    return f"PyAV's wheel bundles libavcodec {pyav}; gst-libav {gst} uses the system's"


def measure(fn: Callable[[Path], int], path: Path) -> tuple[float, float, int]:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    frames = fn(path)
    return time.perf_counter() - t0, cpu_seconds() - cpu0, frames


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, "read.md")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clip", type=Path, help="use this MP4 instead of generating one")
    args = parser.parse_args(argv)
    if not shutil.which("gst-launch-1.0"):
        print("gst-launch-1.0 is required", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip
        if clip is None:
            clip = Path(tmp) / "clip720.mp4"
            print(f"making {args.frames} frames of 1280x720 H.264 ...", file=sys.stderr)
            make_clip(clip, args.frames)
        methods = {**METHODS, **PROFILE}
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in methods}
        for fn in methods.values():  # warm-up: page cache, plugin registry, imports
            fn(clip)
        for _ in range(args.repeat):
            for name, fn in methods.items():
                runs[name].append(measure(fn, clip))

    frames = args.frames
    counted = {n: r[0][2] for n, r in runs.items() if r[0][2] >= 0}
    for name, n in counted.items():
        if n != frames:
            print(f"warning: {name} produced {n} frames, expected {frames}", file=sys.stderr)
    wall = {n: statistics.median(t for t, _, _ in r) for n, r in runs.items()}
    cpu = {n: statistics.median(c for _, c, _ in r) for n, r in runs.items()}
    names = list(methods)
    reader, pyav, launch = names[0], names[1], names[2]

    lines = [
        f"# Reading a 1280x720 H.264 MP4 ({frames} frames) into RGB",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"median of {args.repeat} runs (after one warm-up run each), one process. The "
        "methods run in turns, so load from other jobs hits them alike; still, on a shared "
        "2-core machine the ratios move by about 15 % from one run to the next.",
        "",
        "| method | wall s | fps | CPU s | speed vs PyAV | time vs gst-launch |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        lines.append(
            f"| {name} | {wall[name]:.2f} | {frames / wall[name]:.0f} | {cpu[name]:.2f} | "
            f"{wall[pyav] / wall[name]:.2f}x | {wall[name] / wall[launch]:.2f}x |"
        )
    speedup = wall[pyav] / wall[reader]
    vs_launch = wall[reader] / wall[launch]
    lines += [
        "",
        f"Reader speed / PyAV speed: {speedup:.2f}x (target >= 1.3x: "
        f"{'met' if speedup >= 1.3 else 'NOT met'}).",
        f"Reader time / gst-launch time: {vs_launch:.2f}x (target <= 1.10x: "
        f"{'met' if vs_launch <= 1.10 else 'NOT met'}).",
        "",
        "The profile rows show where the time goes: decoding alone (PyAV's and GStreamer's "
        "libav decoder, with default and with the Reader's thread settings), and the "
        "Reader's own pipeline ending in fakesink instead of Python.",
    ]
    if speedup < 1.3:
        profile = list(PROFILE)
        pyav_dec, gst_tuned, gst_pipe = profile[0], profile[2], profile[3]
        lines += [
            "",
            "### Why the PyAV target is not met here",
            "",
            f"* 1.3x PyAV means {wall[pyav] / 1.3:.2f} s for everything; PyAV's decoding alone "
            f"takes {wall[pyav_dec]:.2f} s and GStreamer's libav decoding alone "
            f"{wall[gst_tuned]:.2f} s ({_libavcodec_versions()}).",
            f"* CPU time: the Reader uses {cpu[reader]:.2f} s, PyAV {cpu[pyav]:.2f} s. Conversion "
            f"to RGB costs about {cpu[reader] - cpu[gst_tuned]:.2f} CPU s in GStreamer "
            f"(videoconvert, plus Python) against {cpu[pyav] - cpu[pyav_dec]:.2f} CPU s for "
            "PyAV (libswscale).",
            f"* On {CORES} cores the work is CPU-bound: wall time >= CPU time / cores "
            f"= {cpu[reader] / CORES:.2f} s for the Reader, so no scheduling change can reach "
            "the target; only a cheaper decoder or colour converter could.",
            f"* Python adds little: the Reader's pipeline into fakesink takes {wall[gst_pipe]:.2f} "
            f"s, the Reader {wall[reader]:.2f} s.",
        ]
    seq, par = threads_vs_sequential(args.repeat)
    lines += [
        "",
        "## Two readers in threads (the GIL is released while a reader waits)",
        "",
        f"Each reader: `{THREAD_SRC}` read as RGB arrays (150 frames, 720p).",
        "",
        "| two readers | wall s |",
        "|---|---:|",
        f"| one after the other | {seq:.2f} |",
        f"| in two threads at once | {par:.2f} |",
        "",
        f"Speed-up from threads: {seq / par:.2f}x on {CORES} cores.",
    ]
    publish("\n".join(lines) + "\n", args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
