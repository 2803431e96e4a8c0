"""docs/random-access.md: its Python examples and its probe commands run as pasted, in order."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "docs" / "random-access.md"
TEXT = PAGE.read_text()
PYTHON = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
BASH = re.findall(r"```bash\n(.*?)```", TEXT, flags=re.S)


@pytest.mark.e2e
def test_examples_run_in_order(tmp_path):
    assert len(PYTHON) >= 5
    for code in PYTHON:
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"{code}\n{proc.stderr}"
    probe_lines = [line for line in BASH[0].splitlines() if line.startswith("gstreamer probe")]
    assert len(probe_lines) == 2
    for line in probe_lines:
        command = shlex.split(line.split("#", 1)[0])
        proc = subprocess.run(
            [sys.executable, "-m", "gstreamer", *command[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert "h264" in proc.stdout
