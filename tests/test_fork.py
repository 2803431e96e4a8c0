"""GStreamer in a forked child (a DataLoader worker, a multiprocessing pool) while the parent
has pipelines running and just stopped: the child's pipelines must not hang."""

import os

import pytest
from _indexed import make_clip, read_index

import gstreamer
from gstreamer import context

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork"),
]


def _in_child(clip) -> int:
    """Exit status of a forked child that reads ``clip`` whole and checks every frame."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 1
        try:
            assert not context.main_loop_running()
            with gstreamer.Reader(clip, width=64, height=48, timeout=10) as reader:
                got = [read_index(frame.data) for frame in reader]
            status = 0 if got == list(range(30)) else 3
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return status


def test_forked_children_read_while_the_parent_reads(tmp_path):
    clip = make_clip(tmp_path / "a.mp4", 30)
    with gstreamer.GstContext():  # a main loop runs in the parent, not in the children
        for _ in range(3):
            with gstreamer.Reader("videotestsrc num-buffers=3") as finished:
                list(finished)
            with gstreamer.Reader(clip, width=64, height=48) as running:
                running.read()  # the parent's pipeline is still running at the fork
                assert _in_child(clip) == 0
