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
from typing import TYPE_CHECKING, Any, Callable, Generic, Optional, TypeVar

from ._lifecycle import State, Stateful
from ._time import Timestamp
from .frame import Frame
from .reader import Reader, Source

if TYPE_CHECKING:
    from .writer import Writer

__all__ = ["AsyncReader", "AsyncWriter"]

T = TypeVar("T")
_Inner = TypeVar("_Inner")
_Self = TypeVar("_Self", bound="_AsyncBase[Any]")


class _Worker:
    """One thread that runs blocking calls for one object, in order."""

    def __init__(self, name: str) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)


class _AsyncBase(Stateful, Generic[_Inner]):
    """Starting and closing shared by the asyncio front ends: ``make()`` builds the
    blocking object in the worker thread."""

    # close() on the worker (after queued calls) or beside it (to interrupt a blocked call)
    _CLOSE_ON_WORKER = True

    def __init__(self, worker_name: str, make: Callable[[], _Inner]) -> None:
        self._inner: Optional[_Inner] = None
        self._make = make
        self._worker = _Worker(worker_name)
        self._state = State.NEW

    async def start(self: _Self) -> _Self:
        """Build the blocking object and start its pipeline (in the worker thread);
        idempotent."""
        self._require_not_closed()
        if self._inner is None:
            self._inner = await self._worker.run(self._make)
            self._state = State.OPEN
        return self

    async def __aenter__(self: _Self) -> _Self:
        return await self.start()

    async def _finish(self, name: str, *args: Any) -> None:
        if self._state is State.CLOSED:
            return
        self._state = State.CLOSED
        inner = self._inner
        try:
            if inner is not None:
                call = getattr(inner, name)
                if self._CLOSE_ON_WORKER:
                    await self._worker.run(call, *args)
                else:
                    await asyncio.get_running_loop().run_in_executor(None, call, *args)
        finally:
            self._worker.shutdown()

    async def close(self) -> None:
        """Stop the pipeline; idempotent. Raises an error no earlier call raised."""
        await self._finish("close")

    async def __aexit__(self, *exc_info: Any) -> None:
        if exc_info[1] is None:
            await self.close()
        else:
            # an exception is in flight: the blocking object's __exit__ decides how to stop
            await self._finish("__exit__", *exc_info)


class AsyncReader(_AsyncBase[Reader]):
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
        super().__init__("gstreamer-aio-reader", functools.partial(Reader, source, **kwargs))

    @property
    def reader(self) -> Optional[Reader]:
        """The blocking :class:`~gstreamer.Reader` (None before start)."""
        return self._inner

    async def read(self, timeout: Optional[float] = None) -> Optional[Frame]:
        """The next frame, or None at end of stream (see :meth:`Reader.read`)."""
        await self.start()
        assert self.reader is not None
        return await self._worker.run(self.reader.read, timeout)

    def __aiter__(self) -> AsyncReader:
        return self

    async def __anext__(self) -> Frame:
        frame = await self.read()
        if frame is None:
            raise StopAsyncIteration
        return frame

    _CLOSE_ON_WORKER = False  # close() also ends a read() waiting in the worker

    def __repr__(self) -> str:
        return f"<AsyncReader {self.reader!r}>"


class AsyncWriter(_AsyncBase["Writer"]):
    """A :class:`~gstreamer.Writer` for asyncio: ``await write(frame)``, ``await close()``.

    Takes the same arguments as :class:`~gstreamer.Writer`. Writes run in order in one
    worker thread; with ``backpressure="block"`` an awaited write waits (without blocking
    the event loop) while the pipeline is full.
    """

    def __init__(self, target: Any, **kwargs: Any) -> None:
        def make() -> Writer:
            from .writer import Writer

            return Writer(target, **kwargs)

        super().__init__("gstreamer-aio-writer", make)

    @property
    def writer(self) -> Optional[Writer]:
        """The blocking :class:`~gstreamer.Writer` (None before start)."""
        return self._inner

    async def write(
        self,
        frame: Any,
        pts: Timestamp = None,
        duration: Timestamp = None,
    ) -> bool:
        """Write one frame (see :meth:`Writer.write`); False when it was dropped.

        As with :class:`~gstreamer.Writer`, the pipeline may read the array after this
        returns: write a new array per frame (or pass ``copy=True`` to the constructor).
        """
        self._require_not_closed()
        await self.start()
        assert self.writer is not None
        return await self._worker.run(self.writer.write, frame, pts=pts, duration=duration)

    def __repr__(self) -> str:
        return f"<AsyncWriter {self.writer!r}>"
