import gc
import signal

import pytest
from _helpers import Passthrough, xvfb_display
from _indexed import make_clip

from gstreamer import _gi, buffers


def pytest_configure(config):
    # A suite started in the background by a non-interactive shell (``cmd &``) inherits SIGINT
    # ignored, and so would the processes the Ctrl-C tests interrupt: give it back.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _gst():
    return _gi.ensure_init()


@pytest.fixture
def passthrough():
    """Make :class:`Passthrough` pipelines; all closed afterwards, with no array left alive."""
    made: list[Passthrough] = []

    def make(caps: str, middle: str = "") -> Passthrough:
        p = Passthrough(caps, middle)
        made.append(p)
        return p

    yield make
    while made:
        made.pop().close()
    if buffers.live_wrapped_arrays():
        # only then a full collection: it costs ~0.2 s a time once torch or ray is imported
        gc.collect()
    assert buffers.live_wrapped_arrays() == 0


@pytest.fixture(scope="session")
def indexed_clip(tmp_path_factory):
    """``indexed_clip(name, frames, **options)``: :func:`_indexed.make_clip`'s file, made once
    per session for the same arguments (tests only read these clips)."""
    folder = tmp_path_factory.mktemp("indexed")
    made: dict[tuple, str] = {}

    def get(name: str, frames: int, **options) -> str:
        key = (name, frames, *sorted(options.items()))
        if key not in made:
            subfolder = folder / str(len(made))  # the file keeps its name
            subfolder.mkdir()
            made[key] = make_clip(subfolder / name, frames, **options)
        return made[key]

    return get


@pytest.fixture
def xvfb():
    """DISPLAY of a private Xvfb server, stopped afterwards."""
    with xvfb_display() as display:
        yield display


# Modules that import torch or ray run last: those imports make every later gc.collect()
# (and so many teardowns) slower.
_HEAVY_MODULES = ("test_dlpack.py", "test_multireader.py", "test_ray.py", "test_torch.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.path.name in _HEAVY_MODULES)
