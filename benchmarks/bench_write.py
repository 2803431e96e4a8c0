"""Write 300 RGB frames (1280x720) to H.264 MP4: gstreamer.Writer vs PyAV vs imageio-ffmpeg
vs gst-launch-1.0, side by side in one run, with the same encoder settings everywhere
(libx264 / x264enc: preset ultrafast, tune zerolatency, constant quality 23, yuv420p,
default threads).

Run: .venv/bin/python benchmarks/bench_write.py [--frames 300] [--repeat 3]
Prints a markdown table; ``--save`` also writes it to benchmarks/results/write.md.

``--durable`` measures instead what power-loss safety costs a crash-safe MP4 written as fast
as possible (the worst case; at a camera's 30 fps nothing is lost either way): the default
(``fsync`` at every fragment), ``durable=False``, ``crash_safe=False``, and the rejected
alternative ``filesink o-sync=true`` (every write synchronous: mp4mux writes each frame
with its own call), at 1280x720 and at 160x120. ``--save`` writes benchmarks/results/durable.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

WIDTH, HEIGHT, FPS = 1280, 720, 30
# pass=qual is x264's CRF; x264enc's `bitrate` caps the VBV in that mode, so lift it
X264 = "x264enc speed-preset=ultrafast tune=zerolatency pass=qual quantizer=23 bitrate=2048000"
LIBX264 = {"preset": "ultrafast", "tune": "zerolatency", "crf": "23"}
RESULTS = Path(__file__).resolve().parent / "results" / "write.md"
DURABLE_RESULTS = RESULTS.with_name("durable.md")


def make_frames(n: int) -> list[np.ndarray]:
    """Synthetic moving content: scrolling gradients and a moving box (no randomness)."""
    y = np.arange(HEIGHT, dtype=np.float32)[:, None]
    x = np.arange(WIDTH, dtype=np.float32)[None, :]
    frames = []
    for i in range(n):
        r = (127 + 120 * np.sin((x + 4 * i) / 60.0) * np.cos(y / 90.0)).astype(np.uint8)
        g = ((x + y + 3 * i) % 256).astype(np.uint8)
        b = (127 + 100 * np.cos((y - 2 * i) / 40.0) + 0 * x).astype(np.uint8)
        frame = np.stack([r, np.broadcast_to(g, r.shape), np.broadcast_to(b, r.shape)], axis=2)
        frame = np.ascontiguousarray(frame)
        x0 = (8 * i) % (WIDTH - 160)
        frame[200:360, x0 : x0 + 160] = (250, 40, 40)
        frames.append(frame)
    return frames


def run_writer(frames: list[np.ndarray], out: str) -> None:
    from gstreamer import Writer

    with Writer(out, fps=FPS) as w:  # encoder="auto" is X264 with I420 input here
        for frame in frames:
            w.write(frame)


def run_pyav(frames: list[np.ndarray], out: str) -> None:
    import av

    with av.open(out, "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options=dict(LIBX264))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for array in frames:
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def run_imageio(frames: list[np.ndarray], out: str) -> None:
    import imageio_ffmpeg

    params = [x for k, v in LIBX264.items() for x in (f"-{k}", v)]
    gen = imageio_ffmpeg.write_frames(
        out,
        (WIDTH, HEIGHT),
        fps=FPS,
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        quality=None,
        output_params=params,
    )
    gen.send(None)
    for frame in frames:
        gen.send(frame)
    gen.close()


def gst_launch_command(raw: str, out: str) -> list[str]:
    """gst-launch-1.0 running the Writer's own pipeline, fed from a raw file instead."""
    from gstreamer import Writer

    writer = Writer(out, fps=FPS)  # not started: only its description is used
    command = writer.pipeline.command
    writer.close()
    assert X264 in command, command
    source = (
        f"filesrc location={raw} blocksize={WIDTH * HEIGHT * 3} ! rawvideoparse "
        f"width={WIDTH} height={HEIGHT} format=rgb framerate={FPS}/1 colorimetry=sRGB"
    )
    desc = command.replace("appsrc name=src", source).replace('"', "")
    return ["gst-launch-1.0", "-q", *desc.split()]


def count_frames(path: str) -> int:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_packets",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
            path,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip())


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    cpu0, start = _cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - start, _cpu_seconds() - cpu0


