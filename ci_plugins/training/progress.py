"""One log line per epoch (metrics, duration, ETA) and the NaN-loss verdict. No TensorFlow."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# Keys that mean the model diverged when they stop being finite numbers.
LOSS_KEYS = ("loss", "val_loss")


class Diverged(Exception):
    """The loss became NaN or infinite: training stopped at this epoch (1-based)."""

    def __init__(self, epoch: int, total: int, key: str, value: float) -> None:
        super().__init__(
            f"training diverged: {key} is {value} at epoch {epoch} of {total}; stopped, "
            "nothing exported"
        )
        self.epoch = epoch
        self.key = key


def check_finite(epoch: int, total: int, logs: Mapping[str, float]) -> None:
    """Raise Diverged when a loss in logs is NaN or infinite."""
    for key in LOSS_KEYS:
        value = logs.get(key)
        if value is not None and not math.isfinite(value):
            raise Diverged(epoch, total, key, value)


def eta_seconds(durations: Sequence[float], remaining: int) -> float:
    """Remaining epochs times the mean of the last (up to) five epoch durations."""
    recent = list(durations)[-5:]
    if not recent or remaining <= 0:
        return 0.0
    return remaining * sum(recent) / len(recent)


def format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_metric(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else str(value)


def epoch_line(
    epoch: int, total: int, logs: Mapping[str, float], *, seconds: float, eta: float
) -> str:
    """`epoch 3/30  loss 0.1234  accuracy 0.9612  val_loss ...  2.1s  ETA 54.0s`."""
    width = len(str(total))
    metrics = "  ".join(f"{key} {format_metric(value)}" for key, value in logs.items())
    line = f"epoch {epoch:>{width}}/{total}  {metrics}  {format_duration(seconds)}"
    if epoch < total:
        line += f"  ETA {format_duration(eta)}"
    return line
