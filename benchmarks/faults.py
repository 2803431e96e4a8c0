"""Fault soaks of issue 14, printing the figures (the short versions are ``tests/faults``).

Usage::

    .venv/bin/python benchmarks/faults.py tcp [--seconds 60]     # never-reading TCP client
    .venv/bin/python benchmarks/faults.py writers [--count 30]   # abandoned Writers
    .venv/bin/python benchmarks/faults.py reads [--passes 20]    # RSS over repeated Readers
    .venv/bin/python benchmarks/faults.py mjpeg [--count 500]    # half-open MJPEG connections

Each prints what it measured and whether the issue's goal holds. Figures on a shared,
busy machine are noisy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from faults import _probe


def tcp(args: argparse.Namespace) -> bool:
    base = _probe.tcp_push_rate(args.seconds, stalled=False)
    print(
        f"no stalled client: {base['rate']:.1f} frames/s, "
        f"RSS {base['rss_start']:.1f} -> {base['rss_end']:.1f} MB"
    )
    stalled = _probe.tcp_push_rate(args.seconds, stalled=True)
    print(
        f"never-reading client: {stalled['rate']:.1f} frames/s, "
        f"RSS {stalled['rss_start']:.1f} -> {stalled['rss_end']:.1f} MB, clients "
        f"{stalled['clients_at_start']} -> {stalled['clients_at_end']}"
    )
    ratio = stalled["rate"] / base["rate"]
    growth = stalled["rss_end"] - stalled["rss_start"]
    print(
        f"rate {ratio:.1%} of the rate without it (goal >= 90 %), RSS +{growth:.1f} MB "
        "(goal < 10 MB)"
    )
    return ratio >= 0.9 and growth < 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("tcp")
    p.add_argument("--seconds", type=float, default=60.0)
    p.set_defaults(run=tcp)
    args = parser.parse_args(argv)
    ok = args.run(args)
    print("goal met" if ok else "goal NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
