"""Whether a TrainSpec can train under MultiWorkerMirroredStrategy (pure).

Keras 3's `model.fit` and `model.evaluate` do not run under
`tf.distribute.MultiWorkerMirroredStrategy` with more than one worker
(keras-team/keras#20585, open since TensorFlow 2.16 made Keras 3 the default). Measured
here with TensorFlow 2.21 / Keras 3.15 and two workers over loopback: both raise
`ValueError: Attempt to convert a value (PerReplica:{...}) with an unsupported type` on
every worker. A worker that would call them fails before training, with the way out.
"""

from __future__ import annotations

from ci_plugins.errors import InputError
from ci_plugins.training.devices import StrategyChoice

KERAS_ISSUE = "https://github.com/keras-team/keras/issues/20585"
HINT = (
    "when tf.distribute.get_strategy() is a MultiWorkerMirroredStrategy, return "
    "TrainSpec(..., fit=your_loop, evaluate=your_metrics): a custom loop of strategy.run "
    "steps, as examples/digits/model.py does (docs/train.md, 'Multi-worker training needs "
    "a custom loop')"
)


def check_fit(choice: StrategyChoice, *, custom_fit: bool, custom_evaluate: bool) -> None:
    """InputError (exit 2, never retried by the Job) when Keras' own fit or evaluate would
    run on more than one worker."""
    if choice.kind != "multi_worker" or choice.workers <= 1:
        return
    missing = [
        name for name, given in (("fit", custom_fit), ("evaluate", custom_evaluate)) if not given
    ]
    if not missing:
        return
    calls = " and ".join(f"model.{name}" for name in missing)
    raise InputError(
        f"TrainSpec has no {'/'.join(n + '=' for n in missing)} and {choice.workers} workers "
        f"train together: Keras 3's {calls} do not work under MultiWorkerMirroredStrategy "
        f"({KERAS_ISSUE})",
        hint=HINT,
    )