def where_the_time_goes(
    frames: list[np.ndarray], raw: str, tmp: str
) -> list[tuple[str, float, float]]:
    """Each stage of the pipeline alone, to see which one bounds the frame rate."""
    from gstreamer import Writer

    i420 = os.path.join(tmp, "frames.i420")
    parse_rgb = (
        f"filesrc location={raw} blocksize={WIDTH * HEIGHT * 3} ! rawvideoparse "
        f"width={WIDTH} height={HEIGHT} format=rgb framerate={FPS}/1 colorimetry=sRGB"
    )
    parse_i420 = (
        f"filesrc location={i420} blocksize={WIDTH * HEIGHT * 3 // 2} ! rawvideoparse "
        f"width={WIDTH} height={HEIGHT} format=i420 framerate={FPS}/1"
    )

    def gst(desc: str) -> None:
        subprocess.run(["gst-launch-1.0", "-q", *desc.split()], check=True)

    def ffmpeg(*args: str) -> None:
        subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)

    def python_side() -> None:
        with Writer("fakesink", fps=FPS, max_buffers=len(frames) + 1) as w:
            for frame in frames:
                w.write(frame)

    # the encoders' input, made once (not timed)
    gst(f"{parse_rgb} ! videoconvert ! video/x-raw,format=I420 ! filesink location={i420}")
    size = f"{WIDTH}x{HEIGHT}"
    libx264 = [x for k, v in LIBX264.items() for x in (f"-{k}", v)]
    stages: list[tuple[str, Callable[[], object]]] = [
        ("Writer.write() Python side only (fakesink)", python_side),
        ("read raw RGB file only (gst-launch filesrc)", lambda: gst(f"{parse_rgb} ! fakesink")),
        (
            "videoconvert RGB->I420 (gst-launch)",
            lambda: gst(f"{parse_rgb} ! videoconvert ! video/x-raw,format=I420 ! fakesink"),
        ),
        ("x264enc on I420 (gst-launch)", lambda: gst(f"{parse_i420} ! {X264} ! fakesink")),
        (
            "swscale rgb24->yuv420p (ffmpeg)",
            lambda: ffmpeg(
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-i", raw,
                "-pix_fmt", "yuv420p", "-f", "null", "-",
            ),
        ),
        (
            "libx264 on yuv420p (ffmpeg)",
            lambda: ffmpeg(
                "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", size, "-r", str(FPS), "-i",
                i420, "-c:v", "libx264", *libx264, "-f", "null", "-",
            ),
        ),
    ]  # fmt: skip
    return [(name, *_timed(fn)) for name, fn in stages]


def durable_variants() -> dict[str, Callable[[list[np.ndarray], str], int]]:
    """Writers of a crash-safe MP4 with and without syncing to the disk; each returns the
    number of ``fsync`` calls it made."""
    from gstreamer import Writer, _gi

    class OSyncWriter(Writer):
        """filesink o-sync=true instead of fsync per fragment (the rejected alternative)."""

        def _attach_disk_sync(self, pipeline, disk_sync):  # type: ignore[no-untyped-def]
            Gst = _gi.Gst()
            for element in pipeline.get_by_cls(Gst.Element):
                if element.get_factory().get_name() == "filesink":
                    element.set_property("o-sync", True)

    def run(cls: type[Writer], **options: object) -> Callable[[list[np.ndarray], str], int]:
        def write(frames: list[np.ndarray], out: str) -> int:
            with cls(out, fps=FPS, **options) as w:  # type: ignore[arg-type]
                for frame in frames:
                    w.write(frame)
            return w.disk_syncs

        return write

    return {
        "crash-safe, durable (default: fsync per fragment)": run(Writer),
        "crash-safe, durable=False": run(Writer, durable=False),
        "crash_safe=False (plain muxer)": run(Writer, crash_safe=False),
        "crash-safe + filesink o-sync=true (rejected)": run(OSyncWriter),
    }


