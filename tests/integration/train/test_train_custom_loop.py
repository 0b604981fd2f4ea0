"""The escape hatch: a custom training loop and evaluation still get progress and export."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import CliRunner
from tests.support.training import epoch_lines, write_project

CUSTOM_LOOP = """
import keras
import numpy as np
import tensorflow as tf

from ci_plugins.training import TrainSpec

rng = np.random.default_rng(0)
X = rng.normal(size=(128, 3)).astype("float32")
Y = (X @ np.array([[2.0], [-1.0], [0.5]], dtype="float32")).astype("float32")


def fit(model, run):
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    x, y = run.train
    for epoch in run.epochs():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        run.end_epoch(epoch, {"loss": float(loss)})


def evaluate(model):
    return {"mse": float(np.mean((model.predict(X, verbose=0) - Y) ** 2))}


def build(params):
    model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(1)])
    return TrainSpec(model=model, train=(X, Y), fit=fit, evaluate=evaluate)
"""


def test_custom_fit_and_evaluate_train_and_export(tmp_path: Path, cli: CliRunner) -> None:
    config = write_project(tmp_path / "p", model=CUSTOM_LOOP, epochs=4)
    out = tmp_path / "out"
    result = cli("train", "--config", config, "--output-dir", out, "--model-version", "1")
    assert result.exit_code == 0, result.stderr
    lines = epoch_lines(result.stderr)
    assert [line.split()[1] for line in lines] == ["1/4", "2/4", "3/4", "4/4"]
    losses = [float(line.split("loss ")[1].split()[0]) for line in lines]
    assert losses[-1] < losses[0]
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert set(metrics) == {"mse"}
    assert (out / "model" / "1" / "saved_model.pb").is_file()
    manifest = json.loads((out / "model-manifest.json").read_text())
    assert manifest["training"]["evaluated_on"] == "evaluate()"
