"""Ctrl-C is never lost nor turned into another error: during the first ``push-buffer`` of a
process, and while ``startup()`` is blocked in an element, it is a KeyboardInterrupt, and it
always stops the CLI's loops.

PyGObject makes the Python class of an enum the first time it converts one of its values;
a KeyboardInterrupt pending at that moment used to come out of ``emit`` as
``SystemError ... RuntimeError: can't create const`` (see ``gstreamer._gi``). The child
fills appsrc's queue through C (no enum is converted), so the seed-style
``appsrc.emit("push-buffer", buf)`` that follows blocks, and is the first call to return
a ``FlowReturn``; SIGINT arrives while it blocks, then the pipeline is stopped.
"""

import os
import platform
import subprocess
import sys
import textwrap

import pytest
from _helpers import interrupt, started, wait_for

CHILD = textwrap.dedent(
    """
    import ctypes, os, signal, threading, time
    import numpy as np
    from gstreamer import GstPipeline
    from gstreamer._gi import Gst, GstApp
    from gstreamer.buffers import _buffer_pointer, _get_lib
    from gstreamer.utils import ndarray_to_gst_buffer

    pipeline = GstPipeline("appsrc block=true max-buffers=1 format=time ! fakesink sync=true")
    pipeline.startup()
    appsrc = pipeline.get_by_cls(GstApp().AppSrc)[0]
    app = ctypes.CDLL("libgstapp-1.0.so.0")
    app.gst_app_src_push_buffer.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib = _get_lib()
    capsule = ctypes.pythonapi.PyCapsule_GetPointer
    capsule.restype, capsule.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    src = capsule(appsrc.__gpointer__, None)

    def buffer(i):
        buf = ndarray_to_gst_buffer(np.zeros(16, np.uint8))
        buf.pts = i * 10 * Gst().SECOND
        return buf

    # through C, so that no FlowReturn is converted: one buffer is shown, one waits for
    # its time (10 s), one fills the queue
    kept = [buffer(i) for i in range(3)]
    for buf in kept:  # push_buffer takes a reference of its own
        app.gst_app_src_push_buffer(src, lib.mini_object_ref(_buffer_pointer(lib, buf)))

    def interrupt_then_stop():
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
        pipeline.pipeline.set_state(Gst().State.NULL)

    threading.Thread(target=interrupt_then_stop, daemon=True).start()
    try:
        appsrc.emit("push-buffer", buffer(3))  # blocks: the queue is full
        print("no interrupt")
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    except BaseException as exc:
        print("other:", type(exc).__name__, repr(exc.__context__))
    """
)


@pytest.mark.e2e
def test_ctrl_c_during_the_first_push_is_a_keyboard_interrupt():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1:] == ["KeyboardInterrupt"], (out.stdout, out.stderr)


STOP_CHILD = textwrap.dedent(
    """
    import os, random, signal, sys, threading, time
    from gstreamer import cli

    kind = sys.argv[1]
    for trial in range(30):
        stop = threading.Event() if kind == "Event" else cli._Stop()

        def interrupt(delay=random.uniform(0.001, 0.02)):
            time.sleep(delay)
            os.kill(os.getpid(), signal.SIGINT)

        with cli._interrupts_set(stop):
            threading.Thread(target=interrupt, daemon=True).start()
            while not stop.wait(0):  # the loops' own test, as often as it can run
                pass
    print("done", flush=True)
    """
)


@pytest.mark.e2e
def test_ctrl_c_always_stops_the_cli_loops():
    """The CLI's loops stop on a flag that SIGINT sets. With a ``threading.Event`` the
    handler could land while the main thread held the Event's own lock inside ``wait()``
    and wait for it for ever (``serve`` hung once under load); the flag takes no lock."""
    out = subprocess.run(
        [sys.executable, "-c", STOP_CHILD, "_Stop"], capture_output=True, text=True, timeout=120
    )
    assert out.stdout.split() == ["done"], (out.stdout, out.stderr)


BLOCKED_START_CHILD = textwrap.dedent(
    """
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    from gstreamer import GstPipeline

    # filesrc opens its file going to PAUSED: a FIFO that nobody writes to blocks open()
    pipeline = GstPipeline(f"filesrc location={sys.argv[1]} ! fakesink")
    print("starting", flush=True)
    try:
        pipeline.startup()
        print("started")
    except KeyboardInterrupt:
        print("KeyboardInterrupt", pipeline.pipeline is None, flush=True)
    except BaseException as exc:
        print("other:", type(exc).__name__, flush=True)
    pipeline.shutdown()  # nothing left to stop: returns at once
    print("shut down", flush=True)
    """
)

# the openat system call's number, as /proc/<pid>/task/<tid>/syscall shows it
_OPENAT = {"x86_64": 257, "aarch64": 56}


def _threads_in_syscall(pid, number):
    found = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                found += f.read().split()[0] == str(number)
        except (OSError, IndexError):
            pass  # the thread ended
    return found


@pytest.mark.e2e
@pytest.mark.skipif(platform.machine() not in _OPENAT, reason="openat's number is not known")
def test_ctrl_c_while_startup_blocks_in_an_element(tmp_path):
    """A state change runs in C for as long as its elements take (here filesrc opening a FIFO
    nobody writes to; in life a source connecting to a host that does not answer). SIGINT
    used to interrupt the open, land in the bus handler and be printed and lost, and startup
    raised StateChangeError; now it is a KeyboardInterrupt, the pipeline is released in the
    background and the process exits."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with started([sys.executable, "-c", BLOCKED_START_CHILD, str(fifo)]) as proc:
        assert proc.stdout.readline().strip() == "starting", proc.stderr.read()
        wait_for(
            lambda: _threads_in_syscall(proc.pid, _OPENAT[platform.machine()]) > 0,
            timeout=60,
            what="the child blocked in open()",
        )
        out, err = interrupt(proc)
    assert out.split() == ["KeyboardInterrupt", "True", "shut", "down"], (out, err)
    assert proc.returncode == 0, err
