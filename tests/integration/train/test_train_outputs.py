"""`ci-plugins train` on a tiny project: the files it writes and what it logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_plugins.model.digest import directory_digest
from ci_plugins.model.manifest import read_manifest
from tests.support.cli import CliResult
from tests.support.training import epoch_lines, run_cli, write_project


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CliResult]:
    root = tmp_path_factory.mktemp("tiny")
    config = write_project(root / "project", epochs=3)
    out = root / "out"
    env = {"CI_COMMIT_SHA": "c0ffee" * 6 + "c0ff", "CI_PIPELINE_URL": "https://ci.example/p/7"}
    result = run_cli(
        "train",
        "--config",
        config,
        "--output-dir",
        out,
        "--model-version",
        "7",
        "--json",
        cwd=root,
        env=env,
    )
    return out, result


def test_train_exits_0_and_writes_the_contract_files(trained: tuple[Path, CliResult]) -> None:
    out, result = trained
    assert result.exit_code == 0, result.stderr
    assert (out / "model" / "7" / "saved_model.pb").is_file()
    assert (out / "model" / "7" / "variables").is_dir()
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.json",
        "model",
        "model-manifest.json",
        "train-report.md",
    ]


def test_metrics_json_holds_test_metrics_and_the_dataset(trained: tuple[Path, CliResult]) -> None:
    out, _ = trained
    data = json.loads((out / "metrics.json").read_text())
    assert set(data["metrics"]) == {"loss", "mae"}
    assert all(isinstance(v, float) for v in data["metrics"].values())
    assert data["dataset"] == {
        "name": "tiny",
        "train_examples": 192,
        "validation_examples": 32,
        "test_examples": 32,
    }


def test_manifest_records_identity_provenance_and_devices(trained: tuple[Path, CliResult]) -> None:
    out, _ = trained
    manifest = read_manifest(out / "model-manifest.json", app="tiny")
    assert manifest.model_version == "7"
    assert manifest.model_digest == directory_digest(out / "model" / "7")
    assert manifest.source_commit.startswith("c0ffee")
    assert manifest.pipeline_url == "https://ci.example/p/7"
    assert manifest.devices == ["CPU:0"]
    assert set(manifest.frameworks) >= {"tensorflow", "keras", "python", "ci-plugins"}
    assert manifest.created.endswith("+00:00")
    training = (manifest.model_extra or {})["training"]
    assert training["strategy"] == "default"
    assert training["epochs"] == 3


def test_progress_is_one_line_per_epoch_with_eta(trained: tuple[Path, CliResult]) -> None:
    _, result = trained
    lines = epoch_lines(result.stderr)
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all("loss " in line and "val_loss " in line for line in lines)
    assert "ETA" in lines[0]
    assert "ETA" not in lines[-1]
    assert "devices: CPU:0" in result.stderr
    assert "── train tiny (model:build)" in result.stderr
    assert "/step" not in result.stderr  # no Keras per-batch progress bar


def test_json_result_names_version_digest_and_metrics(trained: tuple[Path, CliResult]) -> None:
    out, result = trained
    document = result.json
    assert document["command"] == "train"
    assert document["ok"] is True
    assert document["model_version"] == "7"
    assert document["model_digest"] == directory_digest(out / "model" / "7")
    assert set(document["metrics"]) == {"loss", "mae"}


def test_report_is_readable_markdown(trained: tuple[Path, CliResult]) -> None:
    out, _ = trained
    report = (out / "train-report.md").read_text()
    assert report.startswith("## ci-plugins train: tiny (passed)")
    assert "| epoch | loss | mae | val_loss | val_mae | time |" in report
    assert "**devices**: CPU:0" in report


@pytest.mark.slow
def test_a_rerun_replaces_the_previous_model_whole(tmp_path: Path) -> None:
    config = write_project(tmp_path / "p", epochs=1)
    out = tmp_path / "out"
    for version in ("1", "2"):
        result = run_cli(
            "train",
            "--config",
            config,
            "--output-dir",
            out,
            "--model-version",
            version,
            cwd=tmp_path,
        )
        assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (out / "model").iterdir()) == ["2"]
    assert read_manifest(out / "model-manifest.json").model_version == "2"
    assert not list(out.glob(".*"))  # no staging or swap leftovers


def test_mixed_precision_and_xla_are_applied_and_recorded(tmp_path: Path) -> None:
    config = write_project(tmp_path / "p", epochs=1, mixed_precision=True, xla=True)
    out = tmp_path / "out"
    result = run_cli("train", "--config", config, "--output-dir", out, cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "mixed precision: mixed_bfloat16" in result.stderr  # no GPU here: bfloat16
    assert "XLA: the training step is compiled with jit_compile=True" in result.stderr
    training = json.loads((out / "model-manifest.json").read_text())["training"]
    assert training["precision"] == "mixed_bfloat16"
    assert training["xla"] is True
