"""What the benchmark scripts share: their common options, saving results, the test helpers.

Imported as ``from _common import ...``: a script run as ``python benchmarks/NAME.py`` has
``benchmarks/`` first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TESTS = HERE.parent / "tests"


def use_test_helpers() -> None:
    """Put ``tests/`` on ``sys.path``: clip makers and probes shared with the test suite
    (``_helpers``, ``_indexed``, ``_live``, ``faults._probe``)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))


def parser_for(doc: str, results: str, quick: str | None = None) -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--save [FILE]`` (also write the results to FILE,
    by default ``benchmarks/results/RESULTS``) and, given its help text, ``--quick``.

    The description is the first paragraph of ``doc`` (the script's docstring).
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if quick is not None:
        parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument(
        "--save",
        nargs="?",
        type=Path,
        const=RESULTS / results,
        metavar="FILE",
        help=f"also write the results to FILE (default: benchmarks/results/{results})",
    )
    return parser


def save(path: Path | None, text: str) -> None:
    """Write ``text`` to ``path`` (the value of ``--save``; nothing when it was not given)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")
    print(f"wrote {path}", file=sys.stderr)
