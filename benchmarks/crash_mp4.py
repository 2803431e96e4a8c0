"""kill -9 while a Writer records an MP4: is the file still readable, and how much is lost?

Usage::

    .venv/bin/python benchmarks/crash_mp4.py [--runs 20] [--fps 30] [--min 2.0] [--max 6.0]
                                             [--ext .mp4] [--json] [--save]

Each run starts a child process that writes 160x120 frames with :class:`gstreamer.Writer`
at the frame rate (like a camera) and prints the number of frames written after each
write. The parent kills it with SIGKILL at a random moment between ``--min`` and ``--max``
seconds after the first frame, then counts the frames ffprobe decodes. A run passes when
ffprobe reads the file and finds at least ``frames written - fps`` frames. The markdown table
is printed; ``--save`` writes it to ``benchmarks/results/crash_mp4.md``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

from _common import parser_for, publish, use_test_helpers

use_test_helpers()
from _helpers import frames_in  # noqa: E402  (ffprobe's count; -1 when the file does not play)

CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import gstreamer
    path, fps, crash_safe = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    with gstreamer.Writer(path, fps=fps, crash_safe=crash_safe) as w:
        start = time.monotonic()
        i = 0
        while True:
            frame = np.full((120, 160, 3), (i * 7) % 256, np.uint8)
            frame[:, (i % 160)] = 255          # something moves
            w.write(frame)
            i += 1
            print(i, flush=True)
            delay = start + i / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    """
)


def run_once(path: str, after: float, fps: int, crash_safe: bool = True) -> dict[str, object]:
    """One child, killed ``after`` seconds after its first frame; the facts of the run."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, path, str(fps), "1" if crash_safe else "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    written = 0
    first = None
    try:
        while True:
            line = proc.stdout.readline()
            if not line:
                break
            written = int(line)
            now = time.monotonic()
            if first is None:
                first = now
            if now - first >= after:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    # frames printed after the kill decision cannot exist; the last line read is the count
    frames = frames_in(path)
    return {
        "kill_after_s": round(after, 2),
        "written": written,
        "readable": frames >= 0,
        "frames": frames,
        "lost": written - frames if frames >= 0 else None,
        "ok": frames >= written - fps,
        "stderr": err[-500:] if written == 0 else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, "crash_mp4.md")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--min", type=float, default=2.0)
    parser.add_argument("--max", type=float, default=6.0)
    parser.add_argument("--ext", default=".mp4")
    parser.add_argument("--plain", action="store_true", help="crash_safe=False (to compare)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            path = os.path.join(tmp, f"run{n}{args.ext}")
            runs.append(run_once(path, rng.uniform(args.min, args.max), args.fps, not args.plain))
    if args.json:
        print(json.dumps(runs))
        return 0 if all(r["ok"] for r in runs) else 1
    lines = [
        f"kill -9 while writing {args.ext} at {args.fps} fps "
        f"(crash_safe={not args.plain}), {args.runs} runs",
        "",
        "| run | killed after (s) | frames written | frames ffprobe reads | lost | ok |",
        "|---:|---:|---:|---:|---:|:--:|",
    ]
    for n, r in enumerate(runs):
        lines.append(
            f"| {n} | {r['kill_after_s']} | {r['written']} | {r['frames']} | {r['lost']} | "
            f"{'yes' if r['ok'] else 'NO'} |"
        )
    good = sum(bool(r["ok"]) for r in runs)
    lost = [int(r["lost"]) for r in runs if r["lost"] is not None]  # type: ignore[call-overload]
    lines += [
        "",
        f"{good}/{len(runs)} files pass; frames lost: max {max(lost) if lost else '-'}, "
        f"mean {sum(lost) / len(lost) if lost else float('nan'):.1f}",
    ]
    publish("\n".join(lines), args.save)
    return 0 if good == len(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
