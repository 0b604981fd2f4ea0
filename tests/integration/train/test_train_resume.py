"""Preemptible runners: a real SIGTERM saves a checkpoint; the next run resumes from it."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from ci_plugins.training.checkpoint import STATE_FILE, WEIGHTS_FILE
from tests.support.training import (
    TINY_MODEL,
    epoch_lines,
    run_cli,
    start_train,
    wait_for_line,
    write_project,
)

# Slow epochs (a user callback sleeps), so that SIGTERM lands while training runs.
NAP = "keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: __import__('time').sleep(0.3))"
SLOW_MODEL = TINY_MODEL.replace(
    "    return TrainSpec(\n        model=model,",
    f"    nap = {NAP}\n    return TrainSpec(\n        callbacks=[nap],\n        model=model,",
)


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_the_next_run_resumes(tmp_path: Path) -> None:
    assert "callbacks=[nap]" in SLOW_MODEL
    config = write_project(tmp_path / "p", model=SLOW_MODEL, epochs=40)
    out, checkpoints = tmp_path / "out", tmp_path / "ckpt"

    proc = start_train(config, out, "--checkpoint-dir", checkpoints)
    before = wait_for_line(proc, "epoch  3/40", timeout=300)
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    assert "error: interrupted" in rest
    assert f"interrupted: saved a checkpoint in {checkpoints} after epoch" in rest
    assert not (out / "model").exists()
    state = json.loads((checkpoints / STATE_FILE).read_text())
    done = state["epoch"]
    assert 3 <= done < 40
    assert (checkpoints / WEIGHTS_FILE).is_file()
    first_loss = float(epoch_lines("\n".join(before))[0].split("loss ")[1].split()[0])

    resumed = run_cli(
        "train",
        *("--config", config, "--output-dir", out, "--checkpoint-dir", checkpoints),
        *("--epochs", str(done + 2), "--model-version", "2"),
        cwd=config.parent,
    )
    assert resumed.exit_code == 0, resumed.stderr
    assert f"{done} epochs done, continuing at epoch {done + 1} of {done + 2}" in resumed.stderr
    lines = epoch_lines(resumed.stderr)
    assert [line.split()[1] for line in lines] == [
        f"{done + 1}/{done + 2}",
        f"{done + 2}/{done + 2}",
    ]
    # The weights came back: the resumed epoch starts far below where the first run began.
    resumed_loss = float(lines[0].split("loss ")[1].split()[0])
    assert resumed_loss < first_loss * 0.8, (first_loss, resumed_loss)
    manifest = json.loads((out / "model-manifest.json").read_text())
    assert manifest["training"]["epochs"] == done + 2
    assert "resumed" in (out / "train-report.md").read_text()
    assert not (checkpoints / STATE_FILE).exists()  # cleared once the model is exported


def test_a_checkpoint_from_another_run_is_not_resumed(tmp_path: Path) -> None:
    config = write_project(tmp_path / "p", epochs=2)
    checkpoints = tmp_path / "ckpt"
    checkpoints.mkdir()
    stale = {"epoch": 1, "fingerprint": "another-commit", "history": []}
    (checkpoints / STATE_FILE).write_text(json.dumps(stale), encoding="utf-8")
    (checkpoints / WEIGHTS_FILE).write_bytes(b"not these weights")
    result = run_cli(
        *("train", "--config", config, "--checkpoint-dir", checkpoints),
        *("--output-dir", tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.exit_code == 0, result.stderr
    assert "belongs to another run" in result.stderr
    assert [line.split()[1] for line in epoch_lines(result.stderr)] == ["1/2", "2/2"]
