"""From train.tune and the flags to what the runner does: search, or use a lock. No TensorFlow.

`--tune-lock FILE`: an existing FILE supplies the values and no search runs; otherwise
the search runs and its best values are written to FILE once the model is exported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_plugins.config.models import Config, TuneConfig
from ci_plugins.errors import InputError
from ci_plugins.output import Output
from ci_plugins.training import provenance
from ci_plugins.training.checkpoint import fingerprint
from ci_plugins.training.trials import SearchRecord
from ci_plugins.training.tune_lock import read_lock, write_lock

if TYPE_CHECKING:
    from ci_plugins.training.runner import Settings

STATE_DIR = "tuning"  # under --output-dir unless train.tune.directory / --tune-dir say otherwise


@dataclass(frozen=True)
class SearchSettings:
    """What the search needs besides the user's build: config, state and identity."""

    tune: TuneConfig
    state_dir: Path
    params: Mapping[str, Any]  # train.params; the trial's values override them
    identity: Mapping[str, Any]  # entrypoint, module digest, seed, batch size...
    seed: int
    batch_size: int


def prepare(
    config: Config,
    *,
    lock: Path | None,
    tune_dir: Path | None,
    settings: Settings,
    project: Path,
    output: Path,
) -> tuple[Settings, SearchRecord | None]:
    """Settings that search (or use the lock's values), and the lock's record if one was used.

    Raises InputError (2) for --tune-lock without train.tune, a lock that does not fit
    the space, or a lock path that cannot be written.
    """
    tune = config.train.tune
    if tune is None:
        if lock is not None:
            raise InputError(
                f"--tune-lock {lock}: ci-plugins.yaml has no train.tune section to lock",
                hint="add train.tune (docs/train.md) or drop --tune-lock",
            )
        return settings, None
    if lock is not None and lock.exists():
        values = read_lock(lock, tune)
        record = SearchRecord(
            source="lock",
            tuner=tune.tuner,
            metric=tune.objective.metric,
            direction=tune.objective.direction,
            values=values,
            max_trials=tune.max_trials,
            epochs=tune.epochs,
            lock=str(lock),
        )
        return with_values(settings, values), record
    if lock is not None:
        _check_writable(lock)
    state_dir = tune_dir or (project / tune.directory if tune.directory else output / STATE_DIR)
    identity = {
        "entrypoint": settings.entrypoint,
        "module": provenance.module_digest(project, settings.entrypoint),
        "params": dict(settings.params),
        "seed": settings.seed,
        "batch_size": settings.batch_size,
        "mixed_precision": settings.mixed_precision,
    }
    search = SearchSettings(
        tune=tune,
        state_dir=state_dir,
        params=settings.params,
        identity=identity,
        seed=settings.seed,
        batch_size=settings.batch_size,
    )
    return replace(settings, search=search), None


def with_values(settings: Settings, values: Mapping[str, Any]) -> Settings:
    """Settings of the final fit: the chosen values over train.params, its own checkpoints."""
    return replace(
        settings,
        params={**settings.params, **values},
        fingerprint=fingerprint({"run": settings.fingerprint, "values": dict(values)}),
        search=None,
    )


def finish(record: SearchRecord, *, lock: Path | None, out: Output) -> None:
    """After the export: write the lock when the values came from a search."""
    if lock is None or record.source != "search":
        return
    write_lock(lock, record)
    out.info(f"wrote the chosen values to {lock}; trains with --tune-lock {lock} skip the search")


def _check_writable(lock: Path) -> None:
    probe = lock.with_name(f".{lock.name}.write-test-{os.getpid()}")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"--tune-lock {lock}: cannot write there: {exc.strerror or exc}",
            hint="pass a writable path (nothing was trained)",
        ) from None
