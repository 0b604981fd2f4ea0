"""Commit rendered manifests and a release record to the environment repo.

Or open a merge/pull request where the environment asks for approval.

`promote --env ENV --rendered DIR --manifest FILE` writes environments/<env>/<app>/ and
pushes one commit with trailers; `promote --from-env A --to-env B` promotes the exact
release recorded in A, re-rendered with B's values. Environments with
`approval: merge-request` get a branch `ci-plugins/promote/<env>/<app>` and a merge/pull
request instead of a push. The same release again makes no commit. Into an environment
with `rollout.strategy: canary` that runs a release already, the new release starts as
the candidate track at the first step (`ci-plugins rollout` drives the rest).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_plugins.config.models import Config
from ci_plugins.envrepo import guards, merge_request
from ci_plugins.envrepo.checkout import EnvRepoCheckout, app_path, checkout
from ci_plugins.envrepo.promotion import Plan, StartCanary, change_for
from ci_plugins.envrepo.publish import Outcome, push_change
from ci_plugins.envrepo.record import Canary
from ci_plugins.envrepo.target import env_repo_url
from ci_plugins.errors import InputError
from ci_plugins.model.manifest import ModelManifest, read_manifest, require_servable
from ci_plugins.render import chart
from ci_plugins.rollout import changes
from ci_plugins.step import Flags, StepContext, StepResult


@dataclass(frozen=True)
class Options:
    env_repo: str | None = None
    env: str | None = None
    rendered: Path | None = None
    manifest: Path | None = None
    from_env: str | None = None
    to_env: str | None = None
    allow_downgrade: bool = False


def run(ctx: StepContext, options: Options) -> StepResult:
    """Write the release into the environment repo and push it (or open/update an MR)."""
    config = ctx.config()
    url = env_repo_url(options.env_repo, config)
    if options.from_env or options.to_env:
        return _promote_between(ctx, config, url, options)
    env = _required_env(ctx, options)
    if options.rendered is None or options.manifest is None:
        raise InputError("promote --env needs --rendered DIR and --manifest FILE")
    manifest = read_manifest(options.manifest, app=config.app)
    require_servable(manifest, source=f"model manifest {options.manifest}")
    rendered = guards.read_rendered(options.rendered)
    guards.check_render_info(rendered.info, app=config.app, env=env, digest=manifest.model_digest)
    _check_rendered_model(rendered.info, manifest, options.rendered)
    record = guards.build_record(
        manifest,
        env=env,
        info=rendered.info,
        metrics=guards.read_metrics_near(options.manifest),
        environ=ctx.out.environ,
    )
    plan = Plan(
        env, config.app, record, rendered.files, options.allow_downgrade, _canary(config, env)
    )
    with checkout(url, branch=config.env_repo.branch, sparse=[app_path(env, config.app)]) as repo:
        return _deliver(ctx, config, repo, plan, url=url)


def _canary(config: Config, env: str) -> StartCanary | None:
    """How a release starts as a canary in env (None: it replaces what runs)."""
    if config.environment(env).rollout.strategy != "canary":
        return None
    return changes.start(config, env)


def _check_rendered_model(
    info: Mapping[str, object], manifest: ModelManifest, rendered: Path
) -> None:
    """The manifests must pull the packaged model, not be a render from before packaging
    (`render --preview` of a merge request)."""
    if "artifact" in info and info["artifact"] != manifest.artifact:
        raise InputError(
            f"{rendered} was rendered for model artifact {info['artifact'] or '(none)'}, "
            f"but the manifest names {manifest.artifact or '(none)'}",
            hint="render again with the packaged model manifest",
        )


def _required_env(ctx: StepContext, options: Options) -> str:
    if not options.env:
        raise InputError(
            "promote needs --env ENV (with --rendered and --manifest) or --from-env A --to-env B"
        )
    return ctx.environment(options.env)


def _promote_between(ctx: StepContext, config: Config, url: str, options: Options) -> StepResult:
    if not (options.from_env and options.to_env):
        raise InputError("promote between environments needs both --from-env A and --to-env B")
    if options.env and options.env != options.to_env:
        raise InputError(
            f"--env {options.env} contradicts --to-env {options.to_env}",
            hint="promote --from-env A --to-env B needs no --env",
        )
    if options.rendered or options.manifest:
        # Pipelines may set CI_PLUGINS_RENDERED for every job: say so, don't fail.
        ctx.out.warn(
            "--rendered/--manifest are ignored with --from-env: the release of "
            f"{options.from_env} is promoted as recorded"
        )
    source, target = ctx.environment(options.from_env), ctx.environment(options.to_env)
    if source == target:
        raise InputError(f"--from-env and --to-env are both {source!r}")
    app = config.app
    sparse = [app_path(source, app), app_path(target, app)]
    with checkout(url, branch=config.env_repo.branch, sparse=sparse) as repo:
        recorded = repo.read_release(source, app)
        if recorded is None:
            raise InputError(
                f"nothing to promote: {source} has no release of {app} in {repo.url}",
                hint=f"promote to {source} first",
            )
        if not recorded.model.artifact:
            # The record's `image` is the server the chart ran, not a model: only
            # model.artifact (which package writes for both methods) says a model was packaged.
            raise InputError(
                f"{source}'s release of {app} ({recorded.model.version}) records no "
                "model.artifact: it was promoted unpackaged, and its manifests would run "
                "TensorFlow Serving with no model",
                hint=f"package the model (`ci-plugins package`), then render and promote it "
                f"to {source} again",
            )
        manifest = guards.manifest_of(recorded)
        with tempfile.TemporaryDirectory(prefix="ci-plugins-render-") as tmp:
            chart.render(config, manifest, target, Path(tmp))  # with target's values
            rendered = guards.read_rendered(Path(tmp))
            record = guards.build_record(
                manifest,
                env=target,
                info=rendered.info,
                metrics=recorded.metrics,
                environ=ctx.out.environ,
                promoted_from=source,
            )
            # Keep what A recorded about its origin, not this job's pipeline.
            record = record.model_copy(
                update={"source": recorded.source, "pipeline_url": recorded.pipeline_url}
            )
            plan = Plan(
                target,
                app,
                record,
                rendered.files,
                options.allow_downgrade,
                _canary(config, target),
            )
            return _deliver(ctx, config, repo, plan, url=url)


def _deliver(
    ctx: StepContext, config: Config, repo: EnvRepoCheckout, plan: Plan, *, url: str
) -> StepResult:
    outcome: Outcome
    if config.environment(plan.env).approval == "merge-request":
        outcome = merge_request.open_request(ctx, config, repo, plan, url=url)
    else:
        outcome = push_change(
            repo,
            change_for(plan),
            paths=[app_path(plan.env, plan.app)],
            clock=ctx.clock,
            out=ctx.out,
            attempts=config.env_repo.push_attempts,
        )
    return result_of(plan, outcome)


def result_of(plan: Plan, outcome: Outcome) -> StepResult:
    """The step's result: outputs `commit` (and `merge_request`), JSON per the contract."""
    commit, refusal, request = outcome.commit, outcome.refusal, outcome.merge_request
    where = f"{plan.env}/{plan.app}"
    data = {
        "commit": commit,
        "merge_request": request,
        "environment": plan.env,
        "app": plan.app,
        "model_version": plan.record.model.version,
        "model_digest": plan.record.model.digest,
    }
    outputs = {"commit": commit or "", "merge_request": request or ""}
    if refusal:
        return StepResult.failed(refusal, data=data, outputs=outputs)
    if request:
        message = f"{where}: {plan.record.model.version} awaits approval in {request}"
    elif commit and isinstance(outcome.result, Canary):
        message = (
            f"{where}: {plan.record.model.version} runs as the candidate at "
            f"{outcome.result.weight}% in commit {commit}; `ci-plugins rollout --env "
            f"{plan.env}` drives it on"
        )
    elif commit:
        message = f"{where}: promoted {plan.record.model.version} in commit {commit}"
    else:
        message = f"{where} already runs {plan.record.model.version}; nothing to commit"
    return StepResult.passed(message, data=data, outputs=outputs)


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--env", metavar="ENV", help="environment to write the rendered release to")
    p.flag("--rendered", type=Path, metavar="DIR", help="output of ci-plugins render")
    p.flag("--manifest", type=Path, metavar="FILE", help="model-manifest.json")
    p.flag("--from-env", metavar="ENV", help="promote the release recorded in this environment")
    p.flag("--to-env", metavar="ENV", help="... into this environment")
    p.flag(
        "--allow-downgrade",
        action="store_true",
        help="promote even when the environment runs a newer model",
    )
