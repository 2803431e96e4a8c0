"""Readers give their frames' memory back: after close(), and over repeated passes.

RSS is measured in a fresh process: in the test process it also counts what earlier tests
left to the allocator.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from gstreamer import _memory

TESTS = Path(__file__).resolve().parent.parent

SCRIPT = """
import gc, sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
from faults._probe import heap_in_use_mb, rss_mb
from gstreamer import Reader

path = sys.argv[2]
# a large block freed first raises glibc's dynamic mmap threshold (as in a long-running
# program), so frames come from the heap arenas rather than from mappings of their own
big = np.ones(8 << 20, np.uint8)
del big
if sys.argv[1] == "held":
    with Reader(path) as warm:
        for _ in warm:
            pass
    del _
    gc.collect()
    base, heap = rss_mb(), heap_in_use_mb()
    reader = Reader(path)
    frames = list(reader)
    held = rss_mb() - base
    reader.close()
    del frames
    gc.collect()
    assert reader.closed  # still referenced
    # GStreamer's threads may still be letting go of their pools on a busy machine: wait
    # (with a deadline) for the memory to come back, then report what is left
    deadline = time.monotonic() + 15
    while rss_mb() - base >= 10 and time.monotonic() < deadline:
        time.sleep(0.1)
    print(held, rss_mb() - base, -1 if heap is None else heap_in_use_mb() - heap)
else:
    rss = []
    for _ in range(int(sys.argv[4])):
        with Reader(path) as reader:
            for frame in reader:
                pass
        del frame
        gc.collect()
        rss.append(rss_mb())
    print(*rss)
"""


def _run(*args):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, args[0], str(args[1]), str(TESTS), *map(str, args[2:])],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return [float(x) for x in out.stdout.split()]


@pytest.fixture(scope="module")
def clip720(tmp_path_factory):
    path = tmp_path_factory.mktemp("mem") / "clip720.mp4"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
            "testsrc2=size=1280x720:rate=30", "-frames:v", "60", "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-preset", "ultrafast", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def test_malloc_trim_is_found_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    assert _memory.release_freed() is True


@pytest.mark.e2e
def test_closed_reader_still_referenced_holds_no_frames(clip720):
    held, after, in_use = _run("held", clip720)
    assert held > 100  # 60 frames of 2.7 MB were really held
    # nothing is held: every byte malloc handed out for the frames came back (mallinfo2)
    assert in_use < 5, (held, after, in_use)
    # and the memory went back to the system, up to what glibc may keep at the top of a
    # finished streaming thread's arena: up to its trim threshold, twice the largest block
    # freed (16 MB after the 8 MB block above), which malloc_trim does not release
    # (measured: 0-3 MB left, or 12-17 MB when the decoder's last pictures sat at the top
    # of such an arena; 401 MB before the reader released its frames at all)
    assert after < 20, (held, after, in_use)


@pytest.mark.e2e
def test_repeated_readers_do_not_grow_rss(clip720):
    rss = _run("passes", clip720, 6)
    assert rss[-1] - rss[1] < 30, rss
