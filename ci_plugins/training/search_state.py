"""The search's own state and record, beside keras-tuner's files. No Keras imported here.

STATE_DIR/<key>/ is keras-tuner's project directory; `search_key` decides <key>, so a
changed space, objective, model module or data starts a new search instead of reloading
old trials. `SearchState` (ci-plugins-search.json in that directory) counts the job's runs
and keeps each trial's duration; `search_record` turns keras-tuner's trials into
tuning.json's records.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ci_plugins.config.models import TuneConfig
from ci_plugins.training.checkpoint import fingerprint
from ci_plugins.training.spec import TrainSpec
from ci_plugins.training.trials import SearchRecord, TrialRecord, best_of
from ci_plugins.training.tune_plan import SearchSettings

STATE_FILE = "ci-plugins-search.json"


def search_key(settings: SearchSettings, spec: TrainSpec) -> str:
    """The state directory's name: everything that makes earlier trials comparable."""
    return fingerprint(
        {**settings.identity, **_search_identity(settings.tune), "data": _data_digest(spec)}
    )


class SearchState:
    """Our side of the state directory: job runs and per-trial durations."""

    def __init__(self, path: Path, runs: int, trials: dict[str, dict[str, Any]]) -> None:
        self.path, self.runs, self.trials = path, runs, trials

    @classmethod
    def load(cls, project: Path) -> SearchState:
        path = project / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(path, int(data["runs"]), dict(data["trials"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls(path, 0, {})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = self.path.with_name(self.path.name + ".tmp")
        staged.write_text(json.dumps({"runs": self.runs, "trials": self.trials}, indent=2))
        os.replace(staged, self.path)


def search_record(
    oracle_trials: Mapping[str, Any],
    state: SearchState,
    settings: SearchSettings,
    *,
    key: str,
    stopped: str,
    unused: list[str],
) -> SearchRecord:
    tune = settings.tune
    state.save()
    trials = [_trial_record(trial, state) for _, trial in sorted(oracle_trials.items())]
    best = best_of(trials, tune.objective.direction)
    return SearchRecord(
        source="search",
        tuner=tune.tuner,
        metric=tune.objective.metric,
        direction=tune.objective.direction,
        values=dict(best.values) if best else {},
        max_trials=tune.max_trials,
        epochs=tune.epochs,
        best_trial=best.id if best else None,
        best_objective=best.objective if best else None,
        trials=trials,
        stopped=stopped,
        runs=state.runs,
        key=key,
        state_dir=str(settings.state_dir / key),
        unused=unused,
    )


def _trial_record(trial: Any, state: SearchState) -> TrialRecord:
    status = str(trial.status).lower()
    if status == "invalid":
        status = "failed"
    ours = state.trials.get(trial.trial_id, {})
    score = trial.score if status == "completed" else None
    return TrialRecord(
        id=trial.trial_id,
        values=trial_values(trial.hyperparameters.values),
        objective=float(score) if score is not None else None,
        status=status,
        seconds=ours.get("seconds"),
        best_epoch=(trial.best_step + 1) if trial.best_step is not None else None,
        run=ours.get("run"),
        error=last_line(trial.message) if status != "completed" else None,
    )


def _search_identity(tune: TuneConfig) -> dict[str, Any]:
    """What makes trials comparable; budgets (max_trials, max_time) may change freely."""
    return {
        "space": {name: p.model_dump() for name, p in sorted(tune.space.items())},
        "objective": tune.objective.model_dump(),
        "tuner": tune.tuner,
        "options": tune.options,
        "epochs": tune.epochs,
    }


def _data_digest(spec: TrainSpec) -> str:
    """A hash of the (x, y) arrays and TrainSpec.dataset; tf.data pipelines: dataset only."""
    digest = hashlib.sha256(json.dumps(dict(spec.dataset), sort_keys=True, default=str).encode())
    for name in ("train", "validation", "test"):
        data = getattr(spec, name)
        if isinstance(data, tuple | list) and len(data) == 2:
            for array in data:
                values = np.ascontiguousarray(np.asarray(array))
                digest.update(f"{name}{values.shape}{values.dtype}".encode())
                digest.update(values.tobytes())
        else:
            digest.update(f"{name}:{type(data).__name__}".encode())
    return digest.hexdigest()[:16]


def other_searches(state_dir: Path, key: str) -> int:
    if not state_dir.is_dir():
        return 0
    return sum(1 for p in state_dir.iterdir() if p.is_dir() and p.name != key)


def trial_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's values without keras-tuner's own bookkeeping (Hyperband's tuner/...)."""
    return {k: _plain(v) for k, v in values.items() if not k.startswith("tuner/")}


def last_line(message: str | None) -> str:
    """The exception line of keras-tuner's stored traceback."""
    lines = (message or "").strip().splitlines()
    return lines[-1][:300] if lines else "no objective reported"


def _plain(value: Any) -> Any:
    """NumPy scalars from keras-tuner as JSON-ready Python numbers."""
    return value.item() if isinstance(value, np.generic) else value


def values_text(values: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )
