"""Bad train.tune input: a clear message and exit 2 before any trial, and no model written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.train.test_train_bad_input import assert_no_model
from tests.support.cli import CliRunner
from tests.support.training import write_project

SPACE = {"learning_rate": {"type": "float", "min": 0.005, "max": 0.05, "sampling": "log"}}


def tune(**overrides: Any) -> dict[str, Any]:
    section = {
        "tuner": "random",
        "objective": {"metric": "val_loss", "direction": "min"},
        "max_trials": 2,
        "epochs": 1,
        "space": SPACE,
    }
    return {**section, **overrides}


def test_bad_ranges_and_zero_budgets_are_all_named_before_tensorflow_loads(
    tmp_path: Path, cli: CliRunner
) -> None:
    space = {
        "learning_rate": {"type": "float", "min": 0.1, "max": 0.001},
        "units": {"type": "int", "min": 4, "max": 4},
    }
    config = write_project(tmp_path / "p", tune=tune(space=space, max_trials=0))
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2, result.stderr
    assert "ci-plugins.yaml has 3 problems" in result.stderr
    assert "train.tune.max_trials: a budget of 0 runs no trial; give at least 1" in result.stderr
    assert "train.tune.space.learning_rate: inverted range: min 0.1 is above max 0.001" in (
        result.stderr
    )
    assert "train.tune.space.units: empty range: min and max are both 4" in result.stderr
    assert "devices:" not in result.stderr
    assert_no_model(tmp_path / "out")


def test_an_objective_the_model_does_not_report_lists_what_it_reports(
    tmp_path: Path, cli: CliRunner
) -> None:
    objective = {"metric": "val_accuracy", "direction": "max"}
    config = write_project(tmp_path / "p", tune=tune(objective=objective))
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2, result.stderr
    assert (
        "error: train.tune.objective.metric 'val_accuracy' is not a metric the model reports; "
        "it reports loss, mae, val_loss, val_mae"
    ) in result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith("trial ")]
    assert not (tmp_path / "out" / "tuning").exists()
    assert_no_model(tmp_path / "out")


def test_tune_lock_without_a_tune_section_is_exit_2(tmp_path: Path, cli: CliRunner) -> None:
    config = write_project(tmp_path / "p")
    lock = tmp_path / "tune.lock.json"
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out", "--tune-lock", lock)
    assert result.exit_code == 2, result.stderr
    assert f"--tune-lock {lock}: ci-plugins.yaml has no train.tune section to lock" in result.stderr
    assert not lock.exists()
    assert_no_model(tmp_path / "out")


def test_a_lock_for_another_space_is_exit_2_and_left_alone(tmp_path: Path, cli: CliRunner) -> None:
    config = write_project(tmp_path / "p", tune=tune())
    lock = tmp_path / "tune.lock.json"
    stale = json.dumps({"values": {"learning_rate": 0.5, "filters": 16}})
    lock.write_text(stale)
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out", "--tune-lock", lock)
    assert result.exit_code == 2, result.stderr
    assert f"tune lock {lock} does not fit train.tune.space" in result.stderr
    assert "filters: not in train.tune.space" in result.stderr
    assert "learning_rate: 0.5 is outside 0.005..0.05" in result.stderr
    assert "hint: delete the lock file to search again" in result.stderr
    assert "devices:" not in result.stderr
    assert lock.read_text() == stale
    assert_no_model(tmp_path / "out")


def test_a_lock_path_that_cannot_be_written_is_exit_2_before_training(
    tmp_path: Path, cli: CliRunner
) -> None:
    config = write_project(tmp_path / "p", tune=tune())
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    lock = blocker / "tune.lock.json"
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out", "--tune-lock", lock)
    assert result.exit_code == 2, result.stderr
    assert f"--tune-lock {lock}: cannot write there" in result.stderr
    assert "devices:" not in result.stderr
    assert_no_model(tmp_path / "out")
