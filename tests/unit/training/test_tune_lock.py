"""--tune-lock FILE: the locked values must fit the search space, or exit 2 naming why."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ci_plugins.config.models import TuneConfig
from ci_plugins.errors import InputError
from ci_plugins.training.trials import SearchRecord
from ci_plugins.training.tune_lock import read_lock, write_lock

TUNE = TuneConfig.model_validate(
    {
        "objective": {"metric": "val_accuracy", "direction": "max"},
        "space": {
            "filters": {"type": "int", "min": 8, "max": 32, "step": 8},
            "learning_rate": {"type": "float", "min": 0.0001, "max": 0.01, "sampling": "log"},
            "activation": {"type": "choice", "values": ["relu", "tanh"]},
        },
    }
)
VALUES = {"filters": 16, "learning_rate": 0.002, "activation": "tanh"}


def record(values: dict[str, object]) -> SearchRecord:
    return SearchRecord(
        source="search",
        tuner="bayesian",
        metric="val_accuracy",
        direction="max",
        values=values,
        max_trials=4,
        epochs=3,
        best_trial="2",
        best_objective=0.97,
        key="abc",
    )


def test_a_written_lock_reads_back_the_same_values(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "tune.lock.json"
    write_lock(lock, record(VALUES))
    assert read_lock(lock, TUNE) == VALUES
    document = json.loads(lock.read_text())
    assert document["objective"] == {"metric": "val_accuracy", "direction": "max", "value": 0.97}
    assert document["trial"] == "2"
    assert not list(lock.parent.glob(".*tmp"))


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        pytest.param({**VALUES, "filters": 64}, "filters: 64 is outside 8..32", id="out-of-range"),
        pytest.param({**VALUES, "filters": 8.5}, "filters: 8.5 is not a whole number", id="int"),
        pytest.param(
            {**VALUES, "activation": "gelu"},
            "activation: 'gelu' is not one of ['relu', 'tanh']",
            id="not-a-choice",
        ),
        pytest.param(
            {k: v for k, v in VALUES.items() if k != "activation"},
            "activation: not in the lock",
            id="missing",
        ),
        pytest.param({**VALUES, "dropout": 0.1}, "dropout: not in train.tune.space", id="extra"),
        pytest.param({**VALUES, "learning_rate": "fast"}, "'fast' is not a number", id="str"),
    ],
)
def test_a_lock_that_does_not_fit_the_space_is_exit_2(
    tmp_path: Path, values: dict[str, object], problem: str
) -> None:
    lock = tmp_path / "tune.lock.json"
    lock.write_text(json.dumps({"values": values}))
    with pytest.raises(InputError, match=r"does not fit train\.tune\.space") as error:
        read_lock(lock, TUNE)
    assert error.value.exit_code == 2
    assert any(problem in p for p in error.value.problems), error.value.problems
    assert error.value.hint == "delete the lock file to search again, or fix its values"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("{not json", "is not valid JSON at line 1", id="json"),
        pytest.param("[1, 2]", 'must hold {"values": {...}}', id="not-a-mapping"),
        pytest.param('{"values": [1]}', 'must hold {"values": {...}}', id="values-not-mapping"),
    ],
)
def test_a_broken_lock_is_exit_2(tmp_path: Path, text: str, message: str) -> None:
    lock = tmp_path / "tune.lock.json"
    lock.write_text(text)
    with pytest.raises(InputError, match=re.escape(message)):
        read_lock(lock, TUNE)
