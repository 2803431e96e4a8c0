"""The project against its peers: decode, a 5-ms consumer and encode, in fresh processes.

Usage::

    bash scripts/setup.sh                  # the project's .venv (the "project" column)
    bash benchmarks/peers/setup.sh         # benchmarks/peers/.venv with the peers
    python3 benchmarks/peers/run.py [--rounds 5] [--only decode720,consumer] [--save]

Every measurement is one fresh process; the processes of a round run one after another and
the rounds alternate, so load from other jobs spreads over every column alike. The table
shows medians over the rounds:

* fps: frames / wall time of the work (opening the file, decoding or encoding every frame,
  closing; the library is imported before, and for the project GStreamer initialised and
  its libav plugin loaded, see ``_preload``), measured inside the worker;
* CPU-s: user + system CPU of the work, all threads and child processes (``getrusage``
  before and after the work inside the worker; the whole process, imports included, as
  ``os.wait4`` reports it, is in the details);
* peak RSS: ``ru_maxrss`` of the worker from ``os.wait4`` (for imageio-ffmpeg the Python
  process + its ffmpeg child).

Each peer runs at its fastest settings: PyAV with ``thread_type="AUTO"`` (frame + slice
threads), imageio-ffmpeg's ffmpeg with its default frame threads, OpenCV's FFmpeg backend
with its defaults (it hands out BGR, its native order), decord reading sequentially with
``next()``, torchcodec with ``num_ffmpeg_threads=0`` (one thread per core). Encoders all
use libx264/x264 ``ultrafast``, ``zerolatency``, constant quality 23 and yuv420p.

The media (H.264 720p30 900 frames and 1080p30 300 frames, made with ffmpeg's libx264
``-preset fast -crf 23`` from ``testsrc2`` with temporal noise) are cached in a temporary
directory. ``--save`` writes the table to ``benchmarks/results/peers.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PROJECT_PY = ROOT / ".venv" / "bin" / "python"
PEERS_PY = HERE / ".venv" / "bin" / "python"

CLIPS = {
    "720": dict(size="1280x720", frames=900),
    "1080": dict(size="1920x1080", frames=300),
}
ENCODE_FRAMES = 300
CONSUMER_FRAMES = 300  # the first 10 s of the 720p clip
SEEK_FRAMES = 50  # random access: this many random indices of the 720p clip (seed 0)
WORK_MS = 5.0

LIBS = ["project", "pyav", "opencv", "decord", "torchcodec", "imageio-ffmpeg"]
TITLES = {
    "project": "project",
    "pyav": "PyAV",
    "opencv": "OpenCV",
    "decord": "decord",
    "torchcodec": "torchcodec",
    "imageio-ffmpeg": "imageio-ffmpeg",
    "gst-launch": "gst-launch",
    "ffmpeg": "ffmpeg CLI",
}


# -- workers (run inside the project's or the peers' venv) ----------------------------------


def _usage() -> float:
    import resource

    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _work(frame: Any, repeat: int) -> float:
    """About 5 ms of single-threaded NumPy on a 720p frame (calibrated once per run):
    half-resolution grey to float, scaled and summed ``repeat`` times."""
    import numpy as np

    small = frame[::2, ::2, 1]
    total = 0.0
    for _ in range(repeat):
        total += float(np.multiply(small, 0.5, dtype=np.float32).sum())
    return total


def _filled_frames(n: int) -> list[Any]:
    """``n`` distinct 720p frames with their memory written, as decoded frames are.

    Not ``np.zeros``: its pages stay mapped to the kernel's one zero page until written, so
    the work would read the same 4 KiB over and over from cache (measured: 205 fps for the
    5 ms of work on a zeros frame, 184 on one written frame, 178 on 300 distinct ones)."""
    import numpy as np

    return [np.full((720, 1280, 3), i % 256, np.uint8) for i in range(n)]


def _decoders(path: str) -> dict[str, Callable[[], Any]]:
    """Per library: a generator of frames (arrays, HxWx3) over ``path``."""

    def project() -> Any:
        import gstreamer

        with gstreamer.Reader(path) as reader:
            for frame in reader:
                yield frame.data

    def project_i420() -> Any:
        import gstreamer

        with gstreamer.Reader(path, format="I420") as reader:
            for frame in reader:
                yield frame.data

    def pyav() -> Any:
        import av

        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")

    def opencv() -> Any:
        import cv2

        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        try:
            while True:
                ok, image = cap.read()
                if not ok:
                    break
                yield image
        finally:
            cap.release()

    def decord() -> Any:
        import decord as dec

        reader = dec.VideoReader(path, ctx=dec.cpu(0), num_threads=0)
        for _ in range(len(reader)):
            yield reader.next().asnumpy()

    def torchcodec() -> Any:
        from torchcodec.decoders import VideoDecoder

        decoder = VideoDecoder(path, num_ffmpeg_threads=0, dimension_order="NHWC")
        for i in range(len(decoder)):
            yield decoder[i].numpy()

    def imageio_ffmpeg() -> Any:
        import imageio_ffmpeg as iio
        import numpy as np

        gen = iio.read_frames(path, pix_fmt="rgb24")
        meta = next(gen)
        w, h = meta["size"]
        for data in gen:
            yield np.frombuffer(data, np.uint8).reshape(h, w, 3)

    return {
        "project": project,
        "project-i420": project_i420,
        "pyav": pyav,
        "opencv": opencv,
        "decord": decord,
        "torchcodec": torchcodec,
        "imageio-ffmpeg": imageio_ffmpeg,
    }


def _seek_indices() -> list[int]:
    import random

    return random.Random(0).sample(range(CLIPS["720"]["frames"]), SEEK_FRAMES)


def _seekers(path: str) -> dict[str, Callable[[list[int]], int]]:
    """Per library: fetch the frames at ``indices`` (as asked, or sorted where the library
    only moves forward well); returns how many came."""

    def project(indices: list[int]) -> int:
        import gstreamer

        with gstreamer.VideoFile(path) as vf:
            return len(vf.get_batch(indices))

    def decord(indices: list[int]) -> int:
        import decord as dec

        reader = dec.VideoReader(path, ctx=dec.cpu(0), num_threads=0)
        return len(reader.get_batch(sorted(indices)).asnumpy())

    def torchcodec(indices: list[int]) -> int:
        from torchcodec.decoders import VideoDecoder

        decoder = VideoDecoder(path, num_ffmpeg_threads=0, seek_mode="exact")
        return len(decoder.get_frames_at(indices).data)

    def pyav(indices: list[int]) -> int:
        import av

        got = 0
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate, base = stream.average_rate, stream.time_base
            frames = None
            current = -1
            for index in sorted(indices):
                if frames is None or index - current > 60 or index <= current:
                    container.seek(int(index / rate / base), stream=stream)
                    frames = container.decode(stream)
                for frame in frames:
                    current = round(frame.pts * base * rate)
                    if current >= index:
                        frame.to_ndarray(format="rgb24")
                        got += 1
                        break
        return got

    def opencv(indices: list[int]) -> int:
        import cv2

        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        got = 0
        for index in sorted(indices):
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, _ = cap.read()
            got += ok
        cap.release()
        return got

    return {
        "project": project,
        "pyav": pyav,
        "opencv": opencv,
        "decord": decord,
        "torchcodec": torchcodec,
    }


def _frames_for_encoding(size: str, count: int) -> list[Any]:
    """``count`` distinct frames (moving gradients + noise), made before timing starts."""
    import numpy as np

    w, h = (int(v) for v in size.split("x"))
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(count):
        f = np.empty((h, w, 3), np.uint8)
        f[..., 0] = (x + 4 * i) % 256
        f[..., 1] = (y + 2 * i) % 256
        f[..., 2] = ((x + y) // 4 + 8 * i) % 256
        f += rng.integers(0, 24, (h, w, 1), dtype=np.uint8)
        frames.append(f)
    return frames


def _encoders(out: str, frames: list[Any], n: int) -> dict[str, Callable[[], int]]:
    h, w = frames[0].shape[:2]

    def project() -> int:
        import gstreamer

        with gstreamer.Writer(out, fps=30) as writer:
            for i in range(n):
                writer.write(frames[i % len(frames)])
        return n

    def pyav() -> int:
        import av

        with av.open(out, "w") as container:
            stream = container.add_stream(
                "libx264",
                rate=30,
                options={"preset": "ultrafast", "tune": "zerolatency", "crf": "23"},
            )
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.thread_type = "AUTO"
            for i in range(n):
                frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        return n

    def imageio_ffmpeg() -> int:
        import imageio_ffmpeg as iio

        gen = iio.write_frames(
            out,
            (w, h),
            fps=30,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=1,
            output_params=["-preset", "ultrafast", "-tune", "zerolatency", "-crf", "23"],
        )
        gen.send(None)
        for i in range(n):
            gen.send(frames[i % len(frames)])
        gen.close()
        return n

    def torchcodec() -> int:
        import numpy as np
        import torch
        from torchcodec.encoders import VideoEncoder

        # the API takes every frame at once: built here, outside the timed part
        stack = torch.from_numpy(np.stack([frames[i % len(frames)] for i in range(n)]))
        encoder = VideoEncoder(stack.permute(0, 3, 1, 2), frame_rate=30)

        def run() -> int:
            encoder.to_file(
                out,
                codec="libx264",
                pixel_format="yuv420p",
                crf=23,
                preset="ultrafast",
                extra_options={"tune": "zerolatency"},
            )
            return n

        return run  # type: ignore[return-value]

    return {
        "project": project,
        "pyav": pyav,
        "imageio-ffmpeg": imageio_ffmpeg,
        "torchcodec": torchcodec,
    }


def _preload(lib: str) -> None:
    """Import the library (and initialise it) before the timed part: a process pays that
    once, not per file; opening the file and everything after it is timed.

    Importing PyAV, OpenCV, decord or torchcodec loads their FFmpeg libraries. GStreamer
    loads FFmpeg's when a pipeline first makes a libav element (the ``libav`` plugin links
    them): so the project's preload loads that plugin too, and its timed part starts, as
    theirs does, with FFmpeg in memory.
    """
    if lib.startswith("project"):
        import gstreamer
        from gstreamer import _gi

        Gst = _gi.Gst()
        plugin = Gst.Registry.get().find_plugin("libav")
        if plugin is not None:
            plugin.load()
        del gstreamer
    else:
        module = {"pyav": "av", "opencv": "cv2", "torchcodec": "torchcodec.decoders"}
        __import__(module.get(lib, lib.replace("-", "_")))
    import numpy  # noqa: F401


def worker(case: str, lib: str, arg: str, repeat: int) -> None:
    import resource

    result: dict[str, Any] = {}
    if lib != "none":
        _preload(lib)
    if case in ("decode", "consumer"):
        gen = _decoders(arg)[lib]
        t0, c0 = time.perf_counter(), _usage()
        n = 0
        for frame in gen():
            if case == "consumer":
                _work(frame, repeat)
            n += 1  # noqa: SIM113
            if case == "consumer" and n == CONSUMER_FRAMES:
                break
        t1, c1 = time.perf_counter(), _usage()
    elif case == "seek":
        indices = _seek_indices()
        t0, c0 = time.perf_counter(), _usage()
        n = _seekers(arg)[lib](indices)
        t1, c1 = time.perf_counter(), _usage()
    elif case == "encode":
        size, out = arg.split(":", 1)
        frames = _frames_for_encoding(size, 30)
        job = _encoders(out, frames, ENCODE_FRAMES)[lib]
        if lib == "torchcodec":
            job = job()  # type: ignore[assignment]  # the frame tensor is made untimed
        t0, c0 = time.perf_counter(), _usage()
        n = job()
        t1, c1 = time.perf_counter(), _usage()
        result["bytes"] = os.path.getsize(out)
    elif case == "work":  # the 5-ms work alone, on frames in memory: the consumer's ceiling
        frames = _filled_frames(CONSUMER_FRAMES)
        t0, c0 = time.perf_counter(), _usage()
        for frame in frames:
            _work(frame, repeat)
        n = CONSUMER_FRAMES
        t1, c1 = time.perf_counter(), _usage()
    else:
        raise SystemExit(f"unknown case {case}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result.update(frames=n, wall=t1 - t0, cpu=c1 - c0, child_rss_kib=children)
    print(json.dumps(result))


def calibrate() -> int:
    """Repeats of :func:`_work` that take about 5 ms on a 720p frame (the least of three
    tries)."""
    frame = _filled_frames(1)[0]
    per = []
    for _ in range(3):
        t = time.perf_counter()
        _work(frame, 100)
        per.append((time.perf_counter() - t) / 100)
    return max(1, round(WORK_MS / 1000 / min(per)))


# -- runner ---------------------------------------------------------------------------------


def run(cmd: list[str], env: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """One fresh process: its JSON line (if any) + wall, CPU and peak RSS from wait4."""
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        assert p.stdout is not None
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{tail}")
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
    rec: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    rec["proc_wall"] = wall
    rec["proc_cpu"] = ru.ru_utime + ru.ru_stime
    rec["rss_mib"] = ru.ru_maxrss / 1024
    return rec


def make_media(media: Path) -> dict[str, Path]:
    media.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, clip in CLIPS.items():
        path = media / f"{name}p.mp4"
        if not path.exists():
            tmp = path.with_suffix(".part.mp4")
            subprocess.run(
                [
                    "ffmpeg", "-v", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc2=size={clip['size']}:rate=30,noise=alls=12:allf=t+u",
                    "-frames:v", str(clip["frames"]), "-c:v", "libx264", "-preset", "fast",
                    "-crf", "23", "-pix_fmt", "yuv420p", str(tmp),
                ],
                check=True,
            )  # fmt: skip
            tmp.rename(path)
        paths[name] = path
    tiny = media / "tiny.mp4"  # for the memory floor: libraries and interpreter, no frames
    if not tiny.exists():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=30",
             "-frames:v", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(tiny)],
            check=True,
        )  # fmt: skip
    paths["tiny"] = tiny
    return paths


def make_raw(media: Path, size: str) -> tuple[Path, Path]:
    """The encode benchmark's frames as raw RGB and I420 files, for the CLI references."""
    rgb, i420 = media / f"enc-{size}.rgb", media / f"enc-{size}.i420"
    if not rgb.exists():
        code = (
            f"import sys; sys.path.insert(0, {str(HERE)!r}); import run; "
            f"frames = run._frames_for_encoding({size!r}, 30); "
            f"f = open({str(rgb) + '.part'!r}, 'wb'); "
            f"[f.write(frames[i % 30].tobytes()) for i in range({ENCODE_FRAMES})]; f.close()"
        )
        subprocess.run([str(PROJECT_PY), "-c", code], check=True)
        os.rename(str(rgb) + ".part", rgb)
    if not i420.exists():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size,
             "-i", str(rgb), "-f", "rawvideo", "-pix_fmt", "yuv420p", str(i420) + ".part"],
            check=True,
        )  # fmt: skip
        os.rename(str(i420) + ".part", i420)
    return rgb, i420