def durable_main(args: argparse.Namespace) -> int:
    """``--durable``: what syncing to the disk costs, at full speed (see the docstring)."""
    variants = durable_variants()
    lines = [
        f"Crash-safe MP4 written as fast as possible, {args.frames} frames per file "
        f"({FPS} fps media, fragments of 0.5 s); best and median of {args.repeat} "
        f"interleaved rounds, {os.cpu_count()} cores shared with other jobs, disk: "
        f"{_disk_of(tempfile.gettempdir())}",
        "",
        "| size | writer | best frames/s | median frames/s | vs durable=False (median) "
        "| fsync calls |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for width, height in ((1280, 720), (160, 120)):
        frames = [np.ascontiguousarray(f[:height, :width]) for f in make_frames(args.frames)]
        times: dict[str, list[float]] = {name: [] for name in variants}
        syncs: dict[str, int] = {}
        with tempfile.TemporaryDirectory(prefix="bench_durable_") as tmp:
            for _ in range(args.repeat):
                for i, (name, fn) in enumerate(variants.items()):
                    out = os.path.join(tmp, f"out{i}.mp4")
                    start = time.perf_counter()
                    syncs[name] = fn(frames, out)
                    times[name].append(time.perf_counter() - start)
                    assert count_frames(out) == args.frames, f"{name} wrote a wrong file"
                    os.unlink(out)
        base = args.frames / sorted(times["crash-safe, durable=False"])[args.repeat // 2]
        for name, t in times.items():
            t = sorted(t)
            best, med = args.frames / t[0], args.frames / t[len(t) // 2]
            lines.append(
                f"| {width}x{height} | {name} | {best:.1f} | {med:.1f} | "
                f"{med / base:.2f}x | {syncs[name]} |"
            )
    lines += ["", f"Load average at the end: {os.getloadavg()[0]:.2f}."]
    table = "\n".join(lines)
    print(table)
    if args.save:
        target = DURABLE_RESULTS if args.save == RESULTS else args.save
        target.write_text(table + "\n")
    return 0


def _disk_of(path: str) -> str:
    """The device and file system holding ``path`` (from /proc/mounts)."""
    best = ("?", "?", "")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                device, mount, fs = line.split()[:3]
                inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best[2]):
                    best = (device, fs, mount)
    except OSError:
        pass
    return f"{best[0]} ({best[1]})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--durable", action="store_true", help="measure the cost of durable=True instead"
    )
    parser.add_argument(
        "--save",
        nargs="?",
        type=Path,
        const=RESULTS,
        metavar="FILE",
        help="also write the table to FILE (default: benchmarks/results/write.md)",
    )
    args = parser.parse_args(argv)
    if args.durable:
        return durable_main(args)
    frames = make_frames(args.frames)
    tmp = tempfile.mkdtemp(prefix="bench_write_")
    raw = os.path.join(tmp, "frames.rgb")
    with open(raw, "wb") as f:
        for frame in frames:
            f.write(frame.tobytes())

    def launch(_frames: list[np.ndarray], out: str) -> None:
        subprocess.run(gst_launch_command(raw, out), check=True)

    sides: dict[str, Callable[[list[np.ndarray], str], None]] = {
        "gstreamer.Writer": run_writer,
        "PyAV (libx264)": run_pyav,
        "imageio-ffmpeg (libx264)": run_imageio,
        "gst-launch-1.0 (raw file)": launch,
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    sizes: dict[str, int] = {}
    try:
        for _ in range(args.repeat):
            for i, (name, fn) in enumerate(sides.items()):  # interleaved rounds
                out = os.path.join(tmp, f"out{i}.mp4")
                cpu0 = _cpu_seconds()
                start = time.perf_counter()
                fn(frames, out)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(_cpu_seconds() - cpu0)
                assert count_frames(out) == args.frames, f"{name} wrote a wrong file"
                sizes[name] = os.path.getsize(out)
        profile = where_the_time_goes(frames, raw, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    best = {name: min(t) for name, t in times.items()}
    fps = {name: args.frames / t for name, t in best.items()}
    ours = fps["gstreamer.Writer"]
    lines = [
        f"Write {args.frames} frames {WIDTH}x{HEIGHT} RGB -> H.264 MP4 (x264 ultrafast, "
        f"zerolatency, CRF/qual 23, yuv420p); best of {args.repeat}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| writer | best s | median s | frames/s | Writer speed-up | CPU s (median) | file MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in sides:
        med = sorted(times[name])[len(times[name]) // 2]
        med_cpu = sorted(cpu[name])[len(cpu[name]) // 2]
        lines.append(
            f"| {name} | {best[name]:.3f} | {med:.3f} | {fps[name]:.1f} | "
            f"{ours / fps[name]:.2f}x | {med_cpu:.2f} | {sizes[name] / 1e6:.2f} |"
        )
    lines += [
        "",
        f"Load average at the end: {os.getloadavg()[0]:.2f} (other processes share the cores).",
        "",
        "Where the time goes (each stage alone, same frames; CPU = user + sys of all threads):",
        "",
        "| stage | wall s | CPU s |",
        "|---|---:|---:|",
    ]
    lines += [f"| {stage} | {wall:.3f} | {cpu_s:.2f} |" for stage, wall, cpu_s in profile]
    table = "\n".join(lines)
    print(table)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
