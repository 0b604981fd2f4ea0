"""Which metrics a compiled model reports, read from its compile config (no TensorFlow)."""

from __future__ import annotations

from ci_plugins.training.gate_metrics import reported_names, unreported

RMSE = {"module": "keras.metrics", "class_name": "RootMeanSquaredError", "config": {"name": "rmse"}}


def test_names_come_from_strings_and_metric_objects() -> None:
    config = {"loss": "mse", "metrics": ["mae", RMSE, "acc"], "weighted_metrics": ["mse"]}
    assert reported_names(config) == {"loss", "mae", "rmse", "acc", "mse"}


def test_an_uncompiled_model_reports_only_the_loss() -> None:
    assert reported_names({}) == {"loss"}


def test_per_output_metrics_or_unknown_objects_are_not_guessed() -> None:
    assert reported_names({"metrics": {"out_a": ["mae"]}}) is None
    assert reported_names({"metrics": [object()]}) is None


def test_each_unreported_gate_metric_is_one_line_with_the_nearest_name() -> None:
    lines = unreported(["accuracy", "loss", "f1", "accuracy"], {"loss", "acc", "mae"})
    assert len(lines) == 2
    assert lines[0].startswith("the gate checks 'accuracy', which the model does not compile")
    assert "did you mean 'acc'?" in lines[0]
    assert "did you mean" not in lines[1]
