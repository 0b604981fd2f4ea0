"""Real SavedModels for the emulator's tests, built once per session in a subprocess.

`tiny_savedmodel(dest)` exports a fixed-weight Keras model (64 float inputs named
`pixels`, 10 softmax outputs, like the digits example) as `dest/<version>/` with
`model.export` (the same call `train` uses), and writes the model's own predictions on
`GOLDEN_INPUTS` to `dest/expected.json` so tests compare served answers with them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.support.cli import clean_env

GOLDEN_INPUTS = [[0.0] * 64, [float(i % 16) for i in range(64)]]
BUILD = """
import json, sys
import numpy as np
import keras

dest, version, features = sys.argv[1], sys.argv[2], int(sys.argv[4])
keras.utils.set_random_seed(7)
model = keras.Sequential(
    [keras.Input((features,), name="pixels"), keras.layers.Dense(10, activation="softmax")]
)
model.export(f"{dest}/{version}", verbose=False)
if features == 64:
    inputs = np.array(json.loads(sys.argv[3]), dtype="float32")
    json.dump(model.predict(inputs, verbose=0).tolist(), open(f"{dest}/expected.json", "w"))
"""


def tiny_savedmodel(dest: Path, *, version: str = "3", features: int = 64) -> Path:
    """dest holding <version>/saved_model.pb and expected.json; returns dest.

    `features` other than 64 makes a model that rejects GOLDEN_INPUTS (no expected.json)."""
    if (dest / version / "saved_model.pb").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(BUILD),
            str(dest),
            version,
            json.dumps(GOLDEN_INPUTS),
            str(features),
        ],
        env=clean_env({"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dest


def expected_predictions(dest: Path) -> Any:
    return json.loads((dest / "expected.json").read_text(encoding="utf-8"))
