"""The user contract: `TrainSpec` (what build() returns) and `FitRun` (for custom loops)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainSpec:
    """A compiled Keras model and its data; ci-plugins does the rest.

    Data (`train`, `validation`, `test`) is either a tuple `(x, y)` of arrays, which
    ci-plugins shuffles and batches with `train.batch_size`, or a `tf.data.Dataset`
    that yields batches already. Metrics come from `test` (or `validation` without one).

    Escape hatches: `callbacks` are extra Keras callbacks for `fit`; `fit(model, run)`
    replaces `model.fit` with your own loop (call `run.end_epoch(epoch, logs)` after each
    epoch); `evaluate(model) -> {"metric": value}` replaces `model.evaluate`.
    """

    model: Any
    train: Any
    validation: Any = None
    test: Any = None
    dataset: Mapping[str, Any] = field(default_factory=dict)
    callbacks: Sequence[Any] = ()
    fit: Callable[[Any, FitRun], None] | None = None
    evaluate: Callable[[Any], Mapping[str, float]] | None = None


@dataclass
class FitRun:
    """What a custom training loop gets: the epochs left to run and the end-of-epoch hook.

    ```python
    def fit(model, run):
        for epoch in run.epochs():
            ...  # your steps over run.train, batches of run.batch_size
            run.end_epoch(epoch, {"loss": loss, "accuracy": accuracy})
    ```
    `end_epoch` prints the progress line, stops on a NaN loss and saves the checkpoint.
    """

    initial_epoch: int
    total_epochs: int
    batch_size: int
    seed: int
    train: Any
    validation: Any
    _begin: Callable[[int], None]
    _end: Callable[[int, Mapping[str, float]], None]

    def epochs(self) -> Iterator[int]:
        """0-based indices of the epochs still to run (resumed runs skip finished ones)."""
        for epoch in range(self.initial_epoch, self.total_epochs):
            self._begin(epoch)
            yield epoch

    def end_epoch(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Report the epoch's metrics; raises when the loss is NaN, checkpoints otherwise."""
        self._end(epoch, {key: float(value) for key, value in logs.items()})
