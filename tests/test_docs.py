"""Every code block of README.md and docs/*.md runs as written (see tests/_docblocks.py).

One test per page: its blocks run in order in a fresh empty folder, so a page must make the
media it reads. New pages under docs/ are picked up automatically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from _docblocks import ROOT, RUN_LANGUAGES, TEXT_LANGUAGES, Block, blocks, pages
from _helpers import interrupt, started, xvfb_display

pytestmark = pytest.mark.e2e

BLOCK_TIMEOUT = 180.0
VENV_BIN = os.path.dirname(sys.executable)
PAGES = pages()


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    """A private Xvfb server for the blocks marked ``display``."""
    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb is needed for the display blocks (apt-get install xvfb)")
    with xvfb_display() as display:
        yield display


def _base_env() -> dict[str, str]:
    """No display; the venv's bin first on PATH, as after ``source .venv/bin/activate``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = os.path.dirname(VENV_BIN)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Session:
    """One Python interpreter for a page's python blocks (shared namespace)."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.log_path = folder.parent / f"{folder.name}-python.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in close()
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_docblocks.py")), "--worker",
             str(write_fd)],
            cwd=folder, env=env, stdin=subprocess.PIPE, stdout=self.log,
            stderr=subprocess.STDOUT, text=True, pass_fds=(write_fd,),
        )  # fmt: skip
        os.close(write_fd)
        self.results = os.fdopen(read_fd)

    def run(self, block: Block, env: dict[str, object]) -> None:
        assert self.proc.stdin is not None
        request = {"name": block.name, "code": block.code, "env": env}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = _readline(self.results, BLOCK_TIMEOUT)
        if line is None:
            self.close()
            pytest.fail(f"{block.name}: no result within {BLOCK_TIMEOUT} s\n{self.output()}")
        error = json.loads(line)["error"]
        if error:
            pytest.fail(f"{block.name} (python) failed:\n{error}\noutput:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()[-4000:]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.results.close()
        self.log.close()


def _readline(stream, timeout: float) -> str | None:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    ready = sel.select(timeout)
    sel.close()
    return stream.readline() if ready else None


def _run_bash(block: Block, folder: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code],
        cwd=folder, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"{block.name} (bash) exited {proc.returncode}:\n{block.code}\n"
        f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )


def _run_server(block: Block, folder: Path, env: dict[str, str]) -> None:
    """A block that runs until Ctrl-C: start it, wait for its first line of output, fetch
    the ``http://`` URL it printed (if any), send SIGINT, expect a clean exit."""
    command = (
        [sys.executable, "-c", block.code]
        if block.lang == "python"
        else ["bash", "-e", "-c", f"exec {block.code.strip()}"]
    )
    with started(command, cwd=folder, env=env, stderr=subprocess.STDOUT) as proc:
        assert proc.stdout is not None
        line = _readline(proc.stdout, 60) or ""
        assert line and proc.poll() is None, f"{block.name}: ended early: {line!r}"
        match = re.search(r"(http://\S+)", line)
        if match:
            with urllib.request.urlopen(match.group(1), timeout=30) as reply:
                page = reply.read()
                assert reply.status == 200
            assert b"<img" in page, page[:200]
        output, _ = interrupt(proc)
    # 0, or 130 where the command documents it (gstreamer launch)
    assert proc.returncode in (0, 130), f"{block.name}: exit code {proc.returncode}\n{output}"
    assert "Traceback" not in output, output


def test_every_page_is_found_and_every_block_has_a_known_language():
    names = [p.name for p in PAGES]
    assert "README.md" in names and len(names) >= 7, names
    for page in PAGES:
        for block in blocks(page):
            assert block.lang in RUN_LANGUAGES or block.lang in TEXT_LANGUAGES, (
                f"{block.name}: code block without a known language ({block.lang!r}); use "
                f"one of {sorted(RUN_LANGUAGES)} (run) or 'text' (not code)"
            )
            if block.marker == "skip":
                assert block.reason, f"{block.name}: a skipped block needs a reason"
            assert block.marker in (None, "skip", "display", "server"), block.name


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_blocks_run_as_written(page, tmp_path, request):
    folder = tmp_path / "page"
    folder.mkdir()
    (folder / "examples").symlink_to(ROOT / "examples")
    (folder / ".venv").symlink_to(os.path.dirname(VENV_BIN))  # for `source .venv/bin/activate`
    env = _base_env()
    session: _Session | None = None
    ran = 0
    try:
        for block in blocks(page):
            if block.lang not in RUN_LANGUAGES or block.marker == "skip":
                continue
            block_env = dict(env)
            if block.marker == "display":
                block_env["DISPLAY"] = request.getfixturevalue("xvfb")
            if block.marker == "server":
                _run_server(block, folder, block_env)
            elif RUN_LANGUAGES[block.lang] == "bash":
                _run_bash(block, folder, block_env)
            else:
                if session is None:
                    session = _Session(folder, env)
                display = block_env.get("DISPLAY")
                session.run(block, {"DISPLAY": display})
            ran += 1
    finally:
        if session is not None:
            session.close()
    assert ran > 0, f"{page.name}: no block ran"
