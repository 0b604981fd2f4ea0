"""Bad input to `ci-plugins train`: message, exit code, and nothing in OUTPUT/model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.cli import CliRunner
from tests.support.training import TINY_MODEL, epoch_lines, write_project

DIVERGING_MODEL = """
import keras
import numpy as np

from ci_plugins.training import TrainSpec


def build(params):
    x = np.full((64, 4), 1e3, dtype="float32")
    y = np.full((64, 1), 1e3, dtype="float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e6), loss="mse")
    return TrainSpec(model=model, train=(x, y), test=(x, y))
"""


def assert_no_model(out: Path) -> None:
    """Nothing of a model: no model/, no manifest, no metrics, no staging leftovers."""
    leftovers = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert set(leftovers) <= {"train-report.md"}, leftovers


def test_missing_entrypoint_module_is_exit_2_before_tensorflow_loads(
    tmp_path: Path, cli: CliRunner
) -> None:
    config = write_project(tmp_path / "p", module="model")
    (tmp_path / "p" / "model.py").unlink()
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2
    assert "train.entrypoint 'model:build': no module 'model' in" in result.stderr
    assert "looked for model.py and model/" in result.stderr
    assert "devices:" not in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_model(tmp_path / "out")


def test_missing_function_is_exit_2_with_a_suggestion(tmp_path: Path, cli: CliRunner) -> None:
    model = TINY_MODEL.replace("def build(params):", "def biuld(params):")
    config = write_project(tmp_path / "p", model=model)
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2
    assert "model.py has no function 'build' (did you mean 'biuld'?)" in result.stderr
    assert_no_model(tmp_path / "out")


def test_wrong_return_type_is_exit_2_naming_what_came_back(tmp_path: Path, cli: CliRunner) -> None:
    model = TINY_MODEL.replace("return TrainSpec(", "return dict(")
    config = write_project(tmp_path / "p", model=model)
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2
    assert "returned a dict, expected ci_plugins.training.TrainSpec" in result.stderr
    assert "hint: see docs/train.md" in result.stderr
    assert_no_model(tmp_path / "out")


def test_an_uncompiled_model_is_exit_2_saying_how_to_fix_it(tmp_path: Path, cli: CliRunner) -> None:
    model = TINY_MODEL.replace("    model.compile(", "    dict(")
    config = write_project(tmp_path / "p", model=model)
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2
    assert "error: TrainSpec.model is not compiled" in result.stderr
    assert "hint: call model.compile(optimizer=..., loss=..., metrics=[...])" in result.stderr
    assert_no_model(tmp_path / "out")


def test_an_exception_in_build_is_exit_2_with_its_location(tmp_path: Path, cli: CliRunner) -> None:
    model = TINY_MODEL.replace("    train, validation", "    raise ValueError('no data')\n    x")
    config = write_project(tmp_path / "p", model=model)
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2
    assert "raised ValueError: no data (model.py:" in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_model(tmp_path / "out")


def test_nan_loss_stops_with_exit_1_naming_the_epoch(tmp_path: Path, cli: CliRunner) -> None:
    config = write_project(tmp_path / "p", model=DIVERGING_MODEL, epochs=20)
    out = tmp_path / "out"
    result = cli("train", "--config", config, "--output-dir", out)
    assert result.exit_code == 1, result.stderr
    lines = epoch_lines(result.stderr)
    stopped_at = len(lines)
    assert stopped_at < 20
    assert f"at epoch {stopped_at} of 20; stopped, nothing exported" in result.stderr
    assert "error: training diverged: loss is " in result.stderr
    assert_no_model(out)
    assert "(failed)" in (out / "train-report.md").read_text()


def test_output_dir_that_cannot_be_created_is_exit_2_before_training(
    tmp_path: Path, cli: CliRunner
) -> None:
    config = write_project(tmp_path / "p")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file", encoding="utf-8")
    result = cli("train", "--config", config, "--output-dir", blocker / "out")
    assert result.exit_code == 2
    assert f"output directory {blocker / 'out'} is not writable: Not a directory" in result.stderr
    assert "devices:" not in result.stderr


def test_a_foreign_model_directory_is_never_replaced(tmp_path: Path, cli: CliRunner) -> None:
    config = write_project(tmp_path / "p")
    mine = tmp_path / "out" / "model" / "mine.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("user data", encoding="utf-8")
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2
    assert "was not written by ci-plugins train" in result.stderr
    assert mine.read_text() == "user data"


@pytest.mark.parametrize(
    ("in_config", "env"),
    [
        pytest.param(True, {}, id="train.require_gpu"),
        pytest.param(False, {"CI_PLUGINS_REQUIRE_GPU": "true"}, id="--require-gpu-from-env"),
    ],
)
def test_require_gpu_without_a_gpu_is_exit_3_naming_the_devices(
    tmp_path: Path, cli: CliRunner, in_config: bool, env: dict[str, str]
) -> None:
    config = write_project(tmp_path / "p", require_gpu=in_config)
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out", env=env)
    assert result.exit_code == 3
    assert "train.require_gpu is true but this runner has no GPU visible" in result.stderr
    assert "(devices: CPU:0)" in result.stderr
    assert "hint: run this job on a GPU runner" in result.stderr
    assert epoch_lines(result.stderr) == []
    assert_no_model(tmp_path / "out")


@pytest.mark.parametrize(
    ("entrypoint", "message"),
    [
        pytest.param(
            "model", "expected module:function (e.g. model:build), got 'model'", id="no-colon"
        ),
        pytest.param("../x:build", "expected module:function", id="path"),
    ],
)
def test_malformed_entrypoint_is_a_config_error(
    tmp_path: Path, cli: CliRunner, entrypoint: str, message: str
) -> None:
    config = write_project(tmp_path / "p", entrypoint=entrypoint)
    result = cli("train", "--config", config, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2
    assert f"train.entrypoint: {message}" in result.stderr


def test_a_non_numeric_model_version_is_exit_2(tmp_path: Path, cli: CliRunner) -> None:
    config = write_project(tmp_path / "p")
    result = cli(
        "train", "--config", config, "--output-dir", tmp_path / "out", "--model-version", "v1"
    )
    assert result.exit_code == 2
    assert "--model-version 'v1' is not a number" in result.stderr
    assert "TensorFlow Serving loads only numeric version directories" in result.stderr


TF_DATA_MODEL = TINY_MODEL.replace(
    "    return TrainSpec(\n        model=model, train=train, validation=validation, test=test,",
    "    import tensorflow as tf\n\n"
    "    train = tf.data.Dataset.from_tensor_slices(train).batch(16)\n"
    "    return TrainSpec(\n        model=model, train=train, validation=validation, test=test,",
)


def test_train_warns_first_about_gate_metrics_and_records_the_batch_size_used(
    tmp_path: Path, cli: CliRunner
) -> None:
    """#17: the gate names `maee` (the model compiles `mae`); the tf.data pipeline batches
    by 16 while train.batch_size says 32."""
    assert "batch(16)" in TF_DATA_MODEL
    config = write_project(tmp_path / "p", model=TF_DATA_MODEL, epochs=1, batch_size=32)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["gate"] = {"metrics": {"maee": {"max": 5.0}, "loss": {"max": 100.0}}}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")

    result = cli("train", "--config", config, "--output-dir", tmp_path / "out")

    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    [warning] = [i for i, line in enumerate(lines) if "the gate checks 'maee'" in line]
    assert "which the model does not compile (it reports: loss, mae)" in lines[warning]
    assert "did you mean 'mae'?" in lines[warning]
    assert warning < lines.index(epoch_lines(result.stderr)[0]), "warned before training"
    assert not any("the gate checks 'loss'" in line for line in lines)
    manifest = json.loads((tmp_path / "out" / "model-manifest.json").read_text("utf-8"))
    assert manifest["training"]["batch_size"] == 16
