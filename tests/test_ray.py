"""gstreamer.ray on a local Ray (2 CPUs): read_videos rows, frame ranges of a long file, and
write_videos round trips checked by ffprobe."""

import os
from typing import Any

import numpy as np
import pytest
from _helpers import ffprobe_stream
from _indexed import make_clip, read_index

from gstreamer import read_frames

# ray and gstreamer.ray are imported by the local_ray fixture, not at collection: importing
# ray takes seconds, and this module (e2e) is only collected by the fast loop to be deselected.
ray: Any = None
gray: Any = None

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
]


@pytest.fixture(scope="module")
def local_ray():
    global ray, gray
    ray = pytest.importorskip("ray")
    import gstreamer.ray as gray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(indexed_clip):
    return [
        indexed_clip("a.mp4", 20),
        indexed_clip("b.mkv", 12, width=320, height=240, start=100),
        indexed_clip("c.webm", 15, start=200),
        indexed_clip("d.mov", 9, start=300),
    ]


def offset(path) -> int:
    return {"a": 0, "b": 100, "c": 200, "d": 300}[os.path.basename(path)[0]]


def test_read_videos_gives_ray_rows(local_ray, clips):
    ds = gray.read_videos(clips, size=(80, 60), include_timestamps=True, include_paths=True)
    assert set(ds.columns()) == {"frame", "frame_index", "frame_timestamp", "path"}
    rows = ds.take_all()
    assert len(rows) == 20 + 12 + 15 + 9
    for row in rows:
        assert row["frame"].shape == (60, 80, 3) and row["frame"].dtype == np.uint8
        assert read_index(row["frame"]) == offset(row["path"]) + row["frame_index"]
        start, end = row["frame_timestamp"]
        assert abs(start - row["frame_index"] / 30) < 0.001 and abs(end - start - 1 / 30) < 0.001
    for path, n in zip(clips, (20, 12, 15, 9)):
        indices = sorted(r["frame_index"] for r in rows if r["path"] == path)
        assert indices == list(range(n))


def test_read_videos_with_fps_keeps_every_nth_frame_number(local_ray, clips):
    rows = gray.read_videos(clips[:1], fps=10).take_all()
    assert sorted(r["frame_index"] for r in rows) == [0, 3, 6, 9, 12, 15, 18]
    assert set(rows[0]) == {"frame", "frame_index"}


def test_a_long_file_is_read_by_several_tasks(local_ray, tmp_path):
    long = make_clip(tmp_path / "long.mp4", 120)
    source = gray.VideoDatasource([long], size=(80, 60), min_frames_per_task=30)
    tasks = source.get_read_tasks(4)
    assert len(tasks) == 4
    assert [t.metadata.num_rows for t in tasks] == [30, 30, 30, 30]
    ds = gray.read_videos([long], size=(80, 60), min_frames_per_task=30, override_num_blocks=4)
    rows = ds.take_all()
    assert sorted(r["frame_index"] for r in rows) == list(range(120))
    assert all(read_index(r["frame"]) == r["frame_index"] for r in rows)


def test_write_videos_round_trips_to_files_ffprobe_counts(local_ray, clips, tmp_path):
    ds = gray.read_videos(clips, size=(80, 60), include_paths=True)
    ds = ds.repartition(7)  # rows of a file spread over several write tasks
    sink = gray.VideoDatasink(tmp_path / "out", fps=30)
    ds.write_datasink(sink)
    files = sink.files
    assert sink.joined  # some files were joined from the parts of several tasks
    names = sorted(os.path.basename(f) for f in files)
    assert names == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
    for path, n in zip(sorted(files), (20, 12, 15, 9)):
        info = ffprobe_stream(path, "nb_read_frames", "width", "height")
        assert info == {"nb_read_frames": str(n), "width": "80", "height": "60"}
        got = [read_index(frame) for frame in read_frames(path)]
        assert got == [offset(path) + i for i in range(n)]
    assert not os.path.exists(tmp_path / "out" / ".parts")


def test_missing_files_are_named(local_ray, tmp_path):
    with pytest.raises(FileNotFoundError):
        gray.read_videos([tmp_path / "nope.mp4"])
    with pytest.raises(FileNotFoundError):
        gray.read_videos(tmp_path)  # an empty folder


def test_write_videos_without_a_group_column_writes_one_file_per_task(local_ray, tmp_path):
    frames = np.stack([np.full((48, 64, 3), 10 * i, np.uint8) for i in range(12)])
    ds = ray.data.from_items([{"frame": f} for f in frames]).repartition(1)
    files = gray.write_videos(ds, tmp_path / "out", group_by=None, extension="mkv")
    assert len(files) == 1 and files[0].endswith(".mkv")
    assert ffprobe_stream(files[0], "nb_read_frames")["nb_read_frames"] == "12"
