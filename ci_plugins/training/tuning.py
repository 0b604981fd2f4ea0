"""The hyper-parameter search before the final fit, on keras-tuner (train.tune).

Imported only by the train runner (it imports Keras and keras-tuner at module level).
The tuner's state lives in STATE_DIR/<key>/, where the key hashes everything that makes
old trials comparable (space, objective, tuner, epochs, the model code and the data): a
retried job reloads it and continues, and a changed space starts a new search instead of
silently reusing old trials (keras-tuner reloads any project of the same name).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt

from ci_plugins.config.models import SearchParameter
from ci_plugins.errors import InputError
from ci_plugins.output import Output
from ci_plugins.step import Clock
from ci_plugins.training.progress import format_duration, format_metric
from ci_plugins.training.read_tracker import ReadTracker
from ci_plugins.training.search_state import (
    STATE_FILE,
    SearchState,
    last_line,
    other_searches,
    search_key,
    search_record,
    trial_values,
    values_text,
)
from ci_plugins.training.spec import TrainSpec
from ci_plugins.training.trials import SearchRecord, out_of_time
from ci_plugins.training.tune_plan import SearchSettings

TUNERS = {
    "bayesian": kt.BayesianOptimization,
    "random": kt.RandomSearch,
    "hyperband": kt.Hyperband,
}

BuildSpec = Callable[[Mapping[str, Any]], TrainSpec]


class _Stop(Exception):
    """A budget (trials, wall time) is spent: start no further trial."""


def search(
    settings: SearchSettings,
    build: BuildSpec,
    *,
    strategy: Any,
    out: Output,
    clock: Clock,
) -> SearchRecord:
    """Run (or continue) the search; the values of its best trial, with every trial.

    Raises InputError (2) before any trial for an objective the model does not report,
    or when every trial failed; KeyboardInterrupt on SIGTERM (state kept for the rerun).
    """
    tune = settings.tune
    probe = _probe(settings, build, out=out)
    key = search_key(settings, probe.spec)
    project = settings.state_dir / key
    state = SearchState.load(project)
    state.runs += 1
    if state.trials:
        out.info(f"continuing the search in {project}: {len(state.trials)} trials done before")
    others = other_searches(settings.state_dir, key)
    if others:
        out.info(f"ignoring {others} earlier search(es) in {settings.state_dir} (other space/data)")
    tuner, state = _open_tuner(settings, build, strategy=strategy, key=key, state=state, out=out)
    tuner.clock = clock
    tuner.started = clock.time()
    stopped = "search complete"
    try:
        with _quiet():
            tuner.search(epochs=tune.epochs, verbose=0)
    except _Stop as exc:
        stopped = str(exc)
    except KeyboardInterrupt:
        out.info(
            f"interrupted: the search state is in {project} ({len(state.trials)} of "
            f"{tune.max_trials} trials done); the next run with it continues the search"
        )
        raise
    record = search_record(
        tuner.oracle.trials, state, settings, key=key, stopped=stopped, unused=probe.unused
    )
    if record.best_trial is None:
        errors = [t.error for t in record.trials if t.error]
        raise InputError(
            f"train.tune: all {len(record.trials)} trials failed; the last: "
            f"{errors[-1] if errors else 'no objective reported'}",
            hint="run with --debug, or narrow train.tune.space",
        )
    out.info(
        f"best trial {record.best_trial}: {tune.objective.metric} "
        f"{format_metric(record.best_objective or math.nan)} with {values_text(record.values)}"
    )
    return record


@dataclass
class _Probe:
    spec: TrainSpec
    unused: list[str]


def _probe(settings: SearchSettings, build: BuildSpec, *, out: Output) -> _Probe:
    """Build once with the first values: check the objective and the space before trials."""
    tune = settings.tune
    params = ReadTracker({**settings.params, **{n: _first(p) for n, p in tune.space.items()}})
    spec = build(params)
    if spec.fit is not None:
        raise InputError(
            "train.tune does not drive custom training loops (TrainSpec.fit) yet",
            hint="tune a model trained by model.fit, or remove train.tune",
        )
    reported = _reported_metrics(spec, settings.batch_size)
    if tune.objective.metric not in reported:
        hint = "" if spec.validation is not None else "; val_ metrics need TrainSpec.validation"
        raise InputError(
            f"train.tune.objective.metric {tune.objective.metric!r} is not a metric the model "
            f"reports; it reports {', '.join(reported)}{hint}",
            hint="use one of those names (the best epoch of each trial counts)",
        )
    unused = sorted(set(tune.space) - params.read)
    if unused:
        out.warn(
            f"train.tune.space: build(params) never reads {', '.join(unused)}; searching "
            "them changes nothing (check the names in train.tune.space)"
        )
    return _Probe(spec, unused)


def _reported_metrics(spec: TrainSpec, batch_size: int) -> list[str]:
    """Names in the fit history: evaluate one batch for the compiled metrics' names."""
    data = spec.validation if spec.validation is not None else spec.train
    if isinstance(data, tuple | list) and len(data) == 2:
        result = spec.model.evaluate(
            data[0][:batch_size], data[1][:batch_size], verbose=0, return_dict=True
        )
    else:
        result = spec.model.evaluate(data, steps=1, verbose=0, return_dict=True)
    names = sorted(str(name) for name in result)
    if spec.validation is not None:
        names += [f"val_{name}" for name in names]
    return names


