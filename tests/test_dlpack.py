"""DLPack: frames export their memory; writers and buffers take DLPack and array-interface
objects (torch tensors, JAX/CuPy-style arrays)."""

import numpy as np
import pytest
from _helpers import ffprobe_stream
from _indexed import index_frame, read_index

import gstreamer
from gstreamer import CapsError, Reader, Writer, read_frames


class DLPackOnly:
    """An array that offers nothing but DLPack (as JAX and CuPy arrays do)."""

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


class InterfaceOnly:
    """An array that offers nothing but ``__array_interface__``."""

    def __init__(self, array):
        self._array = array
        self.__array_interface__ = array.__array_interface__


def test_frame_exports_its_memory_to_numpy_read_only():
    with Reader("videotestsrc num-buffers=1", format="RGB") as reader:
        frame = reader.read()
    assert frame.__dlpack_device__() == (1, 0)
    array = np.from_dlpack(frame)
    assert array.ctypes.data == frame.data.ctypes.data  # shared, not copied
    assert array.shape == (240, 320, 3) and not array.flags.writeable


def test_frame_exports_its_memory_to_torch():
    torch = pytest.importorskip("torch")
    with Reader("videotestsrc num-buffers=1", format="GRAY8", copy=True) as reader:
        frame = reader.read()
    tensor = torch.from_dlpack(frame)
    assert tensor.data_ptr() == frame.data.ctypes.data
    tensor[0, 0] = 7  # a copy=True frame is the caller's to write
    assert frame.data[0, 0] == 7


def test_a_frame_of_planes_cannot_be_exported():
    frame = gstreamer.Frame(data=[np.zeros((4, 4), np.uint8), np.zeros((2, 2), np.uint8)])
    with pytest.raises(TypeError, match="planes"):
        np.from_dlpack(frame)


@pytest.mark.parametrize("kind", ["dlpack", "interface", "torch", "frame"])
def test_writer_takes_any_array_like(tmp_path, kind):
    frames = [index_frame(i, 160, 120) for i in range(10)]
    if kind == "dlpack":
        inputs = [DLPackOnly(f) for f in frames]
    elif kind == "interface":
        inputs = [InterfaceOnly(f) for f in frames]
    elif kind == "torch":
        torch = pytest.importorskip("torch")
        inputs = [torch.from_numpy(f) for f in frames]
    else:
        inputs = [gstreamer.Frame(data=f) for f in frames]
    out = tmp_path / "v.mp4"
    with Writer(out, fps=30) as writer:
        for item in inputs:
            writer.write(item)
    assert ffprobe_stream(out, "nb_read_frames")["nb_read_frames"] == "10"
    assert [read_index(f) for f in read_frames(out)] == list(range(10))


def test_buffers_wrap_dlpack_objects_without_copying():
    array = np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3)
    buffer = gstreamer.ndarray_to_buffer(
        DLPackOnly(array), "video/x-raw,format=RGB,width=64,height=48"
    )
    back = gstreamer.buffer_to_ndarray(buffer, "video/x-raw,format=RGB,width=64,height=48")
    assert np.array_equal(back, array)
    assert back.ctypes.data == array.ctypes.data


def test_writer_names_what_it_cannot_take(tmp_path):
    torch = pytest.importorskip("torch")
    frame = torch.zeros((120, 160, 3), dtype=torch.uint8, requires_grad=False).float()
    frame.requires_grad_(True)
    with Writer(tmp_path / "v.mp4", fps=30) as writer, pytest.raises(CapsError, match="detach"):
        writer.write(frame)
