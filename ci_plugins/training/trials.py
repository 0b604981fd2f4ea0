"""The record of a hyper-parameter search: tuning.json and the trial table. No TensorFlow.

`tuning.py` fills a `SearchRecord` from keras-tuner's trials; the train step writes it to
OUTPUT/tuning.json and puts `trial_table()` into train-report.md (the step summary and
the merge request note).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ci_plugins.reports import markdown_table
from ci_plugins.training.progress import format_duration, format_metric

TUNING_FILE = "tuning.json"
TOP_TRIALS = 10


@dataclass(frozen=True)
class TrialRecord:
    """One trial: its values, objective (None unless completed), status and duration."""

    id: str
    values: Mapping[str, Any]
    objective: float | None
    status: str  # completed, failed, running (interrupted, retried by the next run)
    seconds: float | None = None
    best_epoch: int | None = None
    run: int | None = None  # which run of the job (1, 2...) finished it
    error: str | None = None


@dataclass(frozen=True)
class SearchRecord:
    """What tuning.json holds: how the values were chosen and every trial of the search."""

    source: str  # "search" or "lock"
    tuner: str
    metric: str
    direction: str
    values: Mapping[str, Any]
    max_trials: int
    epochs: int
    best_trial: str | None = None
    best_objective: float | None = None
    trials: Sequence[TrialRecord] = ()
    stopped: str = ""
    runs: int = 0
    key: str = ""
    state_dir: str = ""
    lock: str | None = None
    unused: Sequence[str] = field(default_factory=list)

    def to_json(self) -> str:
        data = asdict(self)
        data["trials"] = [_finite_or_none(asdict(trial)) for trial in self.trials]
        return json.dumps(_finite_or_none(data), indent=2, sort_keys=True) + "\n"

    def summary(self) -> dict[str, Any]:
        """The chosen values and where they came from, for the manifest and metrics.json."""
        done = [t for t in self.trials if t.status == "completed"]
        return {
            "source": self.source,
            "values": dict(self.values),
            "objective": {
                "metric": self.metric,
                "direction": self.direction,
                "value": self.best_objective,
            },
            "trial": self.best_trial,
            "trials": len(done),
            "tuner": self.tuner,
        }


def best_of(trials: Sequence[TrialRecord], direction: str) -> TrialRecord | None:
    """The completed trial with the best objective (first one wins a tie), or None."""
    ranked = ranked_trials(trials, direction)
    return ranked[0] if ranked else None


def ranked_trials(trials: Sequence[TrialRecord], direction: str) -> list[TrialRecord]:
    """Completed trials, best first."""
    done = [t for t in trials if t.status == "completed" and _finite(t.objective)]
    sign = -1.0 if direction == "max" else 1.0
    return sorted(done, key=lambda t: (sign * float(t.objective or 0.0), t.id))


def out_of_time(*, elapsed: float, durations: Sequence[float], budget: float) -> str | None:
    """Why no further trial may start within the wall-time budget, or None.

    A trial starts only when the time spent plus the mean trial duration so far (in
    this search, over every run) stays within the budget; a running trial finishes.
    """
    expected = sum(durations) / len(durations) if durations else 0.0
    if elapsed + expected <= budget:
        return None
    return (
        f"max_time {format_duration(budget)}: {format_duration(elapsed)} spent, "
        f"a trial takes about {format_duration(expected)}"
    )


def trial_table(record: SearchRecord, *, top: int = TOP_TRIALS) -> str:
    """Markdown: how the values were chosen, then the top trials and the failed ones."""
    lines = ["### Hyper-parameter search", ""]
    chosen = ", ".join(f"`{k}={_show(v)}`" for k, v in record.values.items())
    if record.source == "lock":
        lines.append(f"Values locked in `{record.lock}`: {chosen} (no search ran).")
        return "\n".join(lines) + "\n"
    done = ranked_trials(record.trials, record.direction)
    failed = [t for t in record.trials if t.status != "completed"]
    lines.append(
        f"{record.tuner} search, {len(done)} of {record.max_trials} trials completed"
        f"{f', {len(failed)} failed' if failed else ''} ({record.stopped}); "
        f"objective `{record.metric}` ({record.direction}), {record.epochs} epochs per trial. "
        f"Chosen: {chosen}."
    )
    names = list(record.values)
    header = ["rank", "trial", *names, record.metric, "status", "time"]
    rows = [_row(str(rank), t, names) for rank, t in enumerate(done[:top], start=1)]
    rows += [_row("-", t, names) for t in failed[:top]]
    lines += ["", markdown_table(header, rows)]
    if len(done) > top:
        lines += ["", f"{len(done) - top} more completed trials in tuning.json."]
    errors = [t for t in failed if t.error][:3]
    if errors:
        lines += [""] + [f"- trial {t.id}: {t.error}" for t in errors]
    return "\n".join(lines) + "\n"


def _row(rank: str, trial: TrialRecord, names: Sequence[str]) -> list[str]:
    values = [_show(trial.values.get(name, "")) for name in names]
    objective = format_metric(trial.objective) if trial.objective is not None else ""
    seconds = format_duration(trial.seconds) if trial.seconds is not None else ""
    return [rank, trial.id, *values, objective, trial.status, seconds]


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _finite_or_none(data: Any) -> Any:
    """JSON has no NaN: a diverged trial's objective becomes null."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: _finite_or_none(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite_or_none(value) for value in data]
    return data
