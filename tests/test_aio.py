import asyncio

import numpy as np
import pytest
from _helpers import ffprobe_stream

import gstreamer.aio
from gstreamer import ClosedError, PipelineError
from gstreamer.aio import AsyncReader, AsyncWriter
from gstreamer.reader import Reader


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_async_for_reads_every_frame():
    async def main():
        frames = []
        async with AsyncReader("videotestsrc num-buffers=12 pattern=smpte", format="GRAY8") as r:
            async for frame in r:
                frames.append(frame)
            assert r.reader.height == 240
        return frames

    frames = run(main())
    assert len(frames) == 12
    assert [f.offset for f in frames] == list(range(12))
    assert frames[0].data.shape == (240, 320)
    blocking = Reader("videotestsrc num-buffers=1 pattern=smpte", format="GRAY8").read()
    np.testing.assert_array_equal(frames[0].data, blocking.data)


def test_event_loop_keeps_running_while_waiting():
    # a slow live source: the loop must tick while read() waits in the worker thread
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        src = "videotestsrc is-live=true ! video/x-raw,framerate=10/1"
        async with AsyncReader(src, timeout=10) as reader:
            for _ in range(3):
                assert await reader.read() is not None
        task.cancel()
        return ticks

    assert run(main()) > 5


def test_two_async_readers_at_once():
    async def count(src):
        n = 0
        async for _ in AsyncReader(src):
            n += 1
        return n

    async def main():
        return await asyncio.gather(
            count("videotestsrc num-buffers=30"), count("videotestsrc num-buffers=45")
        )

    assert run(main()) == [30, 45]


def test_async_errors_and_close():
    async def main():
        reader = AsyncReader("videotestsrc num-buffers=100 ! identity error-after=3")
        with pytest.raises(PipelineError):
            async for _ in reader:
                pass
        await reader.close()
        await reader.close()
        with pytest.raises(ClosedError):
            await reader.read()

    run(main())


def test_async_close_interrupts_a_waiting_read():
    async def main():
        reader = AsyncReader("videotestsrc is-live=true ! video/x-raw,framerate=1/30", timeout=30)
        assert await reader.read() is not None
        pending = asyncio.ensure_future(reader.read())
        await asyncio.sleep(0.2)
        await reader.close()
        with pytest.raises(ClosedError):
            await pending

    run(main())


def test_async_missing_file(tmp_path):
    async def main():
        with pytest.raises(FileNotFoundError):
            async with AsyncReader(tmp_path / "missing.mp4"):
                pass

    run(main())


def test_async_writer_writes_a_complete_file(tmp_path):
    out = tmp_path / "async.mp4"

    async def main():
        async with AsyncWriter(out, fps=25) as writer:
            for i in range(25):
                assert await writer.write(np.full((48, 64, 3), i * 10, np.uint8)) is True
        with pytest.raises(ClosedError):
            await writer.write(np.zeros((48, 64, 3), np.uint8))
        await writer.close()  # idempotent

    run(main())
    info = ffprobe_stream(out, "nb_read_frames", "width", "height", "r_frame_rate")
    assert info == {"nb_read_frames": "25", "width": "64", "height": "48", "r_frame_rate": "25/1"}


def test_async_round_trip(tmp_path):
    out = tmp_path / "round.mkv"

    async def main():
        writer = AsyncWriter(out, fps=30)
        async for frame in AsyncReader("videotestsrc num-buffers=20 pattern=ball"):
            await writer.write(np.array(frame.data, copy=True))
        await writer.close()
        frames = []
        async for frame in AsyncReader(out):
            frames.append(frame)
        return frames

    frames = run(main())
    assert len(frames) == 20
    assert frames[0].data.shape == (240, 320, 3)


def test_module_surface():
    assert set(gstreamer.aio.__all__) == {"AsyncReader", "AsyncWriter"}


def test_exception_in_async_with_propagates_and_finalises(tmp_path):
    out = tmp_path / "partial.mp4"

    async def main():
        with pytest.raises(KeyError):
            async with AsyncReader("videotestsrc is-live=true") as reader:
                await reader.read()
                raise KeyError("user error")
        assert reader.reader.closed
        with pytest.raises(KeyError):
            async with AsyncWriter(out, fps=30) as writer:
                for _ in range(10):
                    await writer.write(np.zeros((48, 64, 3), np.uint8))
                raise KeyError("user error")

    run(main())
    assert ffprobe_stream(out, "nb_read_frames")["nb_read_frames"] == "10"
