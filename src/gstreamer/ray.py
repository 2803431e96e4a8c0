"""Ray Data: read video files into a ``ray.data.Dataset`` and write one back as video files.

::

    import ray
    import gstreamer.ray

    ray.init()                                     # or ray.init(address="auto") on a cluster
    ds = gstreamer.ray.read_videos(["a.mp4", "b.mp4"], size=(224, 224), include_paths=True)
    ds = ds.map_batches(model, batch_size=64)      # columns: frame, frame_index, path
    gstreamer.ray.write_videos(ds, "out/", fps=30)  # out/a.mp4, out/b.mp4

Needs the ``ray`` extra: ``pip install 'gstreamer-numpy[ray]'``.

:func:`read_videos` gives the rows of ``ray.data.read_videos`` (``frame``, ``frame_index``,
``frame_timestamp`` and ``path`` when asked for) without decord. Files are indexed on the
driver (demuxed, not decoded); each read task decodes one file, or one range of frames of a
long file (seeking to its first frame), so that one long video spreads over many workers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from typing import Any, Optional, Union

import numpy as np

from . import _gi
from ._clips import end_times, frame_rate
from .errors import ArgumentError, GstNotAvailableError
from .index import FrameIndex, frame_index
from .reader import Reader
from .videofile import VideoFile
from .writer import Writer

try:
    import ray
    from ray.data import Dataset, Datasink, Datasource, ReadTask
    from ray.data.block import Block, BlockAccessor, BlockMetadata
    from ray.data.datasource.datasink import WriteResult
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise GstNotAvailableError(
        "gstreamer.ray needs Ray Data: pip install 'gstreamer-numpy[ray]'"
    ) from _exc

__all__ = ["VideoDatasink", "VideoDatasource", "read_videos", "write_videos"]

Path = Union[str, "os.PathLike[str]"]

# The extensions ray.data.read_videos looks for in folders.
VIDEO_EXTENSIONS = [
    "mp4",
    "mkv",
    "mov",
    "avi",
    "wmv",
    "flv",
    "webm",
    "m4v",
    "3gp",
    "mpeg",
    "mpg",
    "ts",
    "ogv",
    "rm",
    "rmvb",
    "vob",
    "asf",
    "f4v",
    "m2ts",
    "mts",
    "divx",
    "xvid",
    "mxf",
]


def _expand(paths: Union[Path, Sequence[Path]]) -> list[str]:
    """Files, with folders replaced by the video files they hold (sorted)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[str] = []
    for path in paths:
        text = os.fspath(path)
        if os.path.isdir(text):
            for root, _, names in sorted(os.walk(text)):
                files += [
                    os.path.join(root, name)
                    for name in sorted(names)
                    if name.rsplit(".", 1)[-1].lower() in VIDEO_EXTENSIONS
                ]
        else:
            files.append(text)
    if not files:
        raise FileNotFoundError(f"no video files in {paths!r}")
    return files


