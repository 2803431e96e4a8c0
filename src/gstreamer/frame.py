"""``Frame``: an array with its timestamps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from .errors import ArgumentTypeError

__all__ = ["Frame", "GstBuffer", "clock_time"]

_NONE = 2**64 - 1  # GST_CLOCK_TIME_NONE


def clock_time(value: Optional[int]) -> Optional[int]:
    """GStreamer clock time (ns) → int, or None for GST_CLOCK_TIME_NONE."""
    if value is None or value == _NONE or value < 0:
        return None
    return int(value)


@dataclass(frozen=True)
class Frame:
    """One buffer pulled from a pipeline.

    Attributes
    ----------
    data : numpy.ndarray or list of numpy.ndarray
        The frame (a zero-copy view unless a copy was asked for); planar formats whose
        planes cannot form one array give a list of planes.
    pts, dts, duration : int or None
        Nanoseconds; None when GStreamer did not set them.
    offset : int or None
        The buffer offset (frame number for most video sources).
    keyframe : bool
        False when the buffer is flagged DELTA_UNIT.
    caps : str
        The caps the buffer came with.
    """

    data: Union[np.ndarray, list[np.ndarray]]
    pts: Optional[int] = None
    dts: Optional[int] = None
    duration: Optional[int] = None
    offset: Optional[int] = None
    keyframe: bool = True
    caps: str = ""

    @property
    def time(self) -> Optional[float]:
        """Presentation time in seconds."""
        return None if self.pts is None else self.pts / 1e9

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape (for a list of planes, the first plane's)."""
        if isinstance(self.data, list):
            return tuple(self.data[0].shape)
        return tuple(self.data.shape)

    def _array(self) -> np.ndarray:
        if isinstance(self.data, list):
            raise ArgumentTypeError("a planar frame is a list of planes; use frame.data")
        return self.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self._array()
        if dtype is not None:
            arr = arr.astype(dtype)
        return np.array(arr, copy=True) if copy else arr

    def __dlpack__(
        self,
        *,
        stream: Any = None,
        max_version: Optional[tuple[int, int]] = None,
        dl_device: Any = None,
        copy: Optional[bool] = None,
    ) -> Any:
        """Export the frame through DLPack: ``np.from_dlpack(frame)``, ``torch.from_dlpack(frame)``.

        The consumer shares the frame's memory (no copy). A frame read without ``copy=True``
        is a read-only view of GStreamer's buffer, which only DLPack 1.0 consumers (NumPy 2,
        PyTorch 2.5 and later) can take: they mark it read-only (NumPy) or must not write to
        it (PyTorch tensors have no read-only flag). Older consumers get :class:`BufferError`;
        read with ``copy=True`` for them.

        Raises
        ------
        TypeError
            The frame is a list of planes (see :attr:`data`).
        BufferError
            The consumer asked for something the array cannot give (see above).
        """
        kwargs: dict[str, Any] = {}
        if stream is not None:
            kwargs["stream"] = stream
        if max_version is not None:
            kwargs["max_version"] = max_version
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        return self._array().__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        """``(1, 0)``: frames are in CPU memory (``kDLCPU``, device 0)."""
        return (1, 0)


# The seed library's name for the same thing.
GstBuffer = Frame
