"""SIGTERM while ``with Writer("x.mp4")`` runs loses no frame; a user's handler is chained."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from _helpers import frames_in

CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from gstreamer import Writer

    path, handle = sys.argv[1], sys.argv[2] == "1"
    # not crash-safe: the file is readable only if the writer finished it (a crash-safe
    # file killed after its first fragment plays, and how many frames a busy machine
    # writes before the signal lands is not up to the test)
    with Writer(path, fps=30, handle_sigterm=handle, crash_safe=False) as writer:
        for i in range(100000):
            writer.write(np.full((48, 64, 3), i % 256, np.uint8))
            print(i + 1, flush=True)
    """
)


def _run_and_terminate(path, after, handle=True):
    """Start a child writing frames; SIGTERM it after ``after`` frames; return
    (frames the child saw written, frames in the file, return code)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, os.fspath(path), "1" if handle else "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    written = 0
    assert child.stdout is not None
    for line in child.stdout:
        written = int(line)
        if written >= after:
            child.send_signal(signal.SIGTERM)
            break
    for line in child.stdout:  # frames written before the signal arrived
        written = int(line)
    child.wait(60)
    return written, frames_in(path), child.returncode


@pytest.mark.e2e
@pytest.mark.parametrize("trial", range(10))
def test_sigterm_during_with_writer_loses_no_frame(tmp_path, trial):
    written, in_file, code = _run_and_terminate(tmp_path / "x.mp4", after=20 + 7 * trial)
    assert written >= 20
    # every frame whose write() returned is in the file; the write the signal
    # interrupted may have been pushed too
    assert written <= in_file <= written + 1, (written, in_file, code)
    assert code != 0  # it was interrupted, like Ctrl-C


@pytest.mark.e2e
def test_opt_out_keeps_sigterm_default(tmp_path):
    _, in_file, code = _run_and_terminate(tmp_path / "x.mp4", after=10, handle=False)
    assert code == -signal.SIGTERM
    # killed at once: the MP4 has no index and does not play (why the default is on)
    assert in_file == -1


def test_handler_is_installed_only_while_a_writer_is_open(tmp_path):
    import numpy as np

    from gstreamer import Writer, _signals

    before = signal.getsignal(signal.SIGTERM)
    with Writer(tmp_path / "a.mkv", fps=30) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
        assert signal.getsignal(signal.SIGTERM) is not before
        assert _signals.holders() == 1
    assert signal.getsignal(signal.SIGTERM) is before
    assert _signals.holders() == 0
    with Writer(tmp_path / "b.mkv", fps=30, handle_sigterm=False) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
        assert signal.getsignal(signal.SIGTERM) is before


def test_user_handler_is_chained(tmp_path):
    import numpy as np

    from gstreamer import Writer

    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with Writer(tmp_path / "a.mkv", fps=30) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            os.kill(os.getpid(), signal.SIGTERM)  # the user's handler decides: no interrupt
            writer.write(np.zeros((48, 64, 3), np.uint8))
        assert seen == [signal.SIGTERM]
        assert frames_in(tmp_path / "a.mkv") == 2
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_raises_keyboard_interrupt_while_open(tmp_path):
    import numpy as np

    from gstreamer import Writer

    with pytest.raises(KeyboardInterrupt), Writer(tmp_path / "a.mp4", fps=30) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
        os.kill(os.getpid(), signal.SIGTERM)
        writer.write(np.zeros((48, 64, 3), np.uint8))  # not reached on CPython
    assert frames_in(tmp_path / "a.mp4") == 1
