"""The digits example end to end: search, accuracy, and a SavedModel that serves predictions."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ci_plugins.model.manifest import read_manifest
from tests.support.cli import EXAMPLE, CliRunner, clean_env

# Run in a subprocess: the test process itself never imports TensorFlow.
SERVE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_digits

    loaded = tf.saved_model.load(sys.argv[1])
    serve = loaded.signatures["serving_default"]
    digits = load_digits()
    images = (digits.images[:200] / 16.0).astype("float32")[..., None]
    outputs = serve(image=tf.constant(images))
    (name, probabilities), = outputs.items()
    predicted = np.argmax(probabilities.numpy(), axis=1)
    print(json.dumps({
        "inputs": sorted(serve.structured_input_signature[1]),
        "output": name,
        "shape": list(probabilities.shape),
        "accuracy": float(np.mean(predicted == digits.target[:200])),
    }))
    """
)


@pytest.mark.slow
def test_the_digits_example_searches_trains_to_95_percent_and_serves(
    tmp_path: Path, cli: CliRunner
) -> None:
    out = tmp_path / "out"
    result = cli(
        "train",
        "--config",
        EXAMPLE / "ci-plugins.yaml",
        "--output-dir",
        out,
        "--model-version",
        "1",
    )
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["accuracy"] >= 0.95
    assert metrics["dataset"]["test_examples"] == 360
    manifest = read_manifest(out / "model-manifest.json", app="digits")
    assert manifest.model_version == "1"
    # The example searches two parameters in three trials before the final fit (train.tune).
    tuning = json.loads((out / "tuning.json").read_text())
    assert [t["status"] for t in tuning["trials"]] == ["completed"] * 3
    assert {tuple(t["values"]) for t in tuning["trials"]} == {("filters", "learning_rate")}
    assert manifest.model_extra is not None
    assert manifest.model_extra["training"]["tuning"]["values"] == tuning["values"]
    assert metrics["tuning"]["values"] == tuning["values"]
    report = (out / "train-report.md").read_text()
    assert "| rank | trial | filters | learning_rate | val_accuracy | status | time |" in report

    served = subprocess.run(
        [sys.executable, "-c", SERVE, str(out / "model" / "1")],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
        check=False,
    )
    assert served.returncode == 0, served.stderr
    answer = json.loads(served.stdout.strip().splitlines()[-1])
    assert answer["inputs"] == ["image"]
    assert answer["output"] == "output_0"  # Keras' name for the model's only output
    assert answer["shape"] == [200, 10]
    assert answer["accuracy"] >= 0.95
