"""The README's Python snippets run as written (in a scratch directory)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from _helpers import ffprobe_stream

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_snippets():
    assert len(SNIPPETS) >= 3


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_snippet_runs(index, tmp_path):
    code = SNIPPETS[index]
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("clip.mp4", "clip.mkv", "video.mp4"):
        if name in code:
            info = ffprobe_stream(tmp_path / name, "nb_read_frames")
            assert int(info["nb_read_frames"]) == 30, name
