"""How many converted frames a Reader keeps in memory: the frame converted ahead waits for
the caller to let go of the one before, and converted frames reuse freed memory (never
memory still in use)."""

import gc
import subprocess
import sys
import time

import numpy as np
import pytest
from _helpers import wait_for
from _media import frame_number, session_clips

from gstreamer import _convert, appsink
from gstreamer.reader import Reader

pytestmark = pytest.mark.skipif(not _convert.available(), reason="libswscale is not installed")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return session_clips(tmp_path_factory)


@pytest.fixture(autouse=True)
def patient_prefetch(monkeypatch):
    # the helper converts after _HOLD seconds all the same; a busy machine must not make
    # the counts below depend on how fast the test runs
    monkeypatch.setattr(appsink, "_HOLD", 120.0)


def _memory(reader):
    converter = reader._puller._converter
    assert converter is not None  # decoded YUV, converted to RGB in the puller
    return converter._memory


@pytest.mark.parametrize("work", [0.0, 0.005])
def test_a_loop_reuses_the_memory_of_the_frames_it_let_go(clips, work):
    """With or without work per frame (with it, the next frame is converted ahead, into the
    memory of the frame before once the loop let go of it): the frame in the loop variable
    and the next one (a third at times, when a frame is freed later than the loop moved on),
    not one allocation per frame."""
    numbers, addresses = [], set()
    with Reader(clips["h264.mp4"]) as reader:
        for frame in reader:
            numbers.append(frame_number(frame.data))
            addresses.add(frame.data.ctypes.data)
            if work:
                time.sleep(work)
        made = _memory(reader).made
        prefetched = reader._puller.prefetched
    assert numbers == list(range(150))
    assert made <= 3
    assert len(addresses) == made
    if work:
        assert prefetched > 0


def test_frames_the_caller_keeps_are_never_reused(clips):
    with Reader(clips["h264.mp4"]) as reader:
        frames = [f.data for f in reader]
        made = _memory(reader).made
    assert [frame_number(f) for f in frames] == list(range(150))
    assert len({f.ctypes.data for f in frames}) == 150
    assert made == 150
    # a kept frame is an ordinary writable array that outlives the reader
    frames[0][:] = 0
    assert frame_number(frames[1]) == 1


def test_a_view_of_a_frame_keeps_its_memory_from_reuse(clips):
    with Reader(clips["h264.mp4"]) as reader:
        views = [f.data[::1, ::-1][:, ::-1] for f in reader]  # the frames themselves dropped
    assert all(not v.flags.owndata for v in views)
    assert [frame_number(v) for v in views] == list(range(150))
    assert len({v.__array_interface__["data"][0] for v in views}) == 150


def test_the_next_frame_is_converted_once_the_one_before_is_released(clips):
    with Reader(clips["h264.mp4"]) as reader:
        first = reader.read()
        time.sleep(0.05)  # the caller works (far longer than a 160x120 conversion takes)
        second = reader.read()
        prefetch = reader._puller._prefetch
        memory = _memory(reader)
        assert memory.made == 2
        address = first.data.ctypes.data
        del first
        gc.collect()
        # frame 2 is converted ahead without another read(), into frame 0's memory
        wait_for(lambda: prefetch._done, what="frame 2 converted ahead")
        third = reader.read()
        assert memory.made == 2
        assert third.data.ctypes.data == address
        assert [frame_number(second.data), frame_number(third.data)] == [1, 2]


def test_a_caller_that_keeps_the_previous_frame_still_gets_the_next_one(clips):
    with Reader(clips["h264.mp4"]) as reader:
        kept = [reader.read()]
        time.sleep(0.05)  # the caller works: the next frame is converted ahead
        kept.append(reader.read())
        time.sleep(0.05)
        # frame 0 is still held: the conversion of frame 2 waits, until this read asks
        kept.append(reader.read())
        assert _memory(reader).made == 3
        assert [frame_number(f.data) for f in kept] == [0, 1, 2]
        assert len({f.data.ctypes.data for f in kept}) == 3


def test_free_memory_is_dropped_at_close_and_kept_frames_stay_valid(clips):
    with Reader(clips["h264.mp4"]) as reader:
        frames = [reader.read().data for _ in range(5)]
        memory = _memory(reader)
    assert memory.free == 0  # close() dropped the maps nobody used
    assert [frame_number(f) for f in frames] == [0, 1, 2, 3, 4]
    del frames
    gc.collect()
    assert memory.free == 0  # freed after close: unmapped, not kept


def test_converted_arrays_are_c_contiguous_writable_and_padded_for_libswscale(clips):
    with Reader(clips["h264.mp4"]) as reader:
        frame = reader.read().data
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    assert frame.flags.c_contiguous and frame.flags.writeable
    base = frame.base
    assert base.nbytes >= frame.nbytes + _convert._PAD


def test_c_libraries_load_by_soname_or_by_name():
    from gstreamer.buffers import load_library

    libc = load_library("libc.so.6", "c")
    assert libc.malloc_trim is not None
    # an unknown soname: found by name instead (ctypes.util, imported only then)
    assert load_library("libc-not-here.so.99", "c").malloc_trim is not None
    with pytest.raises(OSError):
        load_library("libno-such-library-anywhere.so.0", "no-such-library-anywhere")


@pytest.mark.e2e
def test_reading_a_file_imports_no_module_it_does_not_need(clips):
    # ctypes.util (shutil, tempfile, bz2, lzma: about 1 MiB) and pathlib (urllib.parse,
    # ipaddress) in a fresh interpreter that imports gstreamer and reads a frame
    code = (
        "import sys, gstreamer\n"
        "with gstreamer.Reader(sys.argv[1]) as reader:\n"
        "    assert reader.read() is not None\n"
        "print(sorted(m for m in ('ctypes.util', 'pathlib', 'tempfile') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(clips["h264.mp4"])],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout
