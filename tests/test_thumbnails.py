"""thumbnails(): keyframes at evenly spaced or given times."""

import numpy as np
import pytest
from _media import ffprobe_frames, frame_number, session_clips

from gstreamer import NotSeekableError, thumbnails


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return session_clips(tmp_path_factory)


def expected_keyframe(times, keys, t):
    return max(k for k in keys if times[k] <= t + 1e-6)


@pytest.mark.parametrize("name", ["h264.mp4", "hevc.mp4", "vp9.webm", "h264.ts", "vfr.mkv"])
def test_keyframe_at_or_before_each_time(clips, name):
    times, keys = ffprobe_frames(clips[name])
    duration = times[-1] + (times[-1] - times[-2])
    thumbs = thumbnails(clips[name], n=5)
    assert len(thumbs) == 5
    wanted = [duration * (k + 0.5) / 5 for k in range(5)]
    for frame, t in zip(thumbs, wanted):
        k = expected_keyframe(times, keys, t)
        assert frame_number(frame.data) == k
        assert frame.keyframe and frame.pts / 1e9 == pytest.approx(times[k], abs=2e-6)
    picked = thumbnails(clips[name], times=[0.0, times[keys[-1]], times[-1]])
    assert [frame_number(f.data) for f in picked] == [0, keys[-1], keys[-1]]


def test_size_rotation_and_errors(clips):
    thumbs = thumbnails(clips["rot90.mp4"], n=3, width=60)
    assert [f.data.shape for f in thumbs] == [(80, 60, 3)] * 3
    assert np.stack(thumbs).shape == (3, 80, 60, 3)
    assert thumbnails(clips["h264.mp4"], n=0) == []
    with pytest.raises(NotSeekableError):
        thumbnails("videotestsrc num-buffers=10")
