"""Commit rendered manifests and a release record to the environment repo (or open an MR).

`promote --env ENV --rendered DIR --manifest FILE` writes environments/<env>/<app>/ and
pushes one commit with trailers; `promote --from-env A --to-env B` promotes the exact
release recorded in A, re-rendered with B's values. Environments with
`approval: merge-request` get a branch `ci-plugins/promote/<env>/<app>` and a merge/pull
request instead of a push. The same release again makes no commit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_plugins.config.models import Config
from ci_plugins.envrepo import guards as releasing
from ci_plugins.envrepo import merge_request as promote_request
from ci_plugins.envrepo.checkout import EnvRepoCheckout, app_path, checkout
from ci_plugins.envrepo.guards import Rendered
from ci_plugins.envrepo.publish import Change, Commit, Refusal, push_change
from ci_plugins.envrepo.record import ReleaseRecord, dump_release
from ci_plugins.errors import InputError
from ci_plugins.model.manifest import ModelManifest, read_manifest
from ci_plugins.step import StepContext, StepResult


@dataclass(frozen=True)
class Options:
    env_repo: str | None = None
    env: str | None = None
    rendered: Path | None = None
    manifest: Path | None = None
    from_env: str | None = None
    to_env: str | None = None
    allow_downgrade: bool = False


@dataclass(frozen=True)
class Plan:
    """One release to write: where, what, and from which environment."""

    env: str
    app: str
    record: ReleaseRecord
    files: Mapping[str, bytes]
    allow_downgrade: bool


def run(ctx: StepContext, options: Options) -> StepResult:
    """Write the release into the environment repo and push it (or open/update an MR)."""
    config = ctx.config()
    url = env_repo_url(config, options.env_repo)
    if options.from_env or options.to_env:
        return _promote_between(ctx, config, url, options)
    env = _required_env(ctx, options)
    if options.rendered is None or options.manifest is None:
        raise InputError("promote --env needs --rendered DIR and --manifest FILE")
    manifest = read_manifest(options.manifest, app=config.app)
    rendered = releasing.read_rendered(options.rendered)
    releasing.check_render_info(
        rendered.info, app=config.app, env=env, digest=manifest.model_digest
    )
    record = releasing.build_record(
        manifest,
        env=env,
        info=rendered.info,
        metrics=releasing.read_metrics_near(options.manifest),
        environ=ctx.out.environ,
    )
    plan = Plan(env, config.app, record, rendered.files, options.allow_downgrade)
    with checkout(url, branch=config.env_repo.branch, sparse=[app_path(env, config.app)]) as repo:
        return _deliver(ctx, config, repo, plan, url=url)


def env_repo_url(config: Config, flag: str | None) -> str:
    """--env-repo, else env_repo.url from the config; InputError (2) when neither is set."""
    url = flag or config.env_repo.url
    if not url:
        raise InputError(
            "no environment repo: pass --env-repo URL or set env_repo.url in ci-plugins.yaml"
        )
    return url


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
        manifest = releasing.manifest_of(recorded)
        with tempfile.TemporaryDirectory(prefix="ci-plugins-render-") as tmp:
            rendered = _render_for(ctx, config, manifest, target, Path(tmp), repo, source)
            record = releasing.build_record(
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
            plan = Plan(target, app, record, rendered.files, options.allow_downgrade)
            return _deliver(ctx, config, repo, plan, url=url)


def _render_for(
    ctx: StepContext,
    config: Config,
    manifest: ModelManifest,
    env: str,
    tmp: Path,
    repo: EnvRepoCheckout,
    source: str,
) -> Rendered:
    """Re-render with env's values when the render core is available, else copy A's files."""
    try:
        from ci_plugins.render import chart as rendering
    except ImportError:
        ctx.out.warn("ci_plugins.render.chart is not available: copying the manifests as they are")
        files = {p.name: p.read_bytes() for p in repo.manifest_files(source, manifest.app)}
        if not files:
            raise InputError(f"{source} records no manifests for {manifest.app}") from None
        return Rendered(files, {})
    chart = Path(config.chart.path) if config.chart.path else None
    rendering.render(config, manifest, env, tmp, chart=chart)
    return releasing.read_rendered(tmp)


def _deliver(
    ctx: StepContext, config: Config, repo: EnvRepoCheckout, plan: Plan, *, url: str
) -> StepResult:
    if config.environment(plan.env).approval == "merge-request":
        return promote_request.open_request(ctx, config, repo, plan, url=url, change=change_for)
    outcome = push_change(
        repo,
        change_for(plan),
        paths=[app_path(plan.env, plan.app)],
        clock=ctx.clock,
        out=ctx.out,
        attempts=config.env_repo.push_attempts,
    )
    return result_of(plan, outcome.commit, outcome.refusal, merge_request=None)


def change_for(plan: Plan) -> Change:
    """The change promote makes, re-run on every fresh state of the branch."""

    def change(repo: EnvRepoCheckout) -> Commit | Refusal | None:
        current = repo.read_release(plan.env, plan.app)
        existing = {p.name: p.read_bytes() for p in repo.manifest_files(plan.env, plan.app)}
        unchanged = current is not None and releasing.same_release(current, plan.record)
        if unchanged and existing == dict(plan.files):
            return None
        pin = repo.read_pin(plan.env, plan.app)
        if pin is not None:
            return Refusal(
                f"{plan.app} is pinned in {plan.env} by {pin.pinned_by or 'someone'}"
                f" ({pin.reason or 'no reason given'}); run `ci-plugins unpin --env "
                f"{plan.env} --app {plan.app}` to let promotions resume"
            )
        if current and not plan.allow_downgrade:
            reason = releasing.downgrade_reason(plan.record, current)
            if reason:
                return Refusal(
                    f"refusing to downgrade {plan.env}/{plan.app}: {reason} "
                    "(pass --allow-downgrade to do it anyway)"
                )
        record = plan.record
        if current and releasing.same_release(current, record):
            # Only the manifests change: keep when and by which pipeline it was released.
            keep = {"released_at": current.released_at, "pipeline_url": current.pipeline_url}
            record = record.model_copy(update=keep)
        repo.write_app(plan.env, plan.app, release=dump_release(record), manifests=plan.files)
        verb = f"promote {plan.app} {record.model.version} to {plan.env}"
        if record.promoted_from:
            verb += f" from {record.promoted_from}"
        return Commit(verb, releasing.trailers(record))

    return change


def result_of(
    plan: Plan, commit: str | None, refusal: str | None, *, merge_request: str | None
) -> StepResult:
    """The step's result: outputs `commit` (and `merge_request`), JSON per the contract."""
    where = f"{plan.env}/{plan.app}"
    data = {
        "commit": commit,
        "merge_request": merge_request,
        "environment": plan.env,
        "app": plan.app,
        "model_version": plan.record.model.version,
        "model_digest": plan.record.model.digest,
    }
    outputs = {"commit": commit or "", "merge_request": merge_request or ""}
    if refusal:
        return StepResult.failed(refusal, data=data, outputs=outputs)
    if merge_request:
        message = f"{where}: {plan.record.model.version} awaits approval in {merge_request}"
    elif commit:
        message = f"{where}: promoted {plan.record.model.version} in commit {commit}"
    else:
        message = f"{where} already runs {plan.record.model.version}; nothing to commit"
    return StepResult.passed(message, data=data, outputs=outputs)
