"""What the benchmark scripts share: their options, printing and saving the results, and the
test helpers.

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


def publish(text: str, save_to: Path | None, heading: str = "") -> None:
    """Print the results; with ``--save`` (``save_to``) also write them there, after
    ``heading`` (a first line for the file)."""
    print(text)
    if save_to is None:
        return
    save_to.parent.mkdir(parents=True, exist_ok=True)
    body = f"{heading}\n\n{text}" if heading else text
    save_to.write_text(body if body.endswith("\n") else body + "\n")
    print(f"wrote {save_to}", file=sys.stderr)
