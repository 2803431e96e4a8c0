"""Reconnect soak: many reconnect cycles must not leak threads, file descriptors or memory.

Usage::

    .venv/bin/python benchmarks/reconnect_soak.py [--cycles 50] [--json] [--save]
    .venv/bin/python benchmarks/reconnect_soak.py --multireader [--kind rtsp] [--cycles 20]

A TCP server (:class:`gstreamer.streaming.TcpServer`, MPEG-TS) in another process drops every
client every 20 frames (tcpserversink's ``clear``); a ``Reader(tcp_source(...),
reconnect=True)`` in this process sees each drop as an end of stream, rebuilds its pipeline
and reads on. After a warm-up of 3 reconnects, threads (``/proc/self/task``), open file
descriptors (``/proc/self/fd``) and RSS are taken (the fewest threads and fds of 5 samples,
as GLib keeps idle pool threads for a moment); again after ``--cycles`` more. Goals:
threads +/- 0, fds +/- 2, RSS + < 10 MB. ``--save`` writes the table to
``benchmarks/results/reconnect_soak.md``.

``--multireader`` does the same with a ``MultiReader(mode="latest", reconnect=...)`` of that
live source and a looping file: each loss takes the source's bin out of the running pipeline
and adds a new one. ``--kind rtsp`` uses an RTSP server process instead, killed and restarted
for every cycle (slower: a new process each time). It also reports, per cycle, the seconds
from the loss (the kill) to the flag (``ok=False``) and from the server's restart to the
first fresh frame (``ok=True``). ``--save`` writes
``benchmarks/results/reconnect_soak_multireader_<kind>.md``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from typing import Any, Callable

from _common import RESULTS, parser_for, publish, use_test_helpers

use_test_helpers()  # the server process helper and the probes of tests/faults
from faults._probe import fds, rss_mb, threads  # noqa: E402

WARMUP = 3


def snapshot() -> tuple[int, int, float]:
    gc.collect()
    return threads(), fds(), rss_mb()


def changes(before: tuple[int, int, float], after: tuple[int, int, float]) -> dict[str, float]:
    """Threads, fds and RSS before and after the cycles, and how they changed."""
    return {
        "threads_before": before[0],
        "threads_after": after[0],
        "threads_delta": after[0] - before[0],
        "fds_before": before[1],
        "fds_after": after[1],
        "fds_delta": after[1] - before[1],
        "rss_before_mb": round(before[2], 1),
        "rss_after_mb": round(after[2], 1),
        "rss_delta_mb": round(after[2] - before[2], 1),
    }


def settled(reader: object) -> tuple[int, int, float]:
    """A snapshot while a connection runs: the fewest threads and fds seen over 5 samples
    taken 2 frames apart (GLib's thread pool keeps an idle thread for a moment; a leak shows
    in every sample)."""
    samples = []
    for _ in range(5):
        for _ in range(2):
            assert reader.read() is not None  # type: ignore[attr-defined]
        samples.append(snapshot())
    return min(s[0] for s in samples), min(s[1] for s in samples), samples[-1][2]


def soak(
    stats: Callable[[], Any], step: Callable[[], object], probe: object, cycles: int
) -> dict[str, float]:
    """Call ``step`` until the source reconnected ``cycles`` times after the warm-up; return
    the cycles, frames and seconds after the warm-up (from ``stats()``, a ReaderStats) and the
    changes between :func:`settled` snapshots read through ``probe`` before and after them."""
    before = None
    start = time.monotonic()
    while stats().reconnects < WARMUP + cycles:
        if before is None and stats().reconnects >= WARMUP:
            before = settled(probe)
            start = time.monotonic()
        step()
    after = settled(probe)
    elapsed = time.monotonic() - start
    assert before is not None
    last = stats()
    return {
        "cycles": cycles,
        "reconnects": last.reconnects - WARMUP,
        "frames": last.frames,
        "seconds": round(elapsed, 1),
        **changes(before, after),
    }


def run(cycles: int) -> dict[str, float]:
    from _servers import ServerProcess, free_port

    import gstreamer
    from gstreamer.streaming import tcp_source

    port = free_port()
    with ServerProcess("tcp-drop", port):
        reader = gstreamer.Reader(
            tcp_source("127.0.0.1", port), reconnect=gstreamer.Reconnect(), timeout=10.0
        )

        def step() -> None:
            assert reader.read() is not None

        try:
            return soak(lambda: reader.stats, step, reader, cycles)
        finally:
            reader.close()


def run_multireader(cycles: int, kind: str) -> dict[str, float]:
    import socket
    import tempfile

    from _indexed import make_clip
    from _servers import ServerProcess, free_port

    import gstreamer
    from gstreamer.streaming import rtsp_source, tcp_source

    folder = tempfile.mkdtemp()
    clip = make_clip(os.path.join(folder, "cam.mp4"), 30, width=160, height=120)
    port = free_port(socket.SOCK_STREAM)
    server = ServerProcess(kind, port)
    server.start()
    source = rtsp_source(server.url, latency=0) if kind == "rtsp" else tcp_source("127.0.0.1", port)
    reader = gstreamer.MultiReader(
        [source, clip],
        size=(160, 120),
        fps=30,
        mode="latest",
        loop=True,
        reconnect=gstreamer.Reconnect(stall=2.0),
    )

    class Batches:  # settled() reads through this; counts the batches where the file was late
        file_late = 0
        file_age_max = 0.0
        count = 0

        def read(self) -> object:
            batch = reader.read()
            assert batch is not None
            self.count += 1
            self.file_age_max = max(self.file_age_max, float(batch.age[1]))
            if not batch.ok[1]:
                self.file_late += 1
            return batch

    flagged: list[float] = []
    back: list[float] = []
    batches = Batches()

    def cycle() -> None:
        """Kill the RTSP server and wait for the flag, restart it and wait for fresh frames;
        with a server that drops its clients on its own, read one batch."""
        if kind != "rtsp":
            batches.read()
            return
        server.kill()
        killed = time.monotonic()
        while batches.read().ok[0]:  # type: ignore[attr-defined]
            assert time.monotonic() - killed < 30, "not flagged"
        flagged.append(time.monotonic() - killed)
        # start it in a thread: batches keep coming (and the file loops) meanwhile
        starting = threading.Thread(target=server.start, daemon=True)
        starting.start()
        while starting.is_alive():
            batches.read()
        restarted = time.monotonic()
        while not batches.read().ok[0]:  # type: ignore[attr-defined]
            assert time.monotonic() - restarted < 60, "not back"
        back.append(time.monotonic() - restarted)
        for _ in range(10):
            batches.read()

    try:
        deadline = time.monotonic() + 60
        while not reader.read().ok.all():  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the source did not come up"
        result = soak(lambda: reader.stats[0], cycle, batches, cycles)
    finally:
        reader.close()
        server.kill()
    result.update(
        batches=batches.count,
        file_late=batches.file_late,
        file_age_max=round(batches.file_age_max, 2),
    )
    if flagged:
        result.update(
            flagged_max=round(max(flagged), 2),
            flagged_median=round(sorted(flagged)[len(flagged) // 2], 2),
            back_max=round(max(back), 2),
            back_median=round(sorted(back)[len(back) // 2], 2),
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, "reconnect_soak.md")
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--multireader", action="store_true", help="a MultiReader's source")
    parser.add_argument("--kind", choices=["tcp-drop", "rtsp"], default="tcp-drop")
    args = parser.parse_args(argv)
    if args.multireader:
        r = run_multireader(args.cycles, args.kind)
        what = f"MultiReader reconnect soak ({args.kind} source and a looping file)"
        out = f"reconnect_soak_multireader_{args.kind}.md"
    else:
        r = run(args.cycles)
        what = "Reconnect soak"
        out = "reconnect_soak.md"
    ok = r["threads_delta"] == 0 and abs(r["fds_delta"]) <= 2 and r["rss_delta_mb"] < 10
    if "flagged_max" in r:
        ok = ok and r["flagged_max"] <= 2.0
    if "file_late" in r:
        ok = ok and r["file_late"] == 0
    if args.json:
        print(json.dumps(r))
        return 0 if ok else 1
    text = "\n".join(
        [
            f"{what}: {r['reconnects']} reconnect cycles in {r['seconds']} s "
            f"({r['frames']} frames read)",
            "",
            "| | before | after | change | goal |",
            "|---|---:|---:|---:|---|",
            f"| threads | {r['threads_before']} | {r['threads_after']} | "
            f"{r['threads_delta']:+d} | +/- 0 |",
            f"| open fds | {r['fds_before']} | {r['fds_after']} | {r['fds_delta']:+d} | +/- 2 |",
            f"| RSS (MB) | {r['rss_before_mb']} | {r['rss_after_mb']} | "
            f"{r['rss_delta_mb']:+.1f} | < +10 |",
            *(
                [
                    f"| flagged after kill (s) | median {r['flagged_median']} | max "
                    f"{r['flagged_max']} | | <= 2 |",
                    f"| ok again after restart (s) | median {r['back_median']} | max "
                    f"{r['back_max']} | | ~3 |",
                ]
                if "flagged_max" in r
                else []
            ),
            *(
                [
                    f"| batches where the looping file was not ok | {r['file_late']} of "
                    f"{r['batches']} | largest age {r['file_age_max']} s | | 0 |"
                ]
                if "file_late" in r
                else []
            ),
            "",
            "result: " + ("pass" if ok else "FAIL"),
        ]
    )
    save_to = args.save
    if save_to == RESULTS / "reconnect_soak.md":  # --save without FILE: this mode's own file
        save_to = RESULTS / out
    publish(text, save_to)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