class VideoDatasource(Datasource):  # type: ignore[misc]
    """A ``ray.data.Datasource`` of video frames decoded by GStreamer (see :func:`read_videos`).

    Parameters
    ----------
    paths, fps, size, include_timestamps, include_paths, format
        See :func:`read_videos`.
    min_frames_per_task : int
        A file is split into frame ranges only when each range keeps at least this many
        frames (decoding restarts at a key frame for each range).
    frames_per_block : int
        Rows per block a read task yields.
    """

    def __init__(
        self,
        paths: Union[Path, Sequence[Path]],
        *,
        fps: Union[int, float, Fraction, None] = None,
        size: Optional[tuple[int, int]] = None,
        include_timestamps: bool = False,
        include_paths: bool = False,
        format: str = "RGB",
        min_frames_per_task: int = 256,
        frames_per_block: int = 32,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if fps is not None and fps <= 0:
            raise ArgumentError(f"fps must be positive, not {fps!r}")
        self.paths = _expand(paths)
        self.fps = fps
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.include_timestamps = include_timestamps
        self.include_paths = include_paths
        self.format = format
        self.min_frames_per_task = max(1, int(min_frames_per_task))
        self.frames_per_block = max(1, int(frames_per_block))
        self.indices: list[FrameIndex] = [frame_index(path) for path in self.paths]
        self._channels = {"GRAY8": 1, "RGBA": 4, "BGRA": 4, "RGBx": 4, "BGRx": 4}.get(format, 3)

    def frame_numbers(self, index: FrameIndex) -> np.ndarray:
        """The source frame numbers read from a file: every ``stride``-th one with ``fps``.

        As ``ray.data.read_videos``: ``stride = max(1, round(source_fps / fps))``, and the
        rows keep the source frame numbers.
        """
        n = len(index)
        source = frame_rate(index)
        if self.fps is None or source is None:
            return np.arange(n, dtype=np.int64)
        stride = max(1, round(float(source) / float(self.fps)))
        return np.arange(0, n, stride, dtype=np.int64)

    def _row_bytes(self, index: FrameIndex) -> Optional[int]:
        """Bytes of one decoded frame (None when the file's caps did not say its size)."""
        if self.size is not None:
            width, height = self.size
        else:
            width, height = _coded_size(index)
        return width * height * self._channels if width and height else None

    def estimate_inmemory_data_size(self) -> Optional[int]:
        """Decoded bytes (Ray sizes its blocks and picks its parallelism from this)."""
        total = 0
        for index in self.indices:
            row = self._row_bytes(index)
            if row is None:
                return None
            total += len(self.frame_numbers(index)) * row
        return total

    def get_name(self) -> str:
        return "ReadVideosGStreamer"

    def get_read_tasks(
        self,
        parallelism: int,
        per_task_row_limit: Optional[int] = None,
        data_context: Any = None,
    ) -> list[ReadTask]:
        """One task per file; long files are cut into frame ranges to reach ``parallelism``."""
        numbers = [self.frame_numbers(index) for index in self.indices]
        total = sum(len(n) for n in numbers)
        wanted = max(1, parallelism)
        tasks: list[ReadTask] = []
        for index, rows in zip(self.indices, numbers):
            if len(rows) == 0:
                continue
            share = max(1, round(wanted * len(rows) / max(1, total)))
            pieces = max(1, min(share, len(rows) // self.min_frames_per_task))
            for chunk in np.array_split(rows, pieces):
                tasks.append(self._task(index, chunk, per_task_row_limit))
        return tasks

    def _task(
        self, index: FrameIndex, rows: np.ndarray, per_task_row_limit: Optional[int]
    ) -> ReadTask:
        row_bytes = self._row_bytes(index)
        metadata = BlockMetadata(
            num_rows=len(rows),
            size_bytes=None if row_bytes is None else len(rows) * row_bytes,
            input_files=(index.path,),
            exec_stats=None,
        )
        options = (self.size, self.format, self.include_timestamps, self.include_paths)
        blocks = self.frames_per_block

        def read() -> Iterator[Block]:
            yield from _read_rows(index, rows, options, blocks)

        kwargs: dict[str, Any] = {}
        if per_task_row_limit is not None:
            kwargs["per_task_row_limit"] = per_task_row_limit
        return ReadTask(read, metadata, **kwargs)


def _read_rows(
    index: FrameIndex,
    rows: np.ndarray,
    options: tuple[Optional[tuple[int, int]], str, bool, bool],
    frames_per_block: int,
) -> Iterator[Block]:
    """Decode source frames ``rows`` (ascending) of one file, yielding blocks."""
    size, format, include_timestamps, include_paths = options
    width, height = size if size is not None else (None, None)
    video = VideoFile(index.path, format, width, height)
    ends = end_times(index)
    try:
        for start in range(0, len(rows), frames_per_block):
            chunk = rows[start : start + frames_per_block]
            batch: dict[str, Any] = {
                "frame": video.get_batch(chunk.tolist()),
                "frame_index": chunk.astype(np.int64),
            }
            if include_timestamps:
                batch["frame_timestamp"] = np.stack([index.times[chunk], ends[chunk]], axis=1)
            if include_paths:
                batch["path"] = np.array([index.path] * len(chunk), dtype=object)
            yield BlockAccessor.batch_to_block(batch)
    finally:
        video.close()


def _coded_size(index: FrameIndex) -> tuple[int, int]:
    """``(width, height)`` from the caps of the coded stream, ``(0, 0)`` when absent."""
    caps = _gi.Gst().Caps.from_string(index.caps) if index.caps else None
    if caps is None or caps.get_size() == 0:
        return (0, 0)
    structure = caps.get_structure(0)
    ok_w, width = structure.get_int("width")
    ok_h, height = structure.get_int("height")
    return (width, height) if ok_w and ok_h else (0, 0)


def _default_blocks(files: int) -> int:
    """Blocks to ask Ray for: every CPU of the cluster busy twice over, or one per file."""
    if not ray.is_initialized():
        ray.init()  # as ray.data.read_datasource does
    cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
    return max(files, 2 * max(1, cpus))


def read_videos(
    paths: Union[Path, Sequence[Path]],
    *,
    fps: Union[int, float, Fraction, None] = None,
    size: Optional[tuple[int, int]] = None,
    include_timestamps: bool = False,
    include_paths: bool = False,
    format: str = "RGB",
    min_frames_per_task: int = 256,
    override_num_blocks: Optional[int] = None,
    **read_args: Any,
) -> Dataset:
    """Video frames as a ``ray.data.Dataset``, one row per frame.

    Parameters
    ----------
    paths : str, os.PathLike or a sequence of them
        Files, or folders (searched for the extensions ``ray.data.read_videos`` uses).
    fps : int, float or Fraction, optional
        Keep every ``round(source_fps / fps)``-th frame, as ``ray.data.read_videos`` does.
    size : (int, int), optional
        ``(width, height)`` to scale to. (``ray.data.read_videos``'s ``resize`` is
        ``(height, width)``.)
    include_timestamps : bool
        Add ``frame_timestamp``: ``[start, end]`` of the frame in seconds (float64).
    include_paths : bool
        Add ``path``.
    format : str
        ``"RGB"`` (as ``ray.data.read_videos``), ``"BGR"``, ``"GRAY8"``, ...
    min_frames_per_task : int
        Frames a read task gets at least when a long file is cut into ranges.
    override_num_blocks : int, optional
        Ask Ray for this many blocks. By default ``max(files, 2 * CPUs of the cluster)``:
        one read task per file, long files cut into frame ranges until every CPU has work
        (see Notes).
    **read_args
        Passed to ``ray.data.read_datasource`` (``num_cpus``, ``concurrency``, ...).

    Returns
    -------
    ray.data.Dataset
        Columns ``frame`` (uint8 ``(H, W, C)``), ``frame_index`` (int64, the frame's number in
        its file), and ``frame_timestamp`` / ``path`` when asked for.

    Notes
    -----
    Left to itself, Ray asks a datasource for at least ``DataContext.read_op_min_num_blocks``
    (200) blocks, fewer only when the estimated size is under 200 MiB. Decoded video is
    large, so Ray asks for 200; a read task per file cannot give that many, and Ray then cuts
    every task's output into many small blocks (``SplitBlocks``), which costs more CPU than
    the decoding saves (see ``benchmarks/results/ray.md``). :func:`read_videos` therefore
    asks for as many blocks as the cluster has CPUs to keep busy (twice its CPUs, as Ray's own
    floor) or one per file, whichever is more. Ray still cuts blocks larger than
    ``DataContext.target_max_block_size``. (``ray.data.read_datasource(VideoDatasource(...))``
    keeps Ray's planning.) Ray is started (``ray.init()``) if it is not, as Ray Data's
    readers do.
    """
    source = VideoDatasource(
        paths,
        fps=fps,
        size=size,
        include_timestamps=include_timestamps,
        include_paths=include_paths,
        format=format,
        min_frames_per_task=min_frames_per_task,
    )
    if override_num_blocks is None and read_args.get("parallelism", -1) == -1:
        override_num_blocks = _default_blocks(len(source.paths))
    if override_num_blocks is not None:
        read_args["override_num_blocks"] = override_num_blocks
    dataset: Dataset = ray.data.read_datasource(source, **read_args)
    return dataset


# -- writing ---------------------------------------------------------------------------------


class VideoDatasink(Datasink[list[tuple[str, float, str]]]):  # type: ignore[misc]
    """A ``ray.data.Datasink`` that encodes the frames of each group to one video file.

    Parameters
    ----------
    folder : str or os.PathLike
        Where the files go (created if missing).
    group_by : str, optional
        The column naming each row's file (``"path"``: ``out/<name of the source>``). Without
        it (or when the column is missing) each write task writes one file.
    order_by : str, optional
        Rows are written in the order of this column (``"frame_index"``) when present.
    fps : int, float or Fraction
    extension : str
        Container and codec come from it (``"mp4"``: H.264 in MP4, ``"mkv"``, ``"webm"``...).
    frame_column : str

    Notes
    -----
    Each write task encodes its rows of each group to a part file. When a group's rows went
    to several tasks, :meth:`on_write_complete` (on the driver) joins the parts in
    ``order_by`` order, decoding and encoding them once more; groups whose rows stayed in one
    task are only renamed.
    """

    def __init__(
        self,
        folder: Path,
        *,
        group_by: Optional[str] = "path",
        order_by: Optional[str] = "frame_index",
        fps: Union[int, float, Fraction] = 30,
        extension: str = "mp4",
        frame_column: str = "frame",
    ) -> None:
        self.folder = os.fspath(folder)
        self.group_by = group_by
        self.order_by = order_by
        self.fps = fps
        self.extension = extension.lstrip(".")
        self.frame_column = frame_column
        self.files: list[str] = []
        self.joined: list[str] = []  # files made of the parts of several write tasks

    def get_name(self) -> str:
        return "WriteVideosGStreamer"

    def on_write_start(self, schema: Any = None) -> None:
        os.makedirs(os.path.join(self.folder, ".parts"), exist_ok=True)

    def _name(self, group: Any, task: int) -> str:
        if group is None:
            return f"{task:05d}"
        stem = os.path.splitext(os.path.basename(str(group)))[0]
        return stem or f"{task:05d}"

    def write(self, blocks: Iterable[Block], ctx: Any) -> list[tuple[str, float, str]]:
        """Encode this task's rows: ``[(file name, first order value, part path), ...]``."""
        groups: dict[Any, list[tuple[float, np.ndarray]]] = {}
        task = int(getattr(ctx, "task_idx", 0))
        for block in blocks:
            batch = BlockAccessor.for_block(block).to_numpy()
            frames = batch[self.frame_column]
            count = len(frames)
            keys = (
                batch[self.group_by]
                if self.group_by is not None and self.group_by in batch
                else [None] * count
            )
            order = (
                batch[self.order_by]
                if self.order_by is not None and self.order_by in batch
                else np.arange(count)
            )
            for i in range(count):
                groups.setdefault(keys[i], []).append((float(order[i]), np.asarray(frames[i])))
        parts: list[tuple[str, float, str]] = []
        for key, rows in groups.items():
            rows.sort(key=lambda row: row[0])
            name = f"{self._name(key, task)}.{self.extension}"
            part = os.path.join(self.folder, ".parts", f"{name}.{task:05d}.{self.extension}")
            _encode(part, (frame for _, frame in rows), self.fps)
            parts.append((name, rows[0][0], part))
        return parts

    def on_write_complete(self, write_result: WriteResult[list[tuple[str, float, str]]]) -> None:
        by_name: dict[str, list[tuple[float, str]]] = {}
        for task_parts in write_result.write_returns:
            for name, first, part in task_parts:
                by_name.setdefault(name, []).append((first, part))
        files = []
        for name, parts in sorted(by_name.items()):
            parts.sort()
            target = os.path.join(self.folder, name)
            if len(parts) == 1:
                os.replace(parts[0][1], target)
            else:
                _join(target, [part for _, part in parts], self.fps)
                for _, part in parts:
                    os.remove(part)
                self.joined.append(target)
            files.append(target)
        shutil.rmtree(os.path.join(self.folder, ".parts"), ignore_errors=True)
        self.files = files


def _encode(path: str, frames: Iterable[np.ndarray], fps: Union[int, float, Fraction]) -> int:
    writer: Optional[Writer] = None
    count = 0
    try:
        for frame in frames:
            if writer is None:
                format = "GRAY8" if frame.ndim == 2 else ("RGBA" if frame.shape[2] == 4 else "RGB")
                writer = Writer(path, fps=fps, format=format)
            writer.write(frame)
            count += 1
    finally:
        if writer is not None:
            writer.close()
    return count


def _join(target: str, parts: list[str], fps: Union[int, float, Fraction]) -> None:
    def frames() -> Iterator[np.ndarray]:
        for part in parts:
            with Reader(part) as reader:
                for frame in reader:
                    yield np.asarray(frame.data)

    handle, tmp = tempfile.mkstemp(suffix=os.path.splitext(target)[1], dir=os.path.dirname(target))
    os.close(handle)
    try:
        _encode(tmp, frames(), fps)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_videos(
    dataset: Dataset,
    folder: Path,
    *,
    group_by: Optional[str] = "path",
    order_by: Optional[str] = "frame_index",
    fps: Union[int, float, Fraction] = 30,
    extension: str = "mp4",
    frame_column: str = "frame",
    **write_args: Any,
) -> list[str]:
    """Encode the frames of ``dataset`` to video files in ``folder``, one per group.

    Parameters are those of :class:`VideoDatasink`; ``write_args`` go to
    ``Dataset.write_datasink``.

    Returns
    -------
    list of str
        The files written, sorted.
    """
    sink = VideoDatasink(
        folder,
        group_by=group_by,
        order_by=order_by,
        fps=fps,
        extension=extension,
        frame_column=frame_column,
    )
    dataset.write_datasink(sink, **write_args)
    return sink.files