# the Writer's x264enc settings (gstreamer.encoders.SOFTWARE_ENCODERS["h264"])
X264ENC = "x264enc speed-preset=ultrafast tune=zerolatency pass=qual quantizer=23 bitrate=2048000"


def version_of(python: Path, module: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({module!r}))"
    r = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return r.stdout.strip() or "?"


def plan(
    clips: dict[str, Path], raws: dict[str, tuple[Path, Path]], out_dir: Path, repeat: int,
    only: set[str],
) -> list[tuple]:  # fmt: skip
    """(case key, column, command) for every measurement of one round."""
    me = str(Path(__file__).resolve())
    jobs: list[tuple] = []

    def py(lib: str) -> str:
        return str(PROJECT_PY if lib.startswith("project") else PEERS_PY)

    def want(key: str) -> bool:
        return not only or key in only

    for name in ("720", "1080"):
        key = f"decode{name}"
        if not want(key):
            continue
        clip = str(clips[name])
        for lib in LIBS:
            jobs.append((key, lib, [py(lib), me, "--worker", "decode", lib, clip, "0"]))
        jobs.append(
            (key, "project-i420", [py("project"), me, "--worker", "decode", "project-i420",
                                   clip, "0"])
        )  # fmt: skip
        if name == "720":
            # memory floors: libraries and interpreter, no frames worth counting
            tiny = str(clips["tiny"])
            jobs.append((key, "project-tiny", [py("project"), me, "--worker", "decode",
                                               "project", tiny, "0"]))  # fmt: skip
            jobs.append((key, "pyav-tiny", [py("pyav"), me, "--worker", "decode", "pyav",
                                            tiny, "0"]))  # fmt: skip
            jobs.append((key, "gst-launch-tiny", ["gst-launch-1.0", "-q", "filesrc",
                         f"location={tiny}", "!", "decodebin", "!", "fakesink"]))  # fmt: skip
        gst = ["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!", "decodebin", "!"]
        rgb = ["videoconvert", "!", "video/x-raw,format=RGB", "!", "fakesink"]
        jobs.append((key, "gst-launch", [*gst, *rgb]))
        jobs.append((key, "gst-launch-i420", [*gst, "fakesink"]))
        ff = ["ffmpeg", "-v", "error", "-nostdin", "-i", clip]
        jobs.append((key, "ffmpeg", [*ff, "-pix_fmt", "rgb24", "-f", "null", "-"]))
        jobs.append((key, "ffmpeg-null", [*ff, "-f", "null", "-"]))
    if want("seek"):
        clip = str(clips["720"])
        for lib in ("project", "pyav", "opencv", "decord", "torchcodec"):
            jobs.append(("seek", lib, [py(lib), me, "--worker", "seek", lib, clip, "0"]))
    if want("consumer"):
        clip = str(clips["720"])
        for lib in LIBS:
            jobs.append(("consumer", lib, [py(lib), me, "--worker", "consumer", lib, clip,
                                           str(repeat)]))  # fmt: skip
        jobs.append(("consumer", "work-alone", [py("project"), me, "--worker", "work",
                                                "none", "-", str(repeat)]))  # fmt: skip
    for name in ("720", "1080"):
        key = f"encode{name}"
        if not want(key):
            continue
        size = CLIPS[name]["size"]
        for lib in ("project", "pyav", "torchcodec", "imageio-ffmpeg"):
            out = out_dir / f"{key}-{lib}.mp4"
            jobs.append((key, lib, [py(lib), me, "--worker", "encode", lib, f"{size}:{out}",
                                    "0"]))  # fmt: skip
        if name not in raws:
            continue
        rgb, i420 = raws[name]
        w, h = size.split("x")
        out = str(out_dir / f"{key}-cli.mp4")
        parse = f"rawvideoparse width={w} height={h} framerate=30/1 format="
        tail = f"{X264ENC} ! h264parse ! mp4mux ! filesink location={out}"
        jobs.append((key, "gst-launch", ["gst-launch-1.0", "-q", "filesrc", f"location={rgb}",
                     "!", *(parse + "rgb").split(), "!", "videoconvert", "!",
                     "video/x-raw,format=I420", "!", *tail.split()]))  # fmt: skip
        jobs.append((key, "gst-launch-x264", ["gst-launch-1.0", "-q", "filesrc",
                     f"location={i420}", "!", *(parse + "i420").split(), "!",
                     *tail.split()]))  # fmt: skip
        jobs.append((key, "ffmpeg", ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "rawvideo",
                     "-pix_fmt", "rgb24", "-s", size, "-r", "30", "-i", str(rgb), "-c:v",
                     "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-crf", "23",
                     "-pix_fmt", "yuv420p", out]))  # fmt: skip
    return jobs


