"""Shared timing helpers for the benchmark scripts: medians of repeated wall-clock runs."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def median_seconds(action: Callable[[], object], *, runs: int, warmup: int = 1) -> float:
    """Median wall time of `runs` calls of action, after `warmup` unmeasured calls."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def command(
    argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Callable[[], object]:
    """An action that runs argv and fails loudly when it exits non-zero."""

    def run() -> object:
        return subprocess.run(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    return run


def report(name: str, ours: float, baseline: float, baseline_name: str, goal: str) -> str:
    """One table row: ours vs the bare tool, in ms and as a ratio."""
    return (
        f"| {name} | {ours * 1000:.1f} ms | {baseline_name} {baseline * 1000:.1f} ms | "
        f"{(ours - baseline) * 1000:+.1f} ms | {ours / baseline:.2f}x | {goal} |"
    )


def interleaved_medians(actions: Sequence[Callable[[], object]], *, runs: int) -> list[float]:
    """Median wall time of each action, runs interleaved (a, b, c, a, b, c, ...) so that
    other load on the machine hits every action alike; one unmeasured warm-up each."""
    for action in actions:
        action()
    samples: list[list[float]] = [[] for _ in actions]
    for _ in range(runs):
        for action, times in zip(actions, samples, strict=True):
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
    return [statistics.median(times) for times in samples]


def free_port() -> int:
    """A loopback port free now (a server the benchmark starts binds it next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env() -> dict[str, str]:
    """The environment for a child process that imports this checkout and its emulator."""
    paths = [str(ROOT), str(ROOT / "emulator"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
