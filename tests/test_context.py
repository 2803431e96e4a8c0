"""GstContext: a GLib main loop in a background thread that never swallows exceptions."""

import sys
import threading
import time

import pytest
from _helpers import wait_for

from gstreamer import GLib, GstContext, GstError, TimeoutError
from gstreamer.context import main_loop_running


def test_context_manager_runs_and_stops_the_loop():
    seen = threading.Event()
    threads = []
    with GstContext() as ctx:
        assert ctx.is_running
        assert main_loop_running()

        def callback():
            threads.append(threading.current_thread().name)
            seen.set()
            return False

        GLib.idle_add(callback)
        assert seen.wait(5)
    assert not ctx.is_running
    assert not main_loop_running()
    assert threads == ["GstContext"]


def test_an_isolated_context_runs_only_its_own_main_context():
    ran_in: list[str] = []
    with GstContext(isolated=True) as ctx:
        assert ctx.is_running
        assert not main_loop_running()  # the default context is not run by it
        assert ctx.main_context != GLib.MainContext.default()
        done = threading.Event()

        def callback(*_):
            ran_in.append(threading.current_thread().name)
            done.set()
            return False

        source = GLib.timeout_source_new(1)
        source.set_callback(callback)
        source.attach(ctx.main_context)
        assert done.wait(5)
        ctx.call(lambda: 1 / 0)
        wait_for(lambda: ctx.error is not None)
        with pytest.raises(GstError, match="ZeroDivisionError"):
            ctx.raise_for_error()
    assert not ctx.is_running
    assert ran_in == ["GstContext"]


def test_startup_shutdown_restart_and_idempotency():
    ctx = GstContext()
    ctx.shutdown()  # before startup: nothing to do
    for _ in range(3):
        ctx.startup()
        ctx.startup()  # no-op while running
        assert ctx.is_running
        done = threading.Event()
        ctx.call(done.set)
        assert done.wait(5)
        ctx.shutdown()
        ctx.shutdown()
        assert not ctx.is_running
    assert "GstContext" not in [t.name for t in threading.enumerate()]


def test_exception_in_a_glib_callback_is_kept_and_raised_by_shutdown(capsys):
    ctx = GstContext()
    ctx.startup()
    GLib.idle_add(lambda: 1 / 0)
    wait_for(lambda: ctx.error is not None)
    assert ctx.is_running  # the loop carries on
    with pytest.raises(GstError, match="ZeroDivisionError") as info:
        ctx.shutdown()
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert "Traceback" not in capsys.readouterr().err  # not printed and dropped
    ctx.shutdown()  # raised once


def _fail_on_the_loop(ctx, exc):
    """Make a call on the context's loop raise ``exc``; return once the context holds it."""

    def fails():
        raise exc

    ctx.call(fails)
    wait_for(lambda: ctx.error is not None)


def test_exception_in_call_is_raised_by_raise_for_error():
    with GstContext() as ctx:
        _fail_on_the_loop(ctx, KeyError("missing"))
        with pytest.raises(GstError, match="KeyError") as info:
            ctx.raise_for_error()
        assert isinstance(info.value.__cause__, KeyError)
        ctx.raise_for_error()  # once


def test_gst_errors_from_the_loop_keep_their_type():
    from gstreamer import CapsError

    with GstContext() as ctx:
        _fail_on_the_loop(ctx, CapsError("bad caps"))
        with pytest.raises(CapsError, match="bad caps"):
            ctx.raise_for_error()


def test_exception_is_not_raised_over_the_bodys_exception():
    with pytest.raises(RuntimeError, match="body"), GstContext() as ctx:
        GLib.idle_add(lambda: 1 / 0)
        wait_for(lambda: ctx.error is not None)
        raise RuntimeError("body")


def test_excepthook_is_restored_and_other_threads_untouched():
    before = sys.excepthook
    with GstContext():
        assert sys.excepthook is not before
    wait_for(lambda: sys.excepthook is before)


def test_shutdown_never_hangs_on_a_stuck_callback():
    release = threading.Event()
    ctx = GstContext()
    ctx.startup()
    ctx.call(release.wait, 30)  # blocks the loop thread
    time.sleep(0.05)
    with pytest.raises(TimeoutError, match=r"did not stop within 0\.1 s"):
        ctx.shutdown(timeout=0.1)
    release.set()
    ctx.shutdown(timeout=5)  # joins it now
    assert not ctx.is_running
    ctx.startup()  # and it can run again
    assert ctx.is_running
    ctx.shutdown()
