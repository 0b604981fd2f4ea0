"""Train the model; write model/, metrics.json, model-manifest.json.

Runs the project's `train.entrypoint` (module:function next to ci-plugins.yaml), fits,
evaluates and exports a SavedModel for TensorFlow Serving to OUTPUT/model/<version>/.
Nothing lands in OUTPUT/model unless training and export succeeded. TensorFlow is
imported only inside `ci_plugins.training.runner`, which this step calls.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_plugins import ci_system
from ci_plugins.config.models import Config
from ci_plugins.errors import InputError
from ci_plugins.model.digest import directory_digest
from ci_plugins.model.manifest import MANIFEST_FILE, ModelManifest, write_manifest
from ci_plugins.model.metrics import METRICS_FILE
from ci_plugins.step import Flags, StepContext, StepResult
from ci_plugins.training import provenance, tune_plan
from ci_plugins.training.checkpoint import Checkpoints, fingerprint
from ci_plugins.training.entrypoint import check_module
from ci_plugins.training.progress import Diverged
from ci_plugins.training.report import training_report
from ci_plugins.training.trials import TUNING_FILE

if TYPE_CHECKING:
    from ci_plugins.training.runner import Outcome, Settings

REPORT_FILE = "train-report.md"
MODEL_DIR = "model"


@dataclass(frozen=True)
class Options:
    output_dir: Path
    checkpoint_dir: Path | None = None
    epochs: int | None = None
    model_version: str | None = None
    require_gpu: bool = False
    tune_lock: Path | None = None
    tune_dir: Path | None = None
    worker: bool = False


def run(ctx: StepContext, options: Options) -> StepResult:
    """Train, evaluate and export; exit 1 when the loss diverges."""
    config = ctx.config()
    project = ctx.config_path.resolve().parent
    check_module(config.train.entrypoint, project)
    version = _version(options.model_version)
    output = _prepare_output(options.output_dir)
    if config.train.backend == "kubernetes" and not options.worker:
        from ci_plugins.training.kubernetes.remote import train_remotely

        return train_remotely(
            ctx, config, project=project, version=version, output=output, swap=_swap_into_place
        )
    if options.worker:
        from ci_plugins.training.kubernetes.worker import tf_config_from

        tf_config = tf_config_from(ctx.out.environ)
        os.environ["TF_CONFIG"] = ctx.out.environ["TF_CONFIG"] = tf_config  # read by TF itself
    staging = output / f".train-staging-{os.getpid()}"
    settings = _settings(ctx, config, options, project=project, export=staging / version)
    settings, locked = tune_plan.prepare(
        config,
        lock=options.tune_lock,
        tune_dir=options.tune_dir,
        settings=settings,
        project=project,
        output=output,
    )
    from ci_plugins.training.runner import train

    try:
        with ctx.out.group(f"train {config.app} ({config.train.entrypoint})", collapsed=False):
            outcome = train(settings, out=ctx.out, clock=ctx.clock)
        outcome.search = outcome.search or locked
        result = _publish(
            ctx, config, settings, outcome, output=output, version=version, lock=options.tune_lock
        )
        if options.worker and outcome.strategy.chief:
            _push_outputs(ctx, config, output)
        return result
    except Diverged as exc:
        report = training_report(
            app=config.app, verdict="failed", facts={"error": str(exc)}, metrics={}, history=[]
        )
        _write_atomic(output / REPORT_FILE, report)
        return StepResult.failed(str(exc), data={"epoch": exc.epoch}, summary=report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(
    ctx: StepContext,
    config: Config,
    settings: Settings,
    outcome: Outcome,
    *,
    output: Path,
    version: str,
    lock: Path | None,
) -> StepResult:
    if not outcome.strategy.chief:
        return StepResult.passed("trained as a non-chief worker; the chief writes the outputs")
    digest = directory_digest(settings.export_dir)
    _swap_into_place(settings.export_dir.parent, output / MODEL_DIR)
    environ = ctx.out.environ
    manifest = ModelManifest(
        app=config.app,
        model_version=version,
        model_digest=digest,
        source_commit=settings.source_commit,
        pipeline_url=ci_system.pipeline_url(environ),
        devices=list(outcome.strategy.devices),
        frameworks=outcome.frameworks,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        training={
            "strategy": outcome.strategy.kind,
            "precision": outcome.precision,
            "xla": settings.xla,
            "epochs": len(outcome.history),
            "seed": settings.seed,
            **({"batch_size": outcome.batch_size} if outcome.batch_size else {}),
            "evaluated_on": outcome.evaluated_on,
            "backend": config.train.backend,
            "workers": outcome.strategy.workers,
            **({"tuning": outcome.search.summary()} if outcome.search else {}),
        },
    )
    metrics: dict[str, Any] = {"metrics": outcome.metrics, "dataset": outcome.dataset}
    search = outcome.search
    if search is not None:
        metrics["tuning"] = search.summary()
        _write_atomic(output / TUNING_FILE, search.to_json())
    report = training_report(
        app=config.app,
        verdict="passed",
        facts=_facts(manifest, outcome, output),
        metrics=outcome.metrics,
        history=outcome.history,
        search=search,
    )
    _write_atomic(output / METRICS_FILE, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    _write_atomic(output / REPORT_FILE, report)
    write_manifest(output / MANIFEST_FILE, manifest)  # last: its presence means "complete"
    if search is not None:
        tune_plan.finish(search, lock=lock, out=ctx.out)
    if settings.checkpoint_dir is not None:
        Checkpoints(settings.checkpoint_dir, settings.fingerprint).clear()
    headline = "  ".join(f"{k} {v:.4f}" for k, v in outcome.metrics.items())
    return StepResult.passed(
        f"trained {config.app} version {version} ({headline}); wrote {output / MODEL_DIR}",
        data={
            "model_version": version,
            "model_digest": digest,
            "metrics": outcome.metrics,
            "devices": manifest.devices,
            "output_dir": str(output),
            **({"tuning": search.summary()} if search else {}),
        },
        outputs={
            "model_version": version,
            "model_digest": digest,
            "model_dir": str(output / MODEL_DIR),
            "model_manifest": str(output / MANIFEST_FILE),
            "metrics_file": str(output / METRICS_FILE),
            **({"tuning_file": str(output / TUNING_FILE)} if search else {}),
        },
        summary=report,
    )


def _settings(
    ctx: StepContext, config: Config, options: Options, *, project: Path, export: Path
) -> Settings:
    from ci_plugins.training.runner import Settings

    train = config.train
    environ = ctx.out.environ
    checkpoint_dir = options.checkpoint_dir
    if checkpoint_dir is None and train.checkpoint_dir:
        checkpoint_dir = project / train.checkpoint_dir
    epochs = options.epochs if options.epochs is not None else train.epochs
    if epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {epochs}")
    commit = provenance.source_commit(environ, project)
    identity = {
        "app": config.app,
        "entrypoint": train.entrypoint,
        "params": train.params,
        "seed": train.seed,
        "batch_size": train.batch_size,
        "mixed_precision": train.mixed_precision,
        "source_commit": commit,
        "module": provenance.module_digest(project, train.entrypoint),
    }
    return Settings(
        entrypoint=train.entrypoint,
        project=project,
        params=train.params,
        epochs=epochs,
        batch_size=train.batch_size,
        seed=train.seed,
        export_dir=export,
        checkpoint_dir=checkpoint_dir,
        fingerprint=fingerprint(identity),
        mixed_precision=train.mixed_precision,
        xla=train.xla,
        require_gpu=train.require_gpu or options.require_gpu,
        environ=environ,
        source_commit=commit,
        gate_metrics=tuple(dict.fromkeys([*config.gate.metrics, *config.gate.baseline])),
    )


def _push_outputs(ctx: StepContext, config: Config, output: Path) -> None:
    """The chief in a Job: push OUTPUT as an OCI artifact for the CI side to pull."""
    from ci_plugins.adapters import oci
    from ci_plugins.training.kubernetes.worker import artifact_of, push_outputs

    repository, tag = artifact_of(ctx.out.environ)
    plain_http = config.package.plain_http
    target = oci.Target(
        ref=repository, plain_http=repository.loopback if plain_http is None else plain_http
    )
    digest = push_outputs(output, target, tag=tag, annotations={"ci-plugins.dev/app": config.app})
    ctx.out.info(f"pushed the outputs to {target.ref.pinned(digest)} (tag {tag})")


def _prepare_output(directory: Path) -> Path:
    """Create the output directory and prove it is writable, before any training."""
    probe = directory / f".write-test-{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"output directory {directory} is not writable: {exc.strerror or exc}",
            hint="pass a writable --output-dir (nothing was trained)",
        ) from None
    model = directory / MODEL_DIR
    if model.exists() and not (directory / MANIFEST_FILE).exists():
        raise InputError(
            f"{model} exists and was not written by ci-plugins train (no {MANIFEST_FILE} "
            "beside it); refusing to replace it",
            hint="pass an empty --output-dir",
        )
    return directory


def _version(requested: str | None) -> str:
    """The SavedModel version directory: numeric, as TensorFlow Serving requires."""
    if requested is None:
        return datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    if not re.fullmatch(r"[0-9]{1,18}", requested):
        raise InputError(
            f"--model-version {requested!r} is not a number",
            hint="TensorFlow Serving loads only numeric version directories (model/<N>/); "
            "use e.g. the pipeline number",
        )
    return requested


def _swap_into_place(staging: Path, target: Path) -> None:
    """Replace target with staging by renames (same filesystem), old copy removed last."""
    old = target.with_name(f".{target.name}-old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _write_atomic(path: Path, text: str) -> None:
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)


def _facts(manifest: ModelManifest, outcome: Outcome, output: Path) -> dict[str, str]:
    facts = {
        "model": f"`{output / MODEL_DIR / manifest.model_version}` (SavedModel)",
        "version": manifest.model_version,
        "digest": f"`{manifest.model_digest}`",
        "devices": ", ".join(manifest.devices),
        "strategy": f"{outcome.strategy.kind} ({outcome.strategy.reason})",
        "precision": outcome.precision,
        "epochs": str(len(outcome.history)),
        "metrics from": outcome.evaluated_on,
        "source commit": manifest.source_commit or "unknown",
    }
    if outcome.resumed_at:
        facts["resumed"] = f"from a checkpoint after epoch {outcome.resumed_at}"
    return facts


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--output-dir", type=Path, metavar="DIR", required=True, help="where model/ goes")
    p.flag("--checkpoint-dir", type=Path, metavar="DIR", help="resume/save checkpoints here")
    p.flag("--epochs", type=int, metavar="N", help="override train.epochs")
    p.flag("--model-version", metavar="N", help="numeric version (default: UTC timestamp)")
    p.flag(
        "--require-gpu",
        action="store_true",
        help="fail (exit 3) without a GPU, as train.require_gpu: true (pipeline templates)",
    )
    p.flag(
        "--tune-lock",
        type=Path,
        metavar="FILE",
        help="train.tune: use the values in FILE and skip the search; write them there "
        "after a search when FILE does not exist",
    )
    p.flag(
        "--tune-dir",
        type=Path,
        metavar="DIR",
        help="train.tune: the search state, to cache between job retries "
        "(default: train.tune.directory, else OUTPUT/tuning)",
    )
    p.flag(
        "--worker",
        action="store_true",
        help="train as one worker of a Kubernetes Job (TF_CONFIG from the Job; set by the Job)",
    )
