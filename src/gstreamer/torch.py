"""PyTorch datasets over video files: clips and single frames as uint8 tensors.

::

    from torch.utils.data import DataLoader
    from gstreamer.torch import VideoClips

    clips = VideoClips(["a.mp4", "b.mp4"], clip_len=16, stride=8, size=(224, 224))
    for batch in DataLoader(clips, batch_size=4, num_workers=2):   # (4, 16, 224, 224, 3)
        ...

Needs the ``torch`` extra: ``pip install 'gstreamer-numpy[torch]'``.

The files are indexed when the dataset is made (demuxed, not decoded: fast; see
:func:`gstreamer.index.frame_index`). Items are read lazily through
:class:`~gstreamer.VideoFile`: each process (the main one, or each ``DataLoader`` worker,
forked or spawned) opens its own on first use, keeps one per file and seeks only when an item
does not follow the previous one. A dataset pickles without its readers, and a forked worker
never touches the readers of its parent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from typing import Optional, Union

import numpy as np

from ._clips import FileCache, resampled
from .errors import ArgumentError, GstNotAvailableError
from .index import FrameIndex, frame_index

try:
    import torch
    from torch.utils.data import Dataset
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise GstNotAvailableError(
        "gstreamer.torch needs PyTorch: pip install 'gstreamer-numpy[torch]'"
    ) from _exc

__all__ = ["FrameDataset", "VideoClips"]

Path = Union[str, "os.PathLike[str]"]
FrameRate = Union[int, float, Fraction, str, None]


class _VideoDataset(Dataset):  # type: ignore[type-arg]
    """What both datasets share: the indices, the per-process readers."""

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        fps: FrameRate,
        size: Optional[tuple[int, int]],
        format: str,
    ) -> None:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self.paths = [os.fspath(p) for p in paths]
        if not self.paths:
            raise ArgumentError("no paths given")
        self.fps = fps
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.format = format
        self.indices: list[FrameIndex] = [frame_index(p) for p in self.paths]
        # source frame numbers of each file at ``fps`` (all of them when fps is None)
        self.frames: list[np.ndarray] = [resampled(ix, fps) for ix in self.indices]
        self._files = FileCache(self.size, format)

    def _read(self, file: int, wanted: np.ndarray) -> np.ndarray:
        """Source frames ``wanted`` of file ``file`` as ``(T, H, W, C)``."""
        return self._files.get(self.paths[file]).get_batch(wanted.tolist())

    def close(self) -> None:
        """Stop this process's readers (they are opened again when needed)."""
        self._files.close()


class VideoClips(_VideoDataset):
    """Clips of ``clip_len`` consecutive frames, one item per clip.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        Video files.
    clip_len : int
        Frames per clip (``T``).
    stride : int, optional
        Frames between the starts of consecutive clips of a file (default ``clip_len``:
        clips do not overlap). A file shorter than ``clip_len`` gives no clip.
    fps : int, float, Fraction or str, optional
        Resample each file to this rate first, as torchvision does (frame ``k`` is source
        frame ``floor(k * source_fps / fps)``).
    size : (int, int), optional
        ``(width, height)`` to scale to.
    format : str
        A raw video format that is one array per frame (``"RGB"``, ``"BGR"``, ``"GRAY8"``).

    Notes
    -----
    An item is a ``torch.uint8`` tensor ``(T, H, W, C)`` (``(T, H, W)`` for gray formats).
    :meth:`clip_location` tells where it comes from.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        clip_len: int,
        *,
        stride: Optional[int] = None,
        fps: FrameRate = None,
        size: Optional[tuple[int, int]] = None,
        format: str = "RGB",
    ) -> None:
        if clip_len < 1:
            raise ArgumentError(f"clip_len must be at least 1, not {clip_len}")
        stride = clip_len if stride is None else int(stride)
        if stride < 1:
            raise ArgumentError(f"stride must be at least 1, not {stride}")
        super().__init__(paths, fps=fps, size=size, format=format)
        self.clip_len = int(clip_len)
        self.stride = stride
        self._clips: list[tuple[int, int]] = [
            (file, start)
            for file, frames in enumerate(self.frames)
            for start in range(0, len(frames) - self.clip_len + 1, self.stride)
        ]

    def __len__(self) -> int:
        return len(self._clips)

    def clip_location(self, item: int) -> tuple[str, np.ndarray]:
        """``(path, source frame numbers)`` of clip ``item``."""
        file, start = self._clips[item]
        return self.paths[file], self.frames[file][start : start + self.clip_len]

    def __getitem__(self, item: int) -> torch.Tensor:
        if not -len(self) <= item < len(self):
            raise IndexError(f"clip {item} of {len(self)}")
        file, start = self._clips[item]
        wanted = self.frames[file][start : start + self.clip_len]
        return torch.from_numpy(self._read(file, wanted))


class FrameDataset(_VideoDataset):
    """Every frame of every file, one item per frame: ``torch.uint8`` ``(H, W, C)``.

    Parameters are those of :class:`VideoClips` without ``clip_len`` and ``stride``. Items
    read in order (as a ``DataLoader`` without shuffling asks for them) are decoded once;
    random order seeks for each item.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        fps: FrameRate = None,
        size: Optional[tuple[int, int]] = None,
        format: str = "RGB",
    ) -> None:
        super().__init__(paths, fps=fps, size=size, format=format)
        self._starts = np.cumsum([0] + [len(f) for f in self.frames])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def frame_location(self, item: int) -> tuple[str, int]:
        """``(path, source frame number)`` of frame ``item``."""
        file, k = self._locate(item)
        return self.paths[file], int(self.frames[file][k])

    def _locate(self, item: int) -> tuple[int, int]:
        n = len(self)
        if not -n <= item < n:
            raise IndexError(f"frame {item} of {n}")
        item %= n
        file = int(np.searchsorted(self._starts, item, side="right")) - 1
        return file, item - int(self._starts[file])

    def __getitem__(self, item: int) -> torch.Tensor:
        file, k = self._locate(item)
        return torch.from_numpy(self._read(file, self.frames[file][k : k + 1])[0])
