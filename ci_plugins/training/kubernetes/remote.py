"""`ci-plugins train` with `train.backend: kubernetes`, from the CI runner's side.

Validates everything first (nothing is created on bad input), connects, creates or
attaches to the Job of this source commit, streams the chief's epoch lines, then pulls
the chief's outputs into --output-dir as a local train leaves them. A failure, a time-out
or a cancellation (SIGTERM, ^C) deletes the Job and its Service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ci_plugins import ci_system as ci_vars
from ci_plugins.config.models import Config
from ci_plugins.errors import ExternalError, InputError
from ci_plugins.model.manifest import MANIFEST_FILE, read_manifest
from ci_plugins.step import StepContext, StepResult
from ci_plugins.training import provenance
from ci_plugins.training.kubernetes import launch, render
from ci_plugins.training.kubernetes.watching import Verdict


def train_remotely(
    ctx: StepContext,
    config: Config,
    *,
    project: Path,
    version: str,
    output: Path,
    swap: Callable[[Path, Path], None],
) -> StepResult:
    """Run the Job to completion and collect its outputs; exit 1/2 from the chief, else 3."""
    cfg = config.train.kubernetes
    assert cfg is not None  # the config validator requires it for this backend
    registry = cfg.registry or config.package.registry
    if not registry:
        raise InputError(
            "train.backend kubernetes needs a registry for the chief's outputs",
            hint="set train.kubernetes.registry or package.registry (nothing was created)",
        )
    target = launch.artifact_target(registry, config.package.plain_http)
    environ = ctx.out.environ
    commit = provenance.source_commit(environ, project)
    run = render.Run(
        app=config.app,
        source_commit=commit,
        model_version=version,
        artifact="",
        pipeline_url=ci_vars.pipeline_url(environ),
    )
    run = replace(run, artifact=target.ref.tagged(run.name))
    kube = launch.connect(cfg, clock=ctx.clock)
    finished = False
    try:
        with ctx.out.group(
            f"train {config.app} on Kubernetes ({cfg.workers} workers)", collapsed=False
        ):
            launch.start_or_attach(kube, run, cfg, ctx.out)
            verdict = launch.watch_until_done(kube, run, cfg, out=ctx.out, clock=ctx.clock)
        if verdict.state == "failed":
            for line in launch.evidence(kube, cfg, verdict):
                ctx.out.info(line)
            return _failure(f"training Job {cfg.namespace}/{run.name} failed", verdict)
        launch.collect(target, tag=run.name, app=config.app, output=output, swap=swap)
        finished = True
    finally:
        if not finished:  # failed, timed out or cancelled: leave no Job behind
            launch.delete_run(kube, run, cfg)
            ctx.out.info(f"deleted Job {cfg.namespace}/{run.name} and its Service")
    manifest = read_manifest(output / MANIFEST_FILE, app=config.app)
    return StepResult.passed(
        f"trained {config.app} version {manifest.model_version} on Kubernetes "
        f"({cfg.workers} workers); pulled and checked {manifest.model_digest}; "
        f"wrote {output / 'model'}",
        data={
            "model_version": manifest.model_version,
            "model_digest": manifest.model_digest,
            "devices": manifest.devices,
            "output_dir": str(output),
            "job": run.name,
        },
        outputs={
            "model_version": manifest.model_version,
            "model_digest": manifest.model_digest,
            "model_dir": str(output / "model"),
            "model_manifest": str(output / MANIFEST_FILE),
            "metrics_file": str(output / "metrics.json"),
        },
    )


def _failure(what: str, verdict: Verdict) -> StepResult:
    """Exit 1 when the chief's check said no (e.g. diverged), 2 for bad input, else 3."""
    message = f"{what}: {verdict.reason}: {verdict.message}"
    if verdict.exit_code == 1:
        return StepResult.failed(message, data={"reason": verdict.reason})
    hint = "the Job and its Service were deleted; the evidence is above"
    if verdict.exit_code == 2:
        raise InputError(message, hint=hint)
    raise ExternalError(message, hint=hint)
