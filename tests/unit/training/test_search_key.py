"""The search state's key: a changed space or data never reloads old trials (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ci_plugins.config.models import TuneConfig
from ci_plugins.training.search_state import search_key
from ci_plugins.training.spec import TrainSpec
from ci_plugins.training.tune_plan import SearchSettings

TUNE: dict[str, Any] = {
    "objective": {"metric": "val_loss", "direction": "min"},
    "max_trials": 4,
    "space": {"learning_rate": {"type": "float", "min": 0.001, "max": 0.1}},
}


def key(*, data: float = 1.0, dataset: str = "v1", **tune: Any) -> str:
    settings = SearchSettings(
        tune=TuneConfig.model_validate({**TUNE, **tune}),
        state_dir=Path("state"),
        params={"units": 8},
        identity={"entrypoint": "model:build", "module": "sha256:abc", "seed": 0},
        seed=0,
        batch_size=32,
    )
    x = np.full((4, 2), data, dtype="float32")
    spec = TrainSpec(model=None, train=(x, x[:, 0]), dataset={"snapshot": dataset})
    return search_key(settings, spec)


def test_the_same_search_has_the_same_key() -> None:
    assert key() == key()


def test_budgets_may_change_without_a_new_search() -> None:
    assert key(max_trials=8, max_time="1h") == key()


def test_a_changed_space_objective_tuner_or_epochs_is_a_new_search() -> None:
    wider = {"learning_rate": {"type": "float", "min": 0.001, "max": 0.5}}
    changed = [
        key(space=wider),
        key(objective={"metric": "val_loss", "direction": "max"}),
        key(tuner="random"),
        key(epochs=5),
    ]
    assert len({key(), *changed}) == 5


def test_changed_data_is_a_new_search() -> None:
    assert key(data=2.0) != key()
    assert key(dataset="v2") != key()
