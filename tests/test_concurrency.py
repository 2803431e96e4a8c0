import threading
import time

import numpy as np
import pytest
from _helpers import ffprobe_stream

from gstreamer import ClosedError
from gstreamer.reader import Reader

# (pattern, foreground colour, frames, width, height): every reader gets different frames
JOBS = [
    ("solid-color", 0xFF102030, 40, 320, 240),
    ("solid-color", 0xFFC08040, 55, 160, 120),
    ("solid-color", 0xFF00FF00, 70, 318, 238),
    ("solid-color", 0xFFFFFFFF, 25, 640, 360),
]


def _read_job(job, barrier, results, index):
    pattern, color, count, width, height = job
    src = (
        f"videotestsrc num-buffers={count} pattern={pattern} foreground-color={color:#x}"
        f" ! video/x-raw,width={width},height={height}"
    )
    try:
        with Reader(src, format="RGB", timeout=30) as reader:
            first = reader.read()
            barrier.wait(timeout=30)  # all readers are running at the same time
            frames = [first, *reader]
        results[index] = frames
    except BaseException as exc:  # handed to the main thread, which re-raises it
        results[index] = exc


@pytest.mark.parametrize("n", [2, 4])
def test_readers_in_threads_get_all_their_frames(n):
    jobs = JOBS[:n]
    barrier = threading.Barrier(n)
    results: list = [None] * n
    threads = [
        threading.Thread(target=_read_job, args=(job, barrier, results, i))
        for i, job in enumerate(jobs)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    for job, frames in zip(jobs, results):
        if isinstance(frames, BaseException):
            raise frames
        _, color, count, width, height = job
        rgb = np.array([(color >> 16) & 255, (color >> 8) & 255, color & 255], np.uint8)
        assert len(frames) == count
        assert [f.offset for f in frames] == list(range(count))
        for frame in frames:
            assert frame.data.shape == (height, width, 3)
            assert (frame.data == rgb).all()


def test_close_from_another_thread_ends_a_blocked_read():
    reader = Reader("videotestsrc is-live=true ! video/x-raw,framerate=1/30", timeout=30)
    reader.read()
    outcome = []

    def blocked():
        try:
            outcome.append(reader.read())
        except BaseException as exc:
            outcome.append(exc)

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.2)
    reader.close()
    t.join(10)
    assert not t.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ClosedError)


def test_readers_and_writers_together(tmp_path):
    from gstreamer.writer import Writer

    errors: list = []
    outputs = [tmp_path / f"out{i}.mkv" for i in range(2)]
    counts: dict = {}

    def write(path, value):
        try:
            with Writer(path, fps=30) as writer:
                for _ in range(30):
                    writer.write(np.full((64, 96, 3), value, np.uint8))
        except BaseException as exc:
            errors.append(exc)

    def read(key, n):
        try:
            with Reader(f"videotestsrc num-buffers={n}", timeout=30) as reader:
                counts[key] = sum(1 for _ in reader)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(outputs[0], 40)),
        threading.Thread(target=write, args=(outputs[1], 200)),
        threading.Thread(target=read, args=("a", 50)),
        threading.Thread(target=read, args=("b", 60)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    assert counts == {"a": 50, "b": 60}
    for path, value in zip(outputs, (40, 200)):
        assert ffprobe_stream(path, "nb_read_frames")["nb_read_frames"] == "30"
        frames = [f.data for f in Reader(path, format="RGB")]
        assert len(frames) == 30
        assert abs(float(frames[-1].mean()) - value) <= 8  # lossy H.264
