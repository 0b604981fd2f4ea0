"""Start-up of non-train commands: `ci-plugins render --help` and `ci-plugins gate` on the
example project vs `python -c pass` (goal: at most 100 ms above it).

`render --help` costs argument parsing only; `gate` is the whole command as a pipeline
runs it on examples/digits: config and policy validation, metrics, the four checks. Runs
are interleaved (bare, help, gate, bare, ...) so that other load on the machine hits every
side alike. The overhead column is what the command adds to a bare interpreter.

Run: .venv/bin/python benchmarks/startup.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _timing import command, interleaved_medians, report

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "digits"
GOAL = "<= +100 ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--quick", action="store_true", help="7 runs")
    args = parser.parse_args()
    if args.quick:
        args.runs = 7
    cli = [sys.executable, "-m", "ci_plugins"]
    gate = [*cli, "gate", "--metrics", "example-metrics.json"]
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as pycache:
        # Measure this checkout, whatever is installed in the venv, with its bytecode
        # cached (as pip does at install time; the warm-up run writes it) in a scratch dir.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env |= {"PYTHONPATH": str(REPO), "PYTHONPYCACHEPREFIX": pycache}
        bare, help_, gate_ = interleaved_medians(
            [
                command([sys.executable, "-c", "pass"], cwd=EXAMPLE, env=env),
                command([*cli, "render", "--help"], cwd=EXAMPLE, env=env),
                command(gate, cwd=EXAMPLE, env=env),
            ],
            runs=args.runs,
        )
    print(report("start-up: render --help", help_, bare, "python -c pass", GOAL), flush=True)
    print(report("start-up: gate on examples/digits", gate_, bare, "python -c pass", GOAL))


if __name__ == "__main__":
    main()
