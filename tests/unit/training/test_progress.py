"""Epoch lines, ETA and the NaN verdict."""

from __future__ import annotations

import math

import pytest

from ci_plugins.training.progress import Diverged, check_finite, epoch_line, eta_seconds


def test_epoch_line_shows_metrics_duration_and_eta() -> None:
    line = epoch_line(3, 30, {"loss": 0.12345, "accuracy": 0.9}, seconds=2.04, eta=83)
    assert line == "epoch  3/30  loss 0.1235  accuracy 0.9000  2.0s  ETA 1m23s"


def test_last_epoch_line_has_no_eta() -> None:
    assert "ETA" not in epoch_line(5, 5, {"loss": 0.1}, seconds=1, eta=0)


def test_eta_is_the_recent_mean_times_the_epochs_left() -> None:
    assert eta_seconds([10.0, 1.0, 1.0, 1.0, 1.0, 1.0], remaining=4) == pytest.approx(4.0)
    assert eta_seconds([], remaining=4) == 0.0


@pytest.mark.parametrize("key", ["loss", "val_loss"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_non_finite_loss_stops_training_naming_the_epoch(key: str, value: float) -> None:
    with pytest.raises(Diverged, match=rf"{key} is (nan|inf) at epoch 4 of 10") as error:
        check_finite(4, 10, {"loss": 0.5, key: value})
    assert error.value.epoch == 4


def test_finite_losses_pass_even_when_other_metrics_are_nan() -> None:
    check_finite(1, 10, {"loss": 0.5, "auc": math.nan})
