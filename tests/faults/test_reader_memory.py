"""Readers give their frames' memory back: after close(), and over repeated passes."""

import gc
import subprocess

import numpy as np
import pytest

from gstreamer import Reader, _memory

from ._probe import rss_mb


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
    # a large block freed first raises glibc's dynamic mmap threshold (as a long-running
    # program does); frames must still leave the process when the caller drops them
    big = np.ones(8 << 20, np.uint8)
    del big
    with Reader(clip720) as warm:
        for _ in warm:
            pass
    gc.collect()
    base = rss_mb()
    reader = Reader(clip720)
    frames = list(reader)
    held = rss_mb() - base
    assert len(frames) == 60 and held > 100  # 60 frames of 2.7 MB are really held
    reader.close()
    del frames
    gc.collect()
    assert reader.closed  # still referenced
    assert rss_mb() - base < 10


@pytest.mark.e2e
def test_repeated_readers_do_not_grow_rss(clip720):
    rss = []
    for _ in range(6):
        with Reader(clip720) as reader:
            assert sum(1 for _ in reader) == 60
        gc.collect()
        rss.append(rss_mb())
    assert rss[-1] - rss[1] < 30, rss
