import gc

import pytest
from _helpers import Passthrough, xvfb_display

from gstreamer import _gi, buffers


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
    gc.collect()
    assert buffers.live_wrapped_arrays() == 0


@pytest.fixture
def xvfb():
    """DISPLAY of a private Xvfb server, stopped afterwards."""
    with xvfb_display() as display:
        yield display
