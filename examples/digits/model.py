"""Handwritten digits (8x8 pixels, scikit-learn's bundled set): a small Keras classifier.

`ci-plugins train` calls build(params) with `train.params` from ci-plugins.yaml, then
fits, evaluates on the test split and exports a SavedModel for TensorFlow Serving.
The exported `serving_default` signature takes `image`: float32 [batch, 8, 8, 1] in
[0, 1] and returns `output_0`: the 10 class probabilities.

Try it locally: `ci-plugins train --output-dir out` (from this directory).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from ci_plugins.training import FitRun, TrainSpec


def load_data(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """70% train, 10% validation, 20% test, stratified by class."""
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., np.newaxis]
    labels = digits.target.astype("int64")
    x_rest, x_test, y_rest, y_test = train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=seed
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.125, stratify=y_rest, random_state=seed
    )
    return {"train": (x_train, y_train), "validation": (x_val, y_val), "test": (x_test, y_test)}


def make_model(*, filters: int, dense_units: int, dropout: float) -> keras.Model:
    inputs = keras.Input(shape=(8, 8, 1), name="image")
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(filters * 2, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(dense_units, activation="relu")(x)
    # float32 output keeps the softmax stable when train.mixed_precision is on.
    outputs = keras.layers.Dense(10, activation="softmax", dtype="float32", name="digit")(x)
    return keras.Model(inputs, outputs, name="digits")


def build(params: dict[str, Any]) -> TrainSpec:
    data = load_data(seed=int(params.get("split_seed", 0)))
    model = make_model(
        filters=int(params.get("filters", 16)),
        dense_units=int(params.get("dense_units", 64)),
        dropout=float(params.get("dropout", 0.25)),
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=float(params.get("learning_rate", 2e-3))),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    strategy = tf.distribute.get_strategy()  # build() runs inside the strategy's scope
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    return TrainSpec(
        model=model,
        train=data["train"],
        validation=data["validation"],
        test=data["test"],
        dataset={"name": "sklearn digits (8x8)", "classes": 10},
        # Keras 3's model.fit/evaluate do not run under MultiWorkerMirroredStrategy
        # (keras-team/keras#20585): on a Kubernetes Job of workers, a custom loop does.
        fit=(lambda m, run: distributed_fit(m, run, strategy)) if multi_worker else None,
        evaluate=(lambda m: accuracy_and_loss(m, *data["test"])) if multi_worker else None,
    )


def distributed_fit(model: keras.Model, run: FitRun, strategy: tf.distribute.Strategy) -> None:
    """One synchronous step per global batch across every worker (strategy.run)."""
    with strategy.scope():
        _fit_in_scope(model, run, strategy)


def _fit_in_scope(model: keras.Model, run: FitRun, strategy: tf.distribute.Strategy) -> None:
    x, y = run.train
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=run.seed, reshuffle_each_iteration=True)
        .batch(run.batch_size)
        .with_options(options)
    )
    distributed = strategy.experimental_distribute_dataset(batches)
    loss_of = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            per_example = loss_of(labels, model(images, training=True))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=run.batch_size)
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def step(batch: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        losses = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    for epoch in run.epochs():
        total, count = 0.0, 0
        for batch in distributed:
            total += float(step(batch))
            count += 1
        logs = {"loss": total / max(count, 1)}
        if run.validation is not None:
            logs.update(
                {f"val_{k}": v for k, v in accuracy_and_loss(model, *run.validation).items()}
            )
        run.end_epoch(epoch, logs)


def accuracy_and_loss(model: keras.Model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Metrics without model.evaluate (every worker computes the same on its own copy)."""
    probabilities = np.asarray(model(x, training=False))
    loss = keras.losses.sparse_categorical_crossentropy(y, probabilities)
    return {
        "accuracy": float(np.mean(np.argmax(probabilities, axis=1) == y)),
        "loss": float(np.mean(np.asarray(loss))),
    }
