"""`ci-plugins train` with train.tune: search, record, lock, resume, failed trials.

One search of a tiny linear model is shared by most assertions (module-scoped), since
every run imports TensorFlow and the CPU is shared.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import CliResult
from tests.support.training import TINY_MODEL, run_cli, start_train, wait_for_line, write_project

SPACE = {
    "learning_rate": {"type": "float", "min": 0.005, "max": 0.05, "sampling": "log"},
    "unused_knob": {"type": "choice", "values": [1, 2]},
}


def tune_section(**overrides: Any) -> dict[str, Any]:
    tune = {
        "tuner": "random",
        "objective": {"metric": "val_loss", "direction": "min"},
        "max_trials": 2,
        "epochs": 2,
        "space": SPACE,
    }
    return {**tune, **overrides}


def trial_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("trial ")]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def train(config: Path, out: Path, *args: str | Path) -> CliResult:
    return run_cli("train", "--config", config, "--output-dir", out, *args, cwd=config.parent)


@dataclass(frozen=True)
class Searched:
    config: Path
    out: Path
    state: Path
    lock: Path
    result: CliResult


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Searched:
    root = tmp_path_factory.mktemp("searched")
    config = write_project(root / "p", tune=tune_section())
    out, state, lock = root / "out", root / "state", root / "locks" / "tune.lock.json"
    result = train(config, out, "--tune-dir", state, "--tune-lock", lock, "--model-version", "1")
    return Searched(config, out, state, lock, result)


def test_the_search_runs_every_trial_then_trains_the_best(searched: Searched) -> None:
    assert searched.result.exit_code == 0, searched.result.stderr
    tuning = read_json(searched.out / "tuning.json")
    assert [t["id"] for t in tuning["trials"]] == ["0", "1"]
    assert {t["status"] for t in tuning["trials"]} == {"completed"}
    for trial in tuning["trials"]:
        assert 0.005 <= trial["values"]["learning_rate"] <= 0.05
        assert trial["seconds"] > 0
        assert trial["objective"] > 0
    best = min(tuning["trials"], key=lambda t: t["objective"])
    assert tuning["best_trial"] == best["id"]
    assert tuning["values"] == best["values"]
    assert tuning["stopped"] == "search complete"
    # The final fit is a normal train with train.epochs (2), after the trials' lines.
    lines = searched.result.stderr.splitlines()
    last_trial = lines.index(trial_lines(searched.result.stderr)[-1])
    assert [line.split()[1] for line in lines[last_trial:] if line.startswith("epoch ")] == [
        "1/2",
        "2/2",
    ]


def test_the_chosen_values_are_in_the_manifest_metrics_report_and_lock(searched: Searched) -> None:
    tuning = read_json(searched.out / "tuning.json")
    manifest = read_json(searched.out / "model-manifest.json")
    metrics = read_json(searched.out / "metrics.json")
    assert manifest["training"]["tuning"]["values"] == tuning["values"]
    assert manifest["training"]["tuning"]["source"] == "search"
    assert metrics["tuning"]["values"] == tuning["values"]
    assert metrics["tuning"]["objective"]["metric"] == "val_loss"
    assert set(metrics["metrics"]) == {"loss", "mae"}  # the gate's metrics are unchanged
    assert read_json(searched.lock)["values"] == tuning["values"]
    report = (searched.out / "train-report.md").read_text()
    assert "### Hyper-parameter search" in report
    assert "random search, 2 of 2 trials completed (search complete)" in report
    assert "| rank | trial | learning_rate | unused_knob | val_loss | status | time |" in report
    assert f"| 1 | {tuning['best_trial']} |" in report


def test_a_space_parameter_build_never_reads_is_a_warning_before_any_trial(
    searched: Searched,
) -> None:
    stderr = searched.result.stderr
    warning = "warning: train.tune.space: build(params) never reads unused_knob"
    assert warning in stderr
    assert stderr.index(warning) < stderr.index("trial 0 done")
    assert read_json(searched.out / "tuning.json")["unused"] == ["unused_knob"]


def test_the_lock_skips_the_search_and_trains_with_its_values(
    searched: Searched, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = train(searched.config, out, "--tune-lock", searched.lock, "--model-version", "1")
    assert result.exit_code == 0, result.stderr
    assert trial_lines(result.stderr) == []
    assert "hyper-parameter search" not in result.stderr
    locked = read_json(searched.lock)["values"]
    tuning = read_json(out / "tuning.json")
    assert tuning["source"] == "lock"
    assert tuning["trials"] == []
    assert read_json(out / "model-manifest.json")["training"]["tuning"]["values"] == locked
    assert "Values locked in" in (out / "train-report.md").read_text()
    # Same values, same seed: the same final fit as right after the search.
    first = read_json(searched.out / "metrics.json")["metrics"]
    assert read_json(out / "metrics.json")["metrics"] == pytest.approx(first, rel=1e-5)


def test_a_finished_search_is_not_repeated(searched: Searched, tmp_path: Path) -> None:
    result = train(searched.config, tmp_path / "out", "--tune-dir", searched.state)
    assert result.exit_code == 0, result.stderr
    assert "2 trials done before" in result.stderr
    assert trial_lines(result.stderr) == []
    again = read_json(tmp_path / "out" / "tuning.json")
    first = read_json(searched.out / "tuning.json")
    assert again["trials"] == first["trials"]
    assert again["runs"] == 2


@pytest.mark.slow
def test_a_changed_space_starts_a_new_search_instead_of_reusing_trials(
    searched: Searched, tmp_path: Path
) -> None:
    space = {**SPACE, "learning_rate": {"type": "float", "min": 0.01, "max": 0.02}}
    config = write_project(tmp_path / "p", tune=tune_section(space=space))
    # A copy: the module's shared search state must keep exactly one search.
    state = tmp_path / "state"
    shutil.copytree(searched.state, state)
    result = train(config, tmp_path / "out", "--tune-dir", state)
    assert result.exit_code == 0, result.stderr
    assert "ignoring 1 earlier search(es)" in result.stderr
    assert "trials done before" not in result.stderr
    assert len(trial_lines(result.stderr)) == 2
    for trial in read_json(tmp_path / "out" / "tuning.json")["trials"]:
        assert 0.01 <= trial["values"]["learning_rate"] <= 0.02


BREAKS_ON_CHOICE = TINY_MODEL.replace(
    "    train, validation, test = data()",
    "    if params['mode'] == 'broken':\n"
    "        raise ValueError('mode broken is not implemented')\n"
    "    train, validation, test = data()",
)


@pytest.mark.slow
def test_a_failed_trial_does_not_fail_the_search(tmp_path: Path) -> None:
    space = {"mode": {"type": "choice", "values": ["ok", "broken"]}}
    config = write_project(tmp_path / "p", model=BREAKS_ON_CHOICE, tune=tune_section(space=space))
    result = train(config, tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    trials = read_json(tmp_path / "out" / "tuning.json")["trials"]
    by_mode = {t["values"]["mode"]: t for t in trials}
    assert by_mode["ok"]["status"] == "completed"
    assert by_mode["broken"]["status"] == "failed"
    assert "mode broken is not implemented" in by_mode["broken"]["error"]
    assert read_json(tmp_path / "out" / "model-manifest.json")["training"]["tuning"]["values"] == {
        "mode": "ok"
    }
    assert "1 failed" in (tmp_path / "out" / "train-report.md").read_text()


FAILS_IN_FIT = TINY_MODEL.replace(
    "    return TrainSpec(\n        model=model,",
    "    boom = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: 1 / 0)\n"
    "    return TrainSpec(\n        callbacks=[boom],\n        model=model,",
)


@pytest.mark.slow
def test_the_search_fails_with_exit_2_when_every_trial_fails(tmp_path: Path) -> None:
    assert "callbacks=[boom]" in FAILS_IN_FIT
    config = write_project(tmp_path / "p", model=FAILS_IN_FIT, tune=tune_section())
    result = train(config, tmp_path / "out")
    assert result.exit_code == 2, result.stderr
    assert "error: train.tune: all 2 trials failed; the last: ZeroDivisionError" in result.stderr
    assert not (tmp_path / "out" / "model").exists()
    assert not (tmp_path / "out" / "model-manifest.json").exists()


# Slow epochs (a user callback sleeps), so that SIGTERM lands while a trial runs.
NAP = "keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: __import__('time').sleep(0.5))"
SLOW_MODEL = TINY_MODEL.replace(
    "    return TrainSpec(\n        model=model,",
    f"    nap = {NAP}\n    return TrainSpec(\n        callbacks=[nap],\n        model=model,",
)


@pytest.fixture
def training() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:  # never leave a trainer behind, whatever the test did
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@pytest.mark.slow
def test_sigterm_mid_search_then_rerun_continues_without_repeating_a_trial(
    tmp_path: Path, training: list[subprocess.Popen[str]]
) -> None:
    assert "callbacks=[nap]" in SLOW_MODEL
    tune = tune_section(max_trials=3, epochs=3, space={"learning_rate": SPACE["learning_rate"]})
    config = write_project(tmp_path / "p", model=SLOW_MODEL, tune=tune)
    out, state = tmp_path / "out", tmp_path / "state"
    proc = start_train(config, out, "--tune-dir", state)
    training.append(proc)
    first = wait_for_line(proc, "trial 0 done", timeout=300)
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    assert "interrupted: the search state is in" in rest
    assert not (out / "model").exists()
    assert not (out / "tuning.json").exists()
    done_first = [line for line in first + rest.splitlines() if line.startswith("trial ")]

    resumed = train(config, out, "--tune-dir", state)
    assert resumed.exit_code == 0, resumed.stderr
    assert f"{len(done_first)} trials done before" in resumed.stderr
    trials = read_json(out / "tuning.json")["trials"]
    assert [t["id"] for t in trials] == ["0", "1", "2"]
    assert {t["status"] for t in trials} == {"completed"}
    # Trials the first run finished are not run again; the rest ran in the second run.
    again = [line.split()[1] for line in trial_lines(resumed.stderr)]
    first_ids = [line.split()[1] for line in done_first]
    assert not set(again) & set(first_ids), (first_ids, again)
    assert sorted(first_ids + again) == ["0", "1", "2"]
    assert [t["run"] for t in trials if t["id"] in first_ids] == [1] * len(first_ids)
    assert {t["run"] for t in trials if t["id"] in again} == {2}
    assert len({t["values"]["learning_rate"] for t in trials}) == 3


@pytest.mark.slow
def test_hyperband_is_capped_by_max_trials_and_records_only_the_users_values(
    tmp_path: Path,
) -> None:
    tune = tune_section(tuner="hyperband", space={"learning_rate": SPACE["learning_rate"]})
    config = write_project(tmp_path / "p", tune=tune)
    result = train(config, tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    tuning = read_json(tmp_path / "out" / "tuning.json")
    assert tuning["stopped"] == "max_trials 2 reached"
    assert [set(t["values"]) for t in tuning["trials"]] == [{"learning_rate"}] * 2
    # keras-tuner's tables never reach stdout, which --json reserves for one object.
    assert result.json["tuning"]["values"] == tuning["values"]


@pytest.mark.slow
def test_the_wall_time_budget_stops_the_search_between_trials(tmp_path: Path) -> None:
    config = write_project(tmp_path / "p", tune=tune_section(max_trials=5, max_time="1s"))
    result = train(config, tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    tuning = read_json(tmp_path / "out" / "tuning.json")
    assert len(tuning["trials"]) == 1  # the first trial always starts; then 1s is spent
    assert tuning["stopped"].startswith("max_time 1.0s: ")
    assert (
        "1 of 5 trials completed (max_time 1.0s: "
        in (tmp_path / "out" / "train-report.md").read_text()
    )


@pytest.mark.slow
def test_a_state_cut_short_by_a_kill_is_set_aside_and_the_search_starts_over(
    searched: Searched, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    shutil.copytree(searched.state, state)
    [oracle] = state.glob("*/oracle.json")
    oracle.write_text('{"ongoing_trials": {"tuner0"')  # as if killed while keras-tuner wrote it
    result = train(searched.config, tmp_path / "out", "--tune-dir", state)
    assert result.exit_code == 0, result.stderr
    assert f"warning: the search state in {oracle.parent} is unreadable" in result.stderr
    assert len(trial_lines(result.stderr)) == 2
    assert len(list(state.glob("*.unreadable-*"))) == 1