def _open_tuner(
    settings: SearchSettings,
    build: BuildSpec,
    *,
    strategy: Any,
    key: str,
    state: SearchState,
    out: Output,
) -> tuple[Any, SearchState]:
    """The tuner, reloaded from its state; a state cut short by a kill starts over."""
    project = settings.state_dir / key
    try:
        tuner = _make_tuner(settings, build, strategy=strategy, key=key, state=state, out=out)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        if not project.is_dir():
            raise InputError(f"train.tune: keras-tuner refused the search: {exc}") from exc
        aside = project.with_name(f"{key}.unreadable-{os.getpid()}")
        os.replace(project, aside)
        out.warn(
            f"the search state in {project} is unreadable ({type(exc).__name__}: {exc}); "
            f"moved it to {aside} and starting this search over"
        )
        state = SearchState(project / STATE_FILE, 1, {})
        try:
            tuner = _make_tuner(settings, build, strategy=strategy, key=key, state=state, out=out)
        except (ValueError, KeyError, TypeError, RuntimeError) as again:
            raise InputError(f"train.tune: keras-tuner refused the search: {again}") from again
    return tuner, state


def _make_tuner(
    settings: SearchSettings,
    build: BuildSpec,
    *,
    strategy: Any,
    key: str,
    state: SearchState,
    out: Output,
) -> Any:
    tune = settings.tune
    base = TUNERS[tune.tuner]
    budget: dict[str, Any] = (
        {"max_epochs": tune.epochs}
        if tune.tuner == "hyperband"
        else {"max_trials": tune.max_trials}
    )
    tuner_class = type(f"CiPlugins{base.__name__}", (_Hooks, base), {})
    with _quiet():
        tuner = tuner_class(
            hypermodel=_HyperModel(settings, build),
            objective=kt.Objective(tune.objective.metric, direction=tune.objective.direction),
            seed=settings.seed,
            directory=str(settings.state_dir),
            project_name=key,
            overwrite=False,
            distribution_strategy=strategy,
            # Failed trials are ours to judge (all failed = error), never keras-tuner's.
            max_consecutive_failed_trials=tune.max_trials + 1,
            **budget,
            **tune.options,
        )
    tuner.settings, tuner.state, tuner.out = settings, state, out
    return tuner


class _HyperModel(kt.HyperModel):  # type: ignore[misc]
    """Calls the user's build(params) with the trial's values; fits like a normal train."""

    def __init__(self, settings: SearchSettings, build: BuildSpec) -> None:
        super().__init__()
        self.settings = settings
        self.build_spec = build
        self.spec: TrainSpec | None = None

    def declare_hyperparameters(self, hp: Any) -> None:
        for name, parameter in self.settings.tune.space.items():
            _declare(hp, name, parameter)

    def build(self, hp: Any) -> Any:
        keras.utils.set_random_seed(self.settings.seed)
        values = {**self.settings.params, **trial_values(hp.values)}
        self.spec = self.build_spec(values)
        return self.spec.model

    def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
        spec = self.spec
        assert spec is not None
        callbacks = [
            *spec.callbacks,
            *kwargs.pop("callbacks", []),
            keras.callbacks.TerminateOnNaN(),
        ]
        data = _fit_inputs(spec.train, self.settings.batch_size)
        validation = spec.validation
        return model.fit(
            **data,
            validation_data=tuple(validation) if isinstance(validation, list) else validation,
            callbacks=callbacks,
            **kwargs,
        )


