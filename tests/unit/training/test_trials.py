"""tuning.json and the trial table of the report."""

from __future__ import annotations

import json
import math

from ci_plugins.training.read_tracker import ReadTracker
from ci_plugins.training.trials import (
    SearchRecord,
    TrialRecord,
    best_of,
    out_of_time,
    trial_table,
)

TRIALS = [
    TrialRecord("0", {"filters": 8, "lr": 0.001}, 0.91, "completed", 4.2, 3, 1),
    TrialRecord("1", {"filters": 24, "lr": 0.0031}, 0.97, "completed", 5.0, 2, 1),
    TrialRecord("2", {"filters": 16, "lr": 0.2}, None, "failed", 1.0, None, 2, "ValueError: x"),
    TrialRecord("3", {"filters": 16, "lr": 0.002}, 0.95, "completed", 4.0, 3, 2),
]


def search(direction: str = "max", trials: list[TrialRecord] = TRIALS) -> SearchRecord:
    best = best_of(trials, direction)
    return SearchRecord(
        source="search",
        tuner="bayesian",
        metric="val_accuracy",
        direction=direction,
        values=dict(best.values) if best else {},
        max_trials=4,
        epochs=3,
        best_trial=best.id if best else None,
        best_objective=best.objective if best else None,
        trials=trials,
        stopped="search complete",
    )


def test_the_best_trial_follows_the_direction() -> None:
    assert best_of(TRIALS, "max") == TRIALS[1]
    assert best_of(TRIALS, "min") == TRIALS[0]
    assert best_of([TRIALS[2]], "max") is None


def test_the_table_ranks_completed_trials_best_first_then_the_failed_ones() -> None:
    table = trial_table(search())
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| rank | trial | filters | lr | val_accuracy | status | time |"
    assert rows[1] == "| 1 | 1 | 24 | 0.0031 | 0.9700 | completed | 5.0s |"
    assert [row.split(" | ")[1] for row in rows[1:]] == ["1", "3", "0", "2"]
    assert rows[4] == "| - | 2 | 16 | 0.2 |  | failed | 1.0s |"
    assert "3 of 4 trials completed, 1 failed (search complete)" in table
    assert "Chosen: `filters=24`, `lr=0.0031`." in table
    assert "- trial 2: ValueError: x" in table


def test_the_table_shows_only_the_top_trials() -> None:
    many = [TrialRecord(str(i), {"a": i}, i / 100, "completed") for i in range(15)]
    table = trial_table(search(trials=many), top=10)
    assert "| 1 | 14 | 14 |" in table
    assert "| 4 |" not in table.split("| 10 |")[1]
    assert "5 more completed trials in tuning.json." in table


def test_a_locked_run_says_where_the_values_came_from() -> None:
    locked = SearchRecord(
        source="lock",
        tuner="bayesian",
        metric="val_accuracy",
        direction="max",
        values={"filters": 16},
        max_trials=4,
        epochs=3,
        lock="tune.lock.json",
    )
    assert "Values locked in `tune.lock.json`: `filters=16` (no search ran)." in trial_table(locked)


def test_tuning_json_has_every_trial_and_no_nan() -> None:
    trials = [*TRIALS, TrialRecord("4", {"filters": 8, "lr": 0.5}, math.nan, "failed")]
    document = json.loads(search(trials=trials).to_json())
    assert [t["id"] for t in document["trials"]] == ["0", "1", "2", "3", "4"]
    assert document["trials"][4]["objective"] is None
    assert document["trials"][1] == {
        "id": "1",
        "values": {"filters": 24, "lr": 0.0031},
        "objective": 0.97,
        "status": "completed",
        "seconds": 5.0,
        "best_epoch": 2,
        "run": 1,
        "error": None,
    }
    assert document["best_trial"] == "1"


def test_the_summary_names_values_objective_and_source() -> None:
    assert search().summary() == {
        "source": "search",
        "values": {"filters": 24, "lr": 0.0031},
        "objective": {"metric": "val_accuracy", "direction": "max", "value": 0.97},
        "trial": "1",
        "trials": 3,
        "tuner": "bayesian",
    }


def test_the_read_tracker_records_lookups_and_copies() -> None:
    params = ReadTracker({"filters": 8, "dropout": 0.1, "lr": 0.01})
    params.get("filters")
    _ = params["lr"]
    assert params.read == {"filters", "lr"}
    whole = ReadTracker({"a": 1, "b": 2})
    assert dict(whole) == {"a": 1, "b": 2}
    assert whole.read == {"a", "b"}


def test_a_trial_starts_only_when_the_mean_trial_fits_in_the_time_left() -> None:
    assert out_of_time(elapsed=0, durations=[], budget=60) is None
    assert out_of_time(elapsed=30, durations=[20, 30], budget=60) is None
    assert out_of_time(elapsed=40, durations=[20, 30], budget=60) == (
        "max_time 1m00s: 40.0s spent, a trial takes about 25.0s"
    )
    assert out_of_time(elapsed=61, durations=[], budget=60) is not None
