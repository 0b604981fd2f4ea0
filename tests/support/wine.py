"""A fresh user project that is not the digits example: a tiny Keras classifier on
scikit-learn's wine data (178 samples, 13 features, 3 classes) fed by a tf.data pipeline.

It trains in a few seconds on a CPU. `wine_files(...)` returns the project's files (the
config names the registry and the environment repo of the test); the README's pipeline
snippets are added to it by the tests.
"""

from __future__ import annotations

from pathlib import Path

import yaml

MODEL_PY = '''"""Wine cultivars (scikit-learn's wine data): a small Keras model fed by tf.data."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

from ci_plugins.training import TrainSpec


def datasets(seed: int, batch: int) -> dict[str, tf.data.Dataset]:
    """Standardised features; train / validation / test as batched tf.data pipelines."""
    x, y = load_wine(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x.astype("float32"), y.astype("int64"), test_size=0.25, stratify=y, random_state=seed
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_train, y_train, test_size=0.2, stratify=y_train, random_state=seed
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    def pipeline(xs: np.ndarray, ys: np.ndarray, *, shuffle: bool) -> tf.data.Dataset:
        data = tf.data.Dataset.from_tensor_slices(((xs - mean) / std, ys))
        if shuffle:
            data = data.shuffle(len(xs), seed=seed)
        return data.batch(batch).prefetch(tf.data.AUTOTUNE)
    return {
        "train": pipeline(x_train, y_train, shuffle=True),
        "validation": pipeline(x_val, y_val, shuffle=False),
        "test": pipeline(x_test, y_test, shuffle=False),
    }


def build(params: dict[str, Any]) -> TrainSpec:
    data = datasets(seed=int(params.get("seed", 0)), batch=int(params.get("batch", 16)))
    inputs = keras.Input(shape=(13,), name="features")
    hidden = keras.layers.Dense(int(params.get("units", 16)), activation="relu")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="cultivar")(hidden)
    model = keras.Model(inputs, outputs, name="wine")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=float(params.get("learning_rate", 0.02))),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return TrainSpec(
        model=model,
        train=data["train"],
        validation=data["validation"],
        test=data["test"],
        dataset={"name": "sklearn wine", "classes": 3},
    )
'''


def wine_config(*, registry: str, env_repo: str) -> str:
    """ci-plugins.yaml of the wine project: three environments, prod behind a merge request."""
    config = {
        "app": "wine",
        "train": {
            "entrypoint": "model:build",
            "epochs": 15,
            "seed": 0,
            "params": {"units": 16, "learning_rate": 0.02, "batch": 16},
            "require_gpu": False,
        },
        "gate": {
            "metrics": {"accuracy": {"min": 0.8}},
            "baseline": {"accuracy": {"max_drop": 0.1}},
        },
        "package": {"registry": registry},
        "env_repo": {"url": env_repo, "branch": "main"},
        "environments": {
            "dev": {"namespace": "ml-dev"},
            "staging": {"namespace": "ml-staging"},
            "prod": {"namespace": "ml-prod", "approval": "merge-request"},
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


def wine_files(*, registry: str, env_repo: str) -> dict[str, str]:
    return {
        "ci-plugins.yaml": wine_config(registry=registry, env_repo=env_repo),
        "model.py": MODEL_PY,
        "requirements.txt": "scikit-learn>=1.4\n",
        ".gitignore": "train-output/\npackaged/\nrendered/\ngate-report/\n.gitlab-ci-local/\n",
    }


def place_project_include(project: Path, templates: Path, *, ref: str = "v0.1.0") -> Path:
    """Copy the GitLab templates where gitlab-ci-local looks for `include: project:
    ci-plugins/ci-plugins` at ref (host gitlab.com: the project has no git remote)."""
    target = (
        project / ".gitlab-ci-local" / "includes" / "gitlab.com" / "ci-plugins" / "ci-plugins" / ref
    )
    for path in sorted(templates.rglob("*.yml")):
        dest = target / path.relative_to(templates.parents[2])
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(path.read_bytes())
    return target
