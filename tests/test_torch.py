"""gstreamer.torch: clip and frame datasets, in DataLoaders with forked and spawned workers."""

import subprocess
import sys

import numpy as np
import pytest
from _indexed import read_index

pytestmark = pytest.mark.timeout(180)


# torch is imported by the first test that needs it, not at collection: once imported, every
# garbage collection of the rest of the suite costs about ten times more.
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def datasets(torch):
    """``gstreamer.torch`` (``VideoClips``, ``FrameDataset``)."""
    import gstreamer.torch

    return gstreamer.torch


@pytest.fixture(scope="module")
def videos(indexed_clip):
    return [
        indexed_clip("a.mp4", 30),
        indexed_clip("b.mkv", 24, width=320, height=240, start=100),
    ]


def clip_indices(clip) -> list[int]:
    return [read_index(frame) for frame in clip.numpy()]


def test_video_clips_cover_each_file_with_strided_clips(videos, datasets, torch):
    clips = datasets.VideoClips(videos, clip_len=8, stride=4, size=(80, 60))
    # a: starts 0, 4, ..., 20 (6 clips); b: 0, 4, ..., 16 (5 clips)
    assert len(clips) == 11
    for item in range(len(clips)):
        clip = clips[item]
        assert clip.dtype == torch.uint8 and tuple(clip.shape) == (8, 60, 80, 3)
        path, frames = clips.clip_location(item)
        offset = 0 if path == videos[0] else 100
        assert clip_indices(clip) == [offset + int(f) for f in frames]
    assert clip_indices(clips[5]) == list(range(20, 28))
    assert clip_indices(clips[-1]) == list(range(116, 124))
    with pytest.raises(IndexError):
        clips[11]


def test_video_clips_resample_to_a_lower_rate(videos, datasets):
    clips = datasets.VideoClips(videos[:1], clip_len=5, fps=15, size=(80, 60), format="GRAY8")
    assert len(clips) == 3  # 15 frames at 15 fps
    assert tuple(clips[0].shape) == (5, 60, 80)
    assert [clip_indices(clips[i]) for i in range(3)] == [
        [0, 2, 4, 6, 8],
        [10, 12, 14, 16, 18],
        [20, 22, 24, 26, 28],
    ]


def test_frame_dataset_reads_any_frame_in_any_order(videos, datasets):
    frames = datasets.FrameDataset(videos, size=(80, 60))
    assert len(frames) == 54
    order = np.random.default_rng(3).permutation(len(frames))
    for item in order[:20]:
        path, number = frames.frame_location(int(item))
        offset = 0 if path == videos[0] else 100
        frame = frames[int(item)]
        assert tuple(frame.shape) == (60, 80, 3)
        assert read_index(frame.numpy()) == offset + number
    assert [read_index(frames[i].numpy()) for i in range(28, 34)] == [28, 29, 100, 101, 102, 103]
    frames.close()


def test_arguments_are_checked(videos, datasets, tmp_path):
    with pytest.raises(ValueError):
        datasets.VideoClips(videos, clip_len=0)
    with pytest.raises(ValueError):
        datasets.VideoClips(videos, clip_len=4, stride=0)
    with pytest.raises(FileNotFoundError):
        datasets.FrameDataset([tmp_path / "missing.mp4"])
    assert len(datasets.VideoClips(videos, clip_len=31)) == 0  # no file is that long


def _loader_batches(dataset, workers: int, context=None):
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=3, num_workers=workers, multiprocessing_context=context)
    return [batch.clone() for batch in loader]


@pytest.mark.e2e
@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_give_the_same_batches(videos, datasets, torch, context):
    clips = datasets.VideoClips(videos, clip_len=4, stride=3, size=(64, 48))
    clips[0]  # the parent has open readers when the workers start (matters for fork)
    expected = _loader_batches(clips, 0)
    got = _loader_batches(clips, 2, context)
    assert len(got) == len(expected) == 6
    for a, b in zip(expected, got):
        assert torch.equal(a, b)
    assert [read_index(f) for f in got[0][1].numpy()] == [3, 4, 5, 6]
    clips.close()


@pytest.mark.e2e
def test_frame_dataset_in_forked_workers(videos, datasets, torch):
    frames = datasets.FrameDataset(videos, size=(64, 48))
    expected = _loader_batches(frames, 0)
    got = _loader_batches(frames, 2, "fork")
    assert all(torch.equal(a, b) for a, b in zip(expected, got)) and len(got) == len(expected)


@pytest.mark.e2e  # a fresh interpreter in a child process
def test_importing_gstreamer_imports_neither_ray_nor_torch():
    code = (
        "import sys, gstreamer; "
        "assert 'torch' not in sys.modules and 'ray' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.e2e  # a fresh interpreter in a child process
@pytest.mark.parametrize("extra", ["torch", "ray"])
def test_a_missing_extra_is_named(extra):
    code = (
        f"import sys; sys.modules[{extra!r}] = None\n"
        "import gstreamer\n"
        "try:\n"
        f"    import gstreamer.{extra}\n"
        "except gstreamer.GstNotAvailableError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"pip install 'gstreamer-numpy[{extra}]'" in out.stdout
