"""The documentation site builds with ``mkdocs build --strict`` and holds every page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


def test_mkdocs_build_strict_builds_every_page_and_the_api_reference(tmp_path):
    site = tmp_path / "site"
    mkdocs = Path(sys.executable).with_name("mkdocs")
    assert mkdocs.exists(), "mkdocs is missing: bash scripts/setup.sh installs the docs extra"
    proc = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in (ROOT / "docs").glob("*.md"):
        built = site / "index.html" if page.stem == "index" else site / page.stem / "index.html"
        assert built.exists(), f"{page.name} was not built"
    reader = (site / "reference" / "reader" / "index.html").read_text()
    for text in ("read_frames", "Frame width in pixels", "on_progress", "zero-copy"):
        assert text in reader, text
    assert ":class:" not in reader  # Sphinx roles are turned into code by docs/_hooks.py
    errors = (site / "reference" / "errors" / "index.html").read_text()
    assert "NoDisplayError" in errors and "MissingElementError" in errors
    assert "first five minutes" in (site / "index.html").read_text()
