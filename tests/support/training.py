"""Tiny training projects for the train step's tests: a ci-plugins.yaml and a model.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import yaml

from tests.support.cli import CliResult, clean_env

# A linear model on 256 fixed random rows: fits in well under a second per epoch.
TINY_MODEL = """
import keras
import numpy as np

from ci_plugins.training import TrainSpec


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")).astype("float32")
    return (x[:192], y[:192]), (x[192:224], y[192:224]), (x[224:], y[224:])


def build(params):
    train, validation, test = data()
    model = keras.Sequential([keras.Input((4,), name="features"), keras.layers.Dense(1)])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=params.get("learning_rate", 0.01)),
        loss="mse",
        metrics=["mae"],
    )
    return TrainSpec(
        model=model, train=train, validation=validation, test=test, dataset={"name": "tiny"}
    )
"""


def write_project(
    root: Path, *, model: str = TINY_MODEL, module: str = "model", **train: Any
) -> Path:
    """Write root/ci-plugins.yaml (train: section from keyword args) and root/<module>.py."""
    root.mkdir(parents=True, exist_ok=True)
    settings = {"entrypoint": f"{module}:build", "epochs": 2, "batch_size": 32, **train}
    config = {"app": "tiny", "train": settings}
    (root / "ci-plugins.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (root / f"{module}.py").write_text(textwrap.dedent(model), encoding="utf-8")
    return root / "ci-plugins.yaml"


def run_cli(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> CliResult:
    """`python -m ci_plugins ARGS` like the cli fixture, usable from module-scoped fixtures."""
    proc = subprocess.run(
        [sys.executable, "-m", "ci_plugins", *map(str, args)],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def epoch_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("epoch ")]


def start_train(config: Path, out: Path, *flags: str | Path) -> subprocess.Popen[str]:
    """`ci-plugins train` in the background, its stderr readable line by line."""
    argv = [sys.executable, "-m", "ci_plugins", "train", "--config", str(config)]
    argv += ["--output-dir", str(out), *map(str, flags)]
    return subprocess.Popen(
        argv, cwd=config.parent, env=clean_env(), stderr=subprocess.PIPE, text=True
    )


def wait_for_line(proc: subprocess.Popen[str], prefix: str, *, timeout: float) -> list[str]:
    """The stderr lines up to the first that starts with prefix (AssertionError if none)."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line.rstrip("\n"))
        if line.startswith(prefix):
            return seen
    raise AssertionError(f"no line starting {prefix!r} in:\n" + "\n".join(seen))
