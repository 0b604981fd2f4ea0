"""Run the user's build() and train it: seeds, devices, strategy, fit, evaluate, export.

The only module that imports TensorFlow and Keras (inside its functions); `steps/train.py`
calls `train()` and writes the outputs.
"""

from __future__ import annotations

import math
import os
import platform
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_plugins import __version__
from ci_plugins.errors import InputError
from ci_plugins.output import Output
from ci_plugins.step import Clock
from ci_plugins.training import devices
from ci_plugins.training.checkpoint import Checkpoints
from ci_plugins.training.entrypoint import HINT, call_function, load_function
from ci_plugins.training.kubernetes import keras_fit
from ci_plugins.training.spec import FitRun, TrainSpec
from ci_plugins.training.trials import SearchRecord

if TYPE_CHECKING:
    from ci_plugins.training.tune_plan import SearchSettings


@dataclass(frozen=True)
class Settings:
    """Everything train() needs, resolved from the config and the flags."""

    entrypoint: str
    project: Path
    params: Mapping[str, Any]
    epochs: int
    batch_size: int
    seed: int
    export_dir: Path
    checkpoint_dir: Path | None = None
    fingerprint: str = ""
    mixed_precision: bool = False
    xla: bool = False
    require_gpu: bool = False
    environ: Mapping[str, str] = field(default_factory=dict)
    source_commit: str = ""
    search: SearchSettings | None = None  # train.tune: search first, then fit the best
    gate_metrics: tuple[str, ...] = ()  # the metrics the config's gate checks


@dataclass
class Outcome:
    """What training produced, for metrics.json, the manifest and the report."""

    metrics: dict[str, float]
    dataset: dict[str, Any]
    history: list[dict[str, float]]
    strategy: devices.StrategyChoice
    frameworks: dict[str, str]
    resumed_at: int
    evaluated_on: str
    precision: str
    search: SearchRecord | None = None
    batch_size: int | None = None  # the batch size training really used, when known


