"""train.tune in ci-plugins.yaml: every bad range and budget is named before anything runs."""

from __future__ import annotations

from typing import Any

import pytest

from ci_plugins.config.models import Config, validate_model
from ci_plugins.errors import InputError

OBJECTIVE = {"metric": "val_accuracy", "direction": "max"}


def tune_config(**tune: Any) -> dict[str, Any]:
    settings = {"objective": OBJECTIVE, "space": {"filters": {"type": "int", "min": 8, "max": 32}}}
    return {"app": "digits", "train": {"tune": {**settings, **tune}}}


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InputError) as error:
        validate_model(Config, data, source="ci-plugins.yaml")
    return error.value.problems


def test_the_architecture_example_is_valid() -> None:
    space = {
        "filters": {"type": "int", "min": 8, "max": 32, "step": 8},
        "learning_rate": {"type": "float", "min": 0.0001, "max": 0.01, "sampling": "log"},
        "dropout": {"type": "choice", "values": [0.1, 0.25]},
    }
    data = tune_config(tuner="bayesian", max_trials=4, epochs=3, space=space, max_time="5m")
    tune = validate_model(Config, data, source="f").train.tune
    assert tune is not None
    assert tune.max_time == 300
    assert tune.space["learning_rate"].sampling == "log"


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        pytest.param(
            {"type": "int", "min": 32, "max": 8},
            "train.tune.space.p: inverted range: min 32 is above max 8",
            id="inverted",
        ),
        pytest.param(
            {"type": "float", "min": 0.1, "max": 0.1},
            "train.tune.space.p: empty range: min and max are both 0.1",
            id="empty",
        ),
        pytest.param(
            {"type": "choice", "values": []},
            "train.tune.space.p: empty choice: give at least two values",
            id="empty-choice",
        ),
        pytest.param(
            {"type": "float", "min": 0, "max": 1, "sampling": "log"},
            "train.tune.space.p: log sampling needs min > 0, got 0",
            id="log-from-zero",
        ),
        pytest.param(
            {"type": "int", "min": 1, "max": 4, "step": 0},
            "train.tune.space.p: step 0 must be above 0",
            id="zero-step",
        ),
        pytest.param(
            {"type": "int", "min": 1},
            "train.tune.space.p: an int needs both min and max",
            id="no-max",
        ),
        pytest.param(
            {"type": "int", "min": 0.5, "max": 4},
            "train.tune.space.p: an int range needs whole numbers",
            id="fractional-int",
        ),
        pytest.param(
            {"type": "choice", "values": [1, 1]},
            "train.tune.space.p: values [1, 1] repeat an option",
            id="repeated-choice",
        ),
        pytest.param(
            {"type": "range", "min": 1, "max": 2},
            "train.tune.space.p.type: expected 'int', 'float' or 'choice', got 'range'",
            id="unknown-type",
        ),
    ],
)
def test_a_bad_range_is_named_with_its_key_path(parameter: dict[str, Any], message: str) -> None:
    [problem] = problems(tune_config(space={"p": parameter}))
    assert problem.startswith(message), problem


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        pytest.param({"max_trials": 0}, "train.tune.max_trials: a budget of 0 runs no trial"),
        pytest.param({"epochs": 0}, "train.tune.epochs: a budget of 0 runs no trial"),
        pytest.param({"max_time": 0}, "train.tune.max_time: a budget of 0 seconds runs no trial"),
        pytest.param({"max_time": "0s"}, "train.tune.max_time: a budget of 0 seconds"),
        pytest.param({"max_time": "soon"}, "train.tune.max_time: expected seconds or a duration"),
        pytest.param({"space": {}}, "train.tune.space: empty search space"),
    ],
)
def test_a_budget_of_zero_is_refused(budget: dict[str, Any], message: str) -> None:
    [problem] = problems(tune_config(**budget))
    assert problem.startswith(message), problem


def test_every_problem_is_reported_at_once() -> None:
    space = {"a": {"type": "int", "min": 5, "max": 2}, "b": {"type": "choice", "values": []}}
    found = problems(tune_config(space=space, max_trials=0))
    assert [p.split(":")[0] for p in found] == [
        "train.tune.max_trials",
        "train.tune.space.a",
        "train.tune.space.b",
    ]


def test_tuner_options_are_checked_against_the_tuner() -> None:
    [problem] = problems(tune_config(tuner="random", options={"factor": 3}))
    assert "random does not take factor (max_retries_per_trial)" in problem


def test_an_unknown_tune_key_suggests_the_near_miss() -> None:
    [problem] = problems(tune_config(max_trails=3))
    assert problem == "train.tune.max_trails: unknown key (did you mean 'max_trials'?)"


def test_the_objective_needs_a_direction() -> None:
    [problem] = problems(tune_config(objective={"metric": "loss", "direction": "down"}))
    assert problem == "train.tune.objective.direction: expected 'min' or 'max', got 'down'"