def _declare(hp: Any, name: str, p: SearchParameter) -> None:
    if p.type == "choice":
        hp.Choice(name, list(p.values or []))
    elif p.type == "int":
        step = int(p.step) if p.step is not None else None
        hp.Int(name, int(p.min or 0), int(p.max or 0), step=step, sampling=p.sampling)
    else:
        hp.Float(name, float(p.min or 0), float(p.max or 0), step=p.step, sampling=p.sampling)


def _first(p: SearchParameter) -> Any:
    """The value the probe build uses: a choice's first option, else the range's start."""
    if p.type == "choice":
        return (p.values or [""])[0]
    return int(p.min or 0) if p.type == "int" else float(p.min or 0)


class _Hooks:
    """Budgets, one log line per trial and trial durations, around keras-tuner's loop."""

    settings: SearchSettings
    state: SearchState
    out: Output
    clock: Clock
    started: float
    oracle: Any
    trial_started = 0.0

    def pre_create_trial(self) -> None:
        tune = self.settings.tune
        # Hyperband has no max_trials of its own: cap it here (a pending retry still runs).
        hyperband = tune.tuner == "hyperband" and self._pending_retries() == 0
        if hyperband and len(self.oracle.trials) >= tune.max_trials:
            raise _Stop(f"max_trials {tune.max_trials} reached")
        if tune.max_time is not None:
            seconds = [t["seconds"] for t in self.state.trials.values() if t.get("seconds")]
            elapsed = self.clock.time() - self.started
            spent = out_of_time(elapsed=elapsed, durations=seconds, budget=tune.max_time)
            if spent:
                raise _Stop(spent)

    def _configure_tensorboard_dir(self, callbacks: Any, trial: Any, execution: int = 0) -> None:
        # keras-tuner imports the tensorboard package for every trial, only to patch
        # TensorBoard callbacks; TensorFlow does not install it. Patch only when needed.
        if any(type(c).__name__ == "TensorBoard" for c in callbacks):
            super()._configure_tensorboard_dir(callbacks, trial, execution)  # type: ignore[misc]

    def _pending_retries(self) -> int:
        return len(getattr(self.oracle, "_retry_queue", []))

    def on_trial_begin(self, trial: Any) -> None:
        self.trial_started = self.clock.time()
        super().on_trial_begin(trial)  # type: ignore[misc]

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)  # type: ignore[misc]  # keras-tuner saves its state
        seconds = round(self.clock.time() - self.trial_started, 3)
        self.state.trials[trial.trial_id] = {"seconds": seconds, "run": self.state.runs}
        self.state.save()
        done = len(self.state.trials)
        final = self.oracle.trials[trial.trial_id]  # end_trial may have failed it (NaN)
        status = str(final.status).lower()
        score = final.score
        if status == "completed" and score is not None:
            result = f"{self.settings.tune.objective.metric} {format_metric(score)}"
        else:
            result = f"{status} ({last_line(final.message)})"
        # Logged last: once a reader sees "trial N done", the state holds it.
        self.out.info(
            f"trial {trial.trial_id} done ({done}/{self.settings.tune.max_trials}): {result} "
            f"with {values_text(trial_values(trial.hyperparameters.values))}  "
            f"{format_duration(seconds)}"
        )


def _fit_inputs(data: Any, batch_size: int) -> dict[str, Any]:
    if isinstance(data, tuple | list) and len(data) == 2:
        return {"x": data[0], "y": data[1], "batch_size": batch_size, "shuffle": True}
    return {"x": data}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """keras-tuner prints tables to stdout, which --json reserves; our own lines replace them."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield
