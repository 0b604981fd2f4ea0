"""Where the search state goes, and how a lock replaces the search (no TensorFlow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_plugins.config.models import Config, validate_model
from ci_plugins.training import tune_plan
from ci_plugins.training.runner import Settings

TUNE = {
    "objective": {"metric": "val_loss", "direction": "min"},
    "space": {"learning_rate": {"type": "float", "min": 0.001, "max": 0.1}},
}


def config(**tune: Any) -> Config:
    train = {"params": {"learning_rate": 0.01, "units": 8}, "tune": {**TUNE, **tune}}
    return validate_model(Config, {"app": "tiny", "train": train}, source="f")


def settings(project: Path) -> Settings:
    (project / "model.py").write_text("def build(params): ...\n")
    return Settings(
        entrypoint="model:build",
        project=project,
        params={"learning_rate": 0.01, "units": 8},
        epochs=2,
        batch_size=32,
        seed=0,
        export_dir=project / "export",
        fingerprint="run",
    )


def prepare(project: Path, cfg: Config, **flags: Any) -> tuple[Settings, Any]:
    options = {"lock": None, "tune_dir": None, **flags}
    return tune_plan.prepare(
        cfg, settings=settings(project), project=project, output=project / "out", **options
    )


@pytest.mark.parametrize(
    ("directory", "flag", "expected"),
    [
        pytest.param(None, None, "out/tuning", id="default-under-output"),
        pytest.param(".tuning", None, ".tuning", id="config-relative"),
        pytest.param(".tuning", "cache/tune", "cache/tune", id="flag-wins"),
    ],
)
def test_the_state_directory(
    tmp_path: Path, directory: str | None, flag: str | None, expected: str
) -> None:
    tune_dir = tmp_path / flag if flag else None
    planned, locked = prepare(tmp_path, config(directory=directory), tune_dir=tune_dir)
    assert locked is None
    assert planned.search is not None
    assert planned.search.state_dir == tmp_path / expected
    assert planned.search.identity["params"] == {"learning_rate": 0.01, "units": 8}


def test_an_existing_lock_replaces_the_search_with_its_values(tmp_path: Path) -> None:
    lock = tmp_path / "tune.lock.json"
    lock.write_text(json.dumps({"values": {"learning_rate": 0.05}}))
    planned, locked = prepare(tmp_path, config(), lock=lock)
    assert planned.search is None
    assert planned.params == {"learning_rate": 0.05, "units": 8}
    assert planned.fingerprint != "run"  # other values, other checkpoints
    assert locked.source == "lock"
    assert locked.lock == str(lock)


def test_a_missing_lock_means_search_then_write_it(tmp_path: Path) -> None:
    planned, locked = prepare(tmp_path, config(), lock=tmp_path / "locks" / "tune.lock.json")
    assert planned.search is not None
    assert locked is None
    assert (tmp_path / "locks").is_dir()
    assert list((tmp_path / "locks").iterdir()) == []  # the write probe left nothing