def train(settings: Settings, *, out: Output, clock: Clock) -> Outcome:
    """Train and export the model to settings.export_dir (or raise before exporting).

    Raises InputError (2) for a bad entrypoint or TrainSpec, ExternalError (3) when
    require_gpu finds no GPU, progress.Diverged on a NaN loss, KeyboardInterrupt on
    SIGTERM/^C (after saving a checkpoint).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ info/warnings flood CI logs
    import keras
    import tensorflow as tf

    found = devices.detect_devices()
    out.info(f"devices: {found.describe()}")
    if settings.require_gpu:
        devices.require_gpu(found, settings.environ)
    choice = devices.choose_strategy(found, tf_config=settings.environ.get("TF_CONFIG"))
    out.info(f"strategy: {choice.kind} ({choice.reason}) on {', '.join(choice.devices)}")
    keras.utils.set_random_seed(settings.seed)
    precision = _set_precision(keras, settings.mixed_precision, gpu=bool(found.gpus), out=out)
    strategy = devices.make_strategy(choice)
    function = load_function(settings.entrypoint, settings.project)

    def build(params: Mapping[str, Any]) -> TrainSpec:
        if precision != "float32":  # keras.backend.clear_session() (the tuner's) resets it
            keras.mixed_precision.set_global_policy(precision)
        with strategy.scope():
            spec = call_function(
                function, params, entrypoint=settings.entrypoint, project=settings.project
            )
            _check_spec(spec, keras, tf, settings.entrypoint)
        keras_fit.check_fit(  # keras-team/keras#20585
            choice, custom_fit=spec.fit is not None, custom_evaluate=spec.evaluate is not None
        )
        checked: TrainSpec = spec
        return checked

    search = None
    if settings.search is not None:
        search, settings = _search(settings, build, strategy=strategy, out=out, clock=clock)
    spec = build(settings.params)
    _warn_unreported_gate_metrics(spec, settings, out=out)
    if settings.xla:
        spec.model.jit_compile = True
        out.info("XLA: the training step is compiled with jit_compile=True")
    history, resumed_at, callback = _prepare(spec, settings, out=out, clock=clock)
    if resumed_at < settings.epochs:
        _fit(spec, settings, callback, resumed_at)
    metrics, evaluated_on = _evaluate(spec, settings)
    out.info("test metrics: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    spec.model.export(str(settings.export_dir), verbose=False)
    return Outcome(
        metrics=metrics,
        dataset=_dataset(spec),
        history=history,
        strategy=choice,
        frameworks={
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "python": platform.python_version(),
            "ci-plugins": __version__,
        },
        resumed_at=resumed_at,
        evaluated_on=evaluated_on,
        precision=precision,
        search=search,
        batch_size=_batch_size_used(spec, settings, tf),
    )


def _search(
    settings: Settings, build: Any, *, strategy: Any, out: Output, clock: Clock
) -> tuple[SearchRecord, Settings]:
    """Search, then settings for the final fit with the best values (as a normal train)."""
    import keras

    from ci_plugins.training import tune_plan, tuning

    assert settings.search is not None
    with out.group("hyper-parameter search", collapsed=False):
        record = tuning.search(settings.search, build, strategy=strategy, out=out, clock=clock)
    # The final fit starts like a train without tune: fresh session, same seed.
    keras.backend.clear_session()
    keras.utils.set_random_seed(settings.seed)
    final = tune_plan.with_values(settings, record.values)
    return record, final


def _warn_unreported_gate_metrics(spec: TrainSpec, settings: Settings, *, out: Output) -> None:
    """Warn before the first epoch when the gate names a metric the model will not report."""
    from ci_plugins.training.gate_metrics import reported_names, unreported

    if spec.evaluate is not None or not settings.gate_metrics:
        return  # evaluate() reports what it likes: nothing to tell in advance
    reported = reported_names(spec.model.get_compile_config() or {})
    if reported is None:
        return
    for line in unreported(settings.gate_metrics, reported):
        out.warn(line)


def _batch_size_used(spec: TrainSpec, settings: Settings, tf: Any) -> int | None:
    """train.batch_size for (x, y) arrays that model.fit batched; the batch size of a
    tf.data pipeline that batches itself; None when it cannot be told (a custom loop,
    a PyDataset, unbatched or ragged data): the manifest records only what was used."""
    if spec.fit is not None:
        return None
    if _is_pair(spec.train):
        return settings.batch_size
    if not isinstance(spec.train, tf.data.Dataset):
        return None
    leading = {_leading_dim(s) for s in tf.nest.flatten(spec.train.element_spec)}
    if len(leading) == 1 and None not in leading:
        return leading.pop()  # static: .batch(n, drop_remainder=True) and the like
    try:  # the first batch's size: one element of the pipeline, nothing else
        first = next(iter(spec.train.take(1)))
    except (StopIteration, tf.errors.OpError, TypeError, ValueError):
        return None
    sizes = {_leading_dim(t) for t in tf.nest.flatten(first) if hasattr(t, "shape")}
    return sizes.pop() if len(sizes) == 1 and None not in sizes else None


def _leading_dim(value: Any) -> int | None:
    shape = getattr(value, "shape", None)
    if shape is None or shape.rank is None or shape.rank == 0:
        return None
    dim = shape[0]
    return int(dim) if dim is not None else None


def _set_precision(keras: Any, mixed: bool, *, gpu: bool, out: Output) -> str:
    if not mixed:
        return "float32"
    # float16 needs a GPU's tensor cores; CPUs (and TPUs) do mixed precision in bfloat16.
    policy = "mixed_float16" if gpu else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    out.info(f"mixed precision: {policy}")
    return policy


def _check_spec(spec: Any, keras: Any, tf: Any, entrypoint: str) -> None:
    if not isinstance(spec, TrainSpec):
        raise InputError(
            f"train.entrypoint {entrypoint!r} returned {_kind(spec)}, expected "
            "ci_plugins.training.TrainSpec",
            hint=HINT,
        )
    if not isinstance(spec.model, keras.Model):
        raise InputError(
            f"TrainSpec.model is {_kind(spec.model)}, expected a keras.Model", hint=HINT
        )
    if spec.fit is None and getattr(spec.model, "optimizer", None) is None:
        raise InputError(
            "TrainSpec.model is not compiled",
            hint="call model.compile(optimizer=..., loss=..., metrics=[...]) in build(), "
            "or pass fit= for a custom training loop",
        )
    for name in ("train", "validation", "test"):
        data = getattr(spec, name)
        if data is None and name != "train":
            continue
        if not (_is_pair(data) or isinstance(data, tf.data.Dataset | keras.utils.PyDataset)):
            raise InputError(
                f"TrainSpec.{name} is {_kind(data)}, expected (x, y) arrays or a tf.data.Dataset",
                hint=HINT,
            )
    if spec.test is None and spec.validation is None and spec.evaluate is None:
        raise InputError(
            "TrainSpec has neither test nor validation data: the gate needs metrics",
            hint="return TrainSpec(..., test=(x_test, y_test))",
        )


def _prepare(
    spec: TrainSpec, settings: Settings, *, out: Output, clock: Clock
) -> tuple[list[dict[str, float]], int, Any]:
    from ci_plugins.training.callbacks import EpochEnd

    history: list[dict[str, float]] = []
    checkpoints = None
    if settings.checkpoint_dir is not None:
        checkpoints = Checkpoints(settings.checkpoint_dir, settings.fingerprint)
        state, why = checkpoints.load()
        if why:
            out.warn(why)
        if state is not None:
            checkpoints.restore(spec.model)
            history = list(state.history)
            done = min(state.epoch, settings.epochs)
            out.info(
                f"resuming from {settings.checkpoint_dir}: {state.epoch} epochs done, "
                f"continuing at epoch {done + 1} of {settings.epochs}"
            )
    callback = EpochEnd(
        total_epochs=settings.epochs,
        history=history,
        log=out.info,
        clock=clock,
        checkpoints=checkpoints,
    )
    return history, len(history), callback


def _fit(spec: TrainSpec, settings: Settings, callback: Any, initial_epoch: int) -> None:
    try:
        if spec.fit is not None:
            callback.set_model(spec.model)
            run = FitRun(
                initial_epoch=initial_epoch,
                total_epochs=settings.epochs,
                batch_size=settings.batch_size,
                seed=settings.seed,
                train=spec.train,
                validation=spec.validation,
                _begin=callback.on_epoch_begin,
                _end=callback.on_epoch_end,
            )
            spec.fit(spec.model, run)
            return
        spec.model.fit(
            **_inputs(spec.train, settings.batch_size, shuffle=True),
            validation_data=_validation(spec.validation),
            epochs=settings.epochs,
            initial_epoch=initial_epoch,
            callbacks=[*spec.callbacks, callback],
            verbose=0,
        )
    except KeyboardInterrupt:
        # SIGTERM (preemption) arrives here as KeyboardInterrupt: save before exiting 130;
        # a second signal must not cut the save short.
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            callback.save_interrupted()
        finally:
            signal.signal(signal.SIGTERM, previous)
        raise


def _evaluate(spec: TrainSpec, settings: Settings) -> tuple[dict[str, float], str]:
    if spec.evaluate is not None:
        raw: Mapping[str, Any] = spec.evaluate(spec.model)
        where = "evaluate()"
    else:
        where = "test" if spec.test is not None else "validation"
        data = spec.test if spec.test is not None else spec.validation
        raw = spec.model.evaluate(
            **_inputs(data, settings.batch_size, shuffle=None), verbose=0, return_dict=True
        )
    metrics = {str(key): float(value) for key, value in raw.items()}
    broken = sorted(key for key, value in metrics.items() if not math.isfinite(value))
    if broken:
        from ci_plugins.training.progress import Diverged

        raise Diverged(settings.epochs, settings.epochs, f"{where} {broken[0]}", metrics[broken[0]])
    return metrics, where


def _inputs(data: Any, batch_size: int, *, shuffle: bool | None) -> dict[str, Any]:
    if not _is_pair(data):
        return {"x": data}
    inputs = {"x": data[0], "y": data[1], "batch_size": batch_size}
    if shuffle is not None:
        inputs["shuffle"] = shuffle
    return inputs


def _validation(data: Any) -> Any:
    return tuple(data) if _is_pair(data) else data


def _dataset(spec: TrainSpec) -> dict[str, Any]:
    info: dict[str, Any] = dict(spec.dataset)
    for name in ("train", "validation", "test"):
        data = getattr(spec, name)
        if _is_pair(data):
            info.setdefault(f"{name}_examples", len(data[0]))
    return info


def _is_pair(data: Any) -> bool:
    return isinstance(data, tuple | list) and len(data) == 2


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    return f"a {type(value).__module__}.{type(value).__qualname__}".replace("builtins.", "")
