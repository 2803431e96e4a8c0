"""docs/scale.md's Python blocks run as pasted, in order, in one empty folder."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "scale.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)

pytest.importorskip("torch")
pytest.importorskip("ray")


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_scale_doc_blocks_run_in_order(tmp_path):
    assert len(BLOCKS) >= 5
    for index, code in enumerate(BLOCKS):
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, f"block {index}:\n{code}\n{proc.stderr[-3000:]}"
    assert sorted(p.name for p in (tmp_path / "inverted").iterdir()) == [
        "a.mp4",
        "b.mp4",
        "c.mp4",
        "d.mp4",
    ]
