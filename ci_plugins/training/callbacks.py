"""The Keras callback ci-plugins adds to every fit: progress, NaN stop, checkpoints.

Imported only by the train runner (it imports Keras at module level).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras

from ci_plugins.step import Clock
from ci_plugins.training.checkpoint import Checkpoints
from ci_plugins.training.progress import check_finite, epoch_line, eta_seconds


class EpochEnd(keras.callbacks.Callback):  # type: ignore[misc]
    """Once per epoch (never per batch): one log line, stop on NaN, save a checkpoint."""

    def __init__(
        self,
        *,
        total_epochs: int,
        history: list[dict[str, float]],
        log: Callable[[str], None],
        clock: Clock,
        checkpoints: Checkpoints | None,
    ) -> None:
        super().__init__()
        self.total_epochs = total_epochs
        self.history = history
        self.log = log
        self.clock = clock
        self.checkpoints = checkpoints
        self.durations: list[float] = []
        self.started = clock.time()
        self.completed = len(history)

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.started = self.clock.time()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        values = {key: float(value) for key, value in (logs or {}).items()}
        seconds = self.clock.time() - self.started
        self.durations.append(seconds)
        number = epoch + 1
        eta = eta_seconds(self.durations, self.total_epochs - number)
        line = epoch_line(number, self.total_epochs, values, seconds=seconds, eta=eta)
        try:
            check_finite(number, self.total_epochs, values)
        except Exception:
            self.log(line)
            raise
        self.history.append({"epoch": number, **values, "seconds": round(seconds, 3)})
        self.completed = number
        if self.checkpoints is not None:
            self.checkpoints.save(self.model, epoch=number, history=self.history)
        # Logged last: once a reader sees "epoch N", epoch N is in the checkpoint.
        self.log(line)

    def save_interrupted(self) -> None:
        """On SIGTERM/^C mid-epoch: keep the partial epoch's weights, resume at its start."""
        if self.checkpoints is None:
            self.log("interrupted: no checkpoint directory configured, nothing saved")
            return
        self.checkpoints.save(self.model, epoch=self.completed, history=self.history)
        self.log(
            f"interrupted: saved a checkpoint in {self.checkpoints.directory} after epoch "
            f"{self.completed}; the next run with it resumes at epoch {self.completed + 1}"
        )
