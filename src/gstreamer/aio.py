"""asyncio front ends: ``async for frame in AsyncReader(...)`` and ``await writer.write(...)``.

Each object owns one worker thread that runs the blocking :class:`~gstreamer.Reader` or
:class:`~gstreamer.Writer` calls (they release the GIL while GStreamer works), so the event
loop never blocks and calls on one object keep their order. Errors are raised from the
awaited call, exactly as the blocking objects raise them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union

from .errors import ClosedError
from .frame import Frame
from .reader import Reader, Source

if TYPE_CHECKING:
    from .writer import Writer

__all__ = ["AsyncReader", "AsyncWriter"]

T = TypeVar("T")


class _Worker:
    """One thread that runs blocking calls for one object, in order."""

    def __init__(self, name: str) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)


class AsyncReader:
    """A :class:`~gstreamer.Reader` for asyncio.

    Takes the same arguments as :class:`~gstreamer.Reader`. The pipeline starts in the
    worker thread on first use (``async with``, :meth:`start`, :meth:`read` or iteration).

    Examples
    --------
    >>> async with AsyncReader("clip.mp4", format="RGB") as reader:  # doctest: +SKIP
    ...     async for frame in reader:
    ...         print(frame.pts, frame.data.shape)
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        self._source = source
        self._kwargs = kwargs
        self._reader: Optional[Reader] = None
        self._worker = _Worker("gstreamer-aio-reader")
        self._closed = False

    @property
    def reader(self) -> Optional[Reader]:
        """The blocking :class:`~gstreamer.Reader` (None before start)."""
        return self._reader

    async def start(self) -> AsyncReader:
        """Build and start the pipeline (in the worker thread); idempotent."""
        if self._closed:
            raise ClosedError("AsyncReader is closed")
        if self._reader is None:
            self._reader = await self._worker.run(Reader, self._source, **self._kwargs)
        return self

    async def read(self, timeout: Optional[float] = None) -> Optional[Frame]:
        """The next frame, or None at end of stream (see :meth:`Reader.read`)."""
        await self.start()
        assert self._reader is not None
        return await self._worker.run(self._reader.read, timeout)

    def __aiter__(self) -> AsyncReader:
        return self

    async def __anext__(self) -> Frame:
        frame = await self.read()
        if frame is None:
            raise StopAsyncIteration
        return frame

    async def close(self) -> None:
        """Stop the pipeline; idempotent. Raises an error no earlier call raised.

        It also ends a :meth:`read` that is waiting in the worker thread.
        """
        if self._closed:
            return
        self._closed = True
        reader = self._reader
        try:
            if reader is not None:
                # not on the worker: it may be blocked in read(), which close() interrupts
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, reader.close)
        finally:
            self._worker.shutdown()

    async def __aenter__(self) -> AsyncReader:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc is None:
            await self.close()
            return
        # an exception is in flight: stop without raising the pipeline's error over it
        if self._closed:
            return
        self._closed = True
        reader = self._reader
        try:
            if reader is not None:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, reader.__exit__, exc_type, exc, tb)
        finally:
            self._worker.shutdown()

    def __repr__(self) -> str:
        return f"<AsyncReader {self._reader!r}>"


class AsyncWriter:
    """A :class:`~gstreamer.Writer` for asyncio: ``await write(frame)``, ``await close()``.

    Takes the same arguments as :class:`~gstreamer.Writer`. Writes run in order in one
    worker thread; with ``backpressure="block"`` an awaited write waits (without blocking
    the event loop) while the pipeline is full.
    """

    def __init__(self, target: Any, **kwargs: Any) -> None:
        self._target = target
        self._kwargs = kwargs
        self._writer: Optional[Writer] = None
        self._worker = _Worker("gstreamer-aio-writer")
        self._closed = False

    @property
    def writer(self) -> Optional[Writer]:
        """The blocking :class:`~gstreamer.Writer` (None before start)."""
        return self._writer

    async def start(self) -> AsyncWriter:
        """Create the writer (in the worker thread); idempotent."""
        if self._closed:
            raise ClosedError("AsyncWriter is closed")
        if self._writer is None:
            from .writer import Writer

            self._writer = await self._worker.run(Writer, self._target, **self._kwargs)
        return self

    async def write(
        self,
        frame: Any,
        pts: Union[int, float, None] = None,
        duration: Union[int, float, None] = None,
    ) -> bool:
        """Write one frame (see :meth:`Writer.write`); False when it was dropped.

        As with :class:`~gstreamer.Writer`, the pipeline may read the array after this
        returns: write a new array per frame (or pass ``copy=True`` to the constructor).
        """
        if self._closed:
            raise ClosedError("AsyncWriter is closed")
        await self.start()
        assert self._writer is not None
        return await self._worker.run(self._writer.write, frame, pts=pts, duration=duration)

    async def close(self) -> None:
        """Finish the stream (EOS, wait, stop) after all queued writes; idempotent."""
        if self._closed:
            return
        self._closed = True
        writer = self._writer
        try:
            if writer is not None:
                await self._worker.run(writer.close)
        finally:
            self._worker.shutdown()

    async def __aenter__(self) -> AsyncWriter:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc is None:
            await self.close()
            return
        # an exception is in flight: let the Writer decide how to stop (its __exit__)
        if self._closed:
            return
        self._closed = True
        writer = self._writer
        try:
            if writer is not None:
                await self._worker.run(writer.__exit__, exc_type, exc, tb)
        finally:
            self._worker.shutdown()

    def __repr__(self) -> str:
        return f"<AsyncWriter {self._writer!r}>"
