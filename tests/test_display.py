"""The post's first run: random frames shown through ``videoconvert ! autovideosink``.

Runs under a private Xvfb server; checks autovideosink picked an X sink and the script exits 0.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _helpers import started

pytestmark = pytest.mark.e2e

RUN_APPSRC = (
    Path(__file__).resolve().parent.parent / "examples" / "launch_pipeline" / "run_appsrc.py"
)


def test_default_pipeline_displays_in_an_x_window(xvfb, tmp_path):
    env = dict(os.environ, DISPLAY=xvfb)
    # the script's default sink: autovideosink
    with started([sys.executable, str(RUN_APPSRC), "-n", "45"], cwd=tmp_path, env=env) as proc:
        first = proc.stdout.readline()
        shot = tmp_path / "screen.png"
        if shutil.which("import"):  # imagemagick is optional
            subprocess.run(
                ["import", "-window", "root", str(shot)], env=env, timeout=20, check=False
            )
        rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert first.startswith("elements:")
    assert "autovideosink" in first
    sinks = re.findall(r"\((xvimagesink|ximagesink)\)", first)
    assert sinks, first  # autovideosink chose an X sink (not fakesink)
    assert "pushed 45 buffers" in rest
    if shot.exists():
        assert shot.stat().st_size > 0


def test_doctor_opens_a_real_display(xvfb):
    env = dict(os.environ, DISPLAY=xvfb)
    proc = subprocess.run(
        [sys.executable, "-m", "gstreamer", "doctor"], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"display: X11 {xvfb}: ok (opened by ximagesink)" in proc.stdout
    assert re.search(r"autovideosink +ok\n", proc.stdout)
