"""Run the code blocks of README.md and docs/*.md as a reader would paste them.

Rules (also in docs/index.md, "How the documentation is tested"):

* Each page runs in a fresh empty folder, its blocks in order. The page makes the media it
  reads. The checkout's ``examples/`` and ``.venv/`` are linked into that folder, because
  commands name them relative to the checkout.
* ``python`` blocks run one after the other in one Python process with one namespace, as if
  pasted into one interpreter session (a page may define ``pattern()`` once and use it later).
* ``bash`` / ``sh`` blocks run with ``bash -e -o pipefail``, with the virtual environment's
  ``bin`` first on ``PATH`` (what ``source .venv/bin/activate`` does).
* Blocks run without a display (``DISPLAY`` and ``WAYLAND_DISPLAY`` unset), except blocks
  marked ``<!-- docs-test: display -->``, which get a private Xvfb server.
* ``<!-- docs-test: server -->``: the block serves until Ctrl-C. It runs alone in its own
  process; the test waits for the ``http://`` URL it prints, fetches the page, then sends
  SIGINT and expects a clean exit (code 0, no traceback).
* ``<!-- docs-test: skip REASON -->``: the block is not run; the reason is required.
* ``text`` blocks (synopses, output) are not code and are not run. Any other language fails
  the test, so no block can slip through untested.

The marker is an HTML comment on the line just before the opening fence (invisible on GitHub
and in the docs site).
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
RUN_LANGUAGES = {"python": "python", "bash": "bash", "sh": "bash"}
TEXT_LANGUAGES = {"text"}

_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*docs-test:\s*(\w+)\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    """One fenced code block of a page."""

    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: Optional[str] = None  # skip, display, server
    reason: str = ""

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    """README.md and every docs/*.md, sorted: new pages are picked up automatically."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of ``path``, with the marker that precedes each."""
    lines = path.read_text().splitlines()
    page = str(path.relative_to(ROOT))
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        if j == len(lines):
            raise ValueError(f"{page}:{start + 1}: unclosed code block")
        marker = reason = None
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mm = _MARKER.match(lines[k]) if k >= 0 else None
        if mm:
            marker, reason = mm.group(1), mm.group(2)
        found.append(
            Block(
                page, start + 1, lang, "\n".join(lines[start + 1 : j]) + "\n", marker, reason or ""
            )
        )
        i = j + 1
    return found


# -- the worker: one interpreter session per page ------------------------------------------


def _worker(result_fd: int) -> None:
    """Read JSON blocks on stdin, exec each in one namespace, report on ``result_fd``."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    results = os.fdopen(result_fd, "w", buffering=1)
    for line in sys.stdin:
        request = json.loads(line)
        saved = {k: os.environ.get(k) for k in request["env"]}
        for key, value in request["env"].items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        print(f"--- {request['name']} ---", flush=True)
        try:
            exec(compile(request["code"], request["name"], "exec"), namespace)
        except BaseException:
            error: Optional[str] = traceback.format_exc()
        else:
            error = None
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        sys.stdout.flush()
        sys.stderr.flush()
        results.write(json.dumps({"error": error}) + "\n")


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    _worker(int(sys.argv[2]))
