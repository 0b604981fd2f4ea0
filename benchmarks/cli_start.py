"""CLI start-up: `ci-plugins gate --help` vs `python -c pass` (goal: at most 3x).

Run: .venv/bin/python benchmarks/cli_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys

from _timing import command, median_seconds, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 runs")
    args = parser.parse_args()
    if args.quick:
        args.runs = 5
    bare = median_seconds(command([sys.executable, "-c", "pass"]), runs=args.runs)
    ours = median_seconds(
        command([sys.executable, "-m", "ci_plugins", "gate", "--help"]), runs=args.runs
    )
    print(report("cli start (gate --help)", ours, bare, "python -c pass", "<= 3x"))


if __name__ == "__main__":
    main()