def fmt(v: Optional[float], digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def report(results: dict, meta: dict[str, Any]) -> str:
    def med(key: str, col: str, field: str) -> Optional[float]:
        vals = [r[field] for r in results.get((key, col), []) if field in r]
        return statistics.median(vals) if vals else None

    def rss_floor() -> Optional[float]:
        """The least peak RSS the project can reach decoding 720p: its floor (interpreter,
        NumPy, GStreamer and gst-libav's FFmpeg, measured on a 64x64 clip) plus the memory
        the leanest peer spends on the frames themselves."""
        ours = med("decode720", "project-tiny", "rss_mib")
        av, av_tiny = med("decode720", "pyav", "rss_mib"), med("decode720", "pyav-tiny", "rss_mib")
        if ours is None or av is None or av_tiny is None:
            return None
        return ours + max(0.0, av - av_tiny)

    def fps(key: str, col: str) -> Optional[float]:
        recs = results.get((key, col), [])
        if not recs:
            return None
        if "frames" in recs[0]:
            return statistics.median(r["frames"] / r["wall"] for r in recs)
        if col.endswith("-tiny"):
            return None  # a memory reference: its frame count is not the clip's
        frames = CLIPS["720" if key.endswith("720") else "1080"]["frames"]
        if key.startswith("encode"):
            frames = ENCODE_FRAMES
        return statistics.median(frames / r["proc_wall"] for r in recs)

    def cpu(key: str, col: str) -> Optional[float]:
        recs = results.get((key, col), [])
        if not recs:
            return None
        return statistics.median(r.get("cpu", r["proc_cpu"]) for r in recs)

    cols = [*LIBS, "gst-launch", "ffmpeg"]
    head = "| work | " + " | ".join(TITLES[c] for c in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]

    def row(label: str, values: list[Optional[float]], digits: int = 0) -> None:
        lines.append(f"| {label} | " + " | ".join(fmt(v, digits) for v in values) + " |")

    for name in ("720", "1080"):
        key = f"decode{name}"
        if any((key, c) in results for c in cols):
            n = CLIPS[name]["frames"]
            row(f"decode {name}p H.264 → RGB, fps", [fps(key, c) for c in cols])
            row(f"… CPU-s for {n} frames", [cpu(key, c) for c in cols], 2)
    if any(("consumer", c) in results for c in cols):
        row(
            f"720p + 5 ms NumPy per frame ({CONSUMER_FRAMES} frames), fps",
            [fps("consumer", c) for c in cols],
        )
    for name in ("720", "1080"):
        key = f"encode{name}"
        if any((key, c) in results for c in cols):
            row(f"encode {name}p RGB → H.264 MP4, fps", [fps(key, c) for c in cols])
            row(f"… CPU-s for {ENCODE_FRAMES} frames", [cpu(key, c) for c in cols], 2)
    if ("decode720", "project") in results:
        rss = []
        for c in cols:
            v = med("decode720", c, "rss_mib")
            rss.append(v)
        cells = []
        for c, v in zip(cols, rss):
            child = med("decode720", c, "child_rss_kib")
            if c == "imageio-ffmpeg" and v is not None and child:
                cells.append(f"{v:.0f} + {child / 1024:.0f}")
            else:
                cells.append(fmt(v))
        lines.append("| peak RSS decoding 720p, MiB | " + " | ".join(cells) + " |")
    if any(("seek", c) in results for c in cols):
        row(
            f"random access: {SEEK_FRAMES} random frames of the 720p clip, frames/s",
            [fps("seek", c) for c in cols],
        )

    # limits and targets
    out = ["\n".join(lines), ""]
    limits = []
    for name in ("720", "1080"):
        key = f"decode{name}"
        for col, what in (
            ("project-i420", "project Reader, format='I420' (decode only, zero-copy)"),
            ("gst-launch-i420", "gst-launch decodebin ! fakesink (decode only)"),
            ("ffmpeg-null", "ffmpeg -f null (decode only)"),
        ):
            if (key, col) in results:
                limits.append(
                    f"| {name}p: {what} | {fmt(fps(key, col))} | {fmt(cpu(key, col), 2)} | "
                    f"{fmt(med(key, col, 'rss_mib'))} |"
                )
    for name in ("720", "1080"):
        if (f"encode{name}", "gst-launch-x264") in results:
            limits.append(
                f"| {name}p: x264enc alone on I420 (gst-launch, raw file, the Writer's settings) "
                f"| {fmt(fps(f'encode{name}', 'gst-launch-x264'))} | "
                f"{fmt(cpu(f'encode{name}', 'gst-launch-x264'), 2)} | |"
            )
    if ("consumer", "work-alone") in results:
        limits.append(
            f"| the 5 ms of NumPy alone on {CONSUMER_FRAMES} distinct 720p frames in memory "
            "(no decoding) | "
            f"{fmt(fps('consumer', 'work-alone'))} | {fmt(cpu('consumer', 'work-alone'), 2)} | |"
        )
    memory_references = {  # peak RSS with no frames to speak of: what each brings along
        "project-tiny": "project Reader on a 64x64 clip (interpreter, NumPy, GStreamer and "
        "gst-libav's FFmpeg libraries, no frames)",
        "gst-launch-tiny": "gst-launch decodebin ! fakesink on the 64x64 clip (GStreamer and "
        "gst-libav's FFmpeg libraries alone, no Python)",
        "pyav-tiny": "PyAV on the 64x64 clip (interpreter, NumPy and PyAV's own FFmpeg build)",
    }
    for lib, what in memory_references.items():
        if ("decode720", lib) in results:
            limits.append(f"| {what} | | | {fmt(med('decode720', lib, 'rss_mib'))} |")
    floor = rss_floor()
    if floor is not None:
        limits.append(
            "| memory limit decoding 720p: the project's floor (64x64 clip) + what PyAV's "
            f"frames take (PyAV 720p minus PyAV 64x64) | | | {floor:.0f} |"
        )
    if limits:
        out += ["Limits (same run):", "", "| reference | fps | CPU-s | peak RSS MiB |",
                "|---|---:|---:|---:|"]  # fmt: skip
        out += [*limits, ""]

    checks = []
    peers = [c for c in LIBS if c != "project"]

    def best(values: dict[str, Optional[float]], high: bool = True) -> tuple[str, float]:
        got = {k: v for k, v in values.items() if v is not None}
        k = max(got, key=got.__getitem__) if high else min(got, key=got.__getitem__)
        return k, got[k]

    for key, label, goal in (
        ("decode720", "decode 720p", 1.2),
        ("decode1080", "decode 1080p", 1.2),
        ("encode720", "encode 720p", 1.3),
        ("encode1080", "encode 1080p", 1.3),
    ):
        mine = fps(key, "project")
        if mine is None:
            continue
        k, v = best({c: fps(key, c) for c in peers})
        ratio = mine / v
        checks.append(
            f"- {label}: {ratio:.2f}x the fastest peer ({TITLES[k]}) — target ≥ {goal}x: "
            f"{'met' if ratio >= goal else 'NOT met'}"
        )
        if key.startswith("decode"):
            n = CLIPS[key[6:]]["frames"]
            k2, v2 = best({c: cpu(key, c) for c in peers}, high=False)
            c = cpu(key, "project") or 0.0
            checks.append(
                f"- {label} CPU: {1000 * c / n:.2f} ms/frame vs the lowest peer's "
                f"{1000 * v2 / n:.2f} ({TITLES[k2]}) — target ≤: "
                f"{'met' if c <= v2 else 'NOT met'}"
            )
    mine = fps("consumer", "project")
    if mine is not None:
        for c in ("pyav", "opencv", "decord"):
            v = fps("consumer", c)
            if v:
                checks.append(
                    f"- 5-ms consumer: {mine / v:.2f}x {TITLES[c]} — target ≥ 1.3x: "
                    f"{'met' if mine / v >= 1.3 else 'NOT met'}"
                )
        ceiling = fps("consumer", "work-alone")
        if ceiling:
            checks.append(
                f"- 5-ms consumer: {mine / ceiling:.2f}x the work alone on frames in memory "
                f"({ceiling:.0f} fps, no decoding) — within 5 %: "
                f"{'met' if mine >= 0.95 * ceiling else 'NOT met'}"
            )
    r_mine, r_av = med("decode720", "project", "rss_mib"), med("decode720", "pyav", "rss_mib")
    if r_mine and r_av:
        checks.append(
            f"- peak RSS decoding 720p: {r_mine / r_av:.2f}x PyAV's — target ≤ 1.2x: "
            f"{'met' if r_mine <= 1.2 * r_av else 'NOT met'}"
        )
        floor = rss_floor()
        if floor is not None:
            checks.append(
                f"- peak RSS decoding 720p: {r_mine / floor:.2f}x the memory limit ({floor:.0f} "
                f"MiB: the project's floor + PyAV's frames) — within 5 %: "
                f"{'met' if r_mine <= 1.05 * floor else 'NOT met'}"
            )
    if checks:
        out += ["Targets (issue 13), from this run:", "", *checks, ""]

    details = ["| case | column | fps | CPU-s (work) | CPU-s (process, wait4) | peak RSS MiB |",
               "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for key, col in results:
        details.append(
            f"| {key} | {col} | {fmt(fps(key, col))} | {fmt(cpu(key, col), 2)} | "
            f"{fmt(med(key, col, 'proc_cpu'), 2)} | {fmt(med(key, col, 'rss_mib'))} |"
        )
    out += ["<details><summary>Every measurement (medians)</summary>", "", *details, "",
            "</details>", ""]  # fmt: skip
    out += [
        f"{meta['rounds']} rounds, fresh processes alternating, medians; {meta['machine']}; "
        f"5-ms work = {meta['repeat']} NumPy passes; load average before/after: "
        f"{meta['load_before']} / {meta['load_after']}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
    ]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="", help="comma list of decode720, decode1080, "
                    "consumer, encode720, encode1080, seek")  # fmt: skip
    ap.add_argument("--media", type=Path, default=Path(tempfile.gettempdir()) / "gst-peers")
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/peers.md")
    ap.add_argument("--worker", nargs=4, metavar=("CASE", "LIB", "ARG", "REPEAT"))
    args = ap.parse_args()
    if args.worker:
        case, lib, arg, repeat = args.worker
        worker(case, lib, arg, int(repeat))
        return
    for python, how in ((PROJECT_PY, "bash scripts/setup.sh"), (PEERS_PY,
                        "bash benchmarks/peers/setup.sh")):  # fmt: skip
        if not python.exists():
            raise SystemExit(f"{python} is missing: run {how}")
    for tool in ("ffmpeg", "gst-launch-1.0"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed")
    clips = make_media(args.media)
    only = {s for s in args.only.split(",") if s}
    raws = {
        name: make_raw(args.media, CLIPS[name]["size"])
        for name in ("720", "1080")
        if not only or f"encode{name}" in only
    }
    repeat = int(
        subprocess.run(
            [str(PROJECT_PY), "-c", f"import sys; sys.path.insert(0, {str(HERE)!r}); "
             "import run; print(run.calibrate())"],
            check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = plan(clips, raws, Path(tmp), repeat, only)
        for r in range(args.rounds):
            shift = r % len(jobs)
            for key, col, cmd in jobs[shift:] + jobs[:shift]:
                rec = run(cmd)
                results.setdefault((key, col), []).append(rec)
                wall, cpu = rec.get("wall", rec["proc_wall"]), rec.get("cpu", rec["proc_cpu"])
                print(f"round {r + 1}/{args.rounds} {key:10s} {col:16s} "
                      f"{rec.get('frames', '')!s:>4} frames {wall:6.2f} s {cpu:6.2f} CPU-s "
                      f"{rec['rss_mib']:5.0f} MiB", file=sys.stderr, flush=True)  # fmt: skip
    jobs = plan(clips, raws, Path("/x"), repeat, only)
    order = {(k, c): i for i, (k, c, _) in enumerate(jobs)}
    results = dict(sorted(results.items(), key=lambda kv: order[kv[0]]))
    versions = {
        "GStreamer": subprocess.run(["gst-launch-1.0", "--version"], capture_output=True,
                                    text=True).stdout.split("\n")[1].split()[-1],
        "FFmpeg CLI": subprocess.run(["ffmpeg", "-version"], capture_output=True,
                                     text=True).stdout.split()[2],
        "PyAV": version_of(PEERS_PY, "av"),
        "OpenCV": version_of(PEERS_PY, "opencv-python-headless"),
        "decord": version_of(PEERS_PY, "decord"),
        "torchcodec": version_of(PEERS_PY, "torchcodec"),
        "imageio-ffmpeg": version_of(PEERS_PY, "imageio-ffmpeg"),
        "NumPy (project)": version_of(PROJECT_PY, "numpy"),
    }  # fmt: skip
    meta = {
        "rounds": args.rounds,
        "repeat": repeat,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "versions": versions,
    }
    text = report(results, meta)
    print(text)
    if args.save:
        dest = ROOT / "benchmarks" / "results" / "peers.md"
        dest.write_text(
            "# The project against its peers\n\n"
            "Made by `python3 benchmarks/peers/run.py --save`.\n\n" + text + "\n"
        )
        print(f"saved {dest}", file=sys.stderr)


if __name__ == "__main__":
    main()
