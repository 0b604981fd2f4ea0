"""Render the Helm chart for an environment with helm template.

One file per object. Values, lowest first: the chart's defaults < chart.values <
environments.<env>.values < what the model manifest says (artifact or image, model version,
digest, source commit).
Same inputs give the same bytes. The manifest must name the packaged model (an artifact or a
serving image); --preview renders an unpackaged one for review (merge requests), which
promote then refuses. --diff-against DIR summarises what changes against an
earlier render (images, replicas, resources, RBAC) for the merge request;
--diff-against-env does the same against what the environment repo records for the
environment now (what a reviewer wants to see on a merge request).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_plugins.errors import ExternalError, InputError
from ci_plugins.model.manifest import read_manifest, require_servable
from ci_plugins.render import chart
from ci_plugins.render.diff import diff_rendered, objects_by_key, read_rendered
from ci_plugins.step import Flags, StepContext, StepResult

DIFF_FILE = "render-diff.md"


@dataclass(frozen=True)
class Options:
    manifest: Path
    env: str
    output_dir: Path
    diff_against: Path | None = None
    diff_against_env: bool = False
    env_repo: str | None = None
    preview: bool = False


def run(ctx: StepContext, options: Options) -> StepResult:
    """Render the chart for options.env into options.output_dir."""
    config = ctx.config()
    env = ctx.environment(options.env)  # unknown environment: exit 2 before anything else
    manifest = read_manifest(options.manifest, app=config.app)
    if not options.preview:
        require_servable(manifest, source=f"model manifest {options.manifest}")
    if options.diff_against and options.diff_against_env:
        raise InputError("--diff-against and --diff-against-env exclude each other")
    old = read_rendered(options.diff_against) if options.diff_against else None
    if options.diff_against_env:
        old = _recorded_objects(ctx, options, env=env, app=config.app)
        # The diff only informs the reviewer: an unreachable env repo must not block a merge
        # request's render, so it is a warning (and no diff), not exit 3.
    with ctx.out.group(f"helm template {config.app} for {env}"):
        info = chart.render(config, manifest, env, options.output_dir)
        for name in info.files:
            ctx.out.info(f"  {options.output_dir / name}")
        for note in info.notes:
            ctx.out.info(note)
    summary = None
    if old is not None:
        diff = diff_rendered(old, read_rendered(options.output_dir))
        summary = diff.markdown(title=f"{config.app} in {env}: changes to the rendered manifests")
    elif options.diff_against_env:  # asked for, but the environment repo could not be read
        summary = (
            f"_No diff against {env}: the environment repo could not be read (see the job log)._"
        )
    if summary is not None:
        (options.output_dir / DIFF_FILE).write_text(summary + "\n", encoding="utf-8")
        ctx.out.info(summary)
    outputs = {
        "rendered_dir": str(options.output_dir),
        "values_digest": info.values_digest,
        "model_version": info.model_version,
    }
    if info.image:
        outputs["image"] = info.image
    return StepResult.passed(
        f"rendered {len(info.files)} objects of {config.app} for {env} "
        f"(namespace {info.namespace}, chart {info.chart['name']} {info.chart['version']}) "
        f"into {options.output_dir}",
        data={**info.as_json(), "output_dir": str(options.output_dir)},
        outputs=outputs,
        summary=summary,
    )


def _recorded_objects(
    ctx: StepContext, options: Options, *, env: str, app: str
) -> dict[str, dict[str, Any]] | None:
    """The objects the environment repo records for env/app now (none on a first release);
    None, with a warning, when the environment repo cannot be read."""
    from ci_plugins.envrepo.checkout import app_path, checkout
    from ci_plugins.envrepo.target import target_of

    target = target_of(ctx, env_repo=options.env_repo, app=app, need_app=True)
    try:
        with checkout(target.url, branch=target.branch, sparse=[app_path(env, app)]) as repo:
            files = repo.read_manifests(env, app)
            ctx.out.info(
                f"comparing with {env}/{app} at env-repo commit {repo.head[:12] or '(empty)'}: "
                f"{len(files)} objects"
            )
            return objects_by_key(files)
    except ExternalError as exc:
        ctx.out.warn(f"no diff against {env}: cannot read the environment repo: {exc}")
        return None


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--manifest", type=Path, metavar="FILE", required=True, help="model-manifest.json")
    p.flag("--env", metavar="ENV", required=True, help="environment from ci-plugins.yaml")
    p.flag("--output-dir", type=Path, metavar="DIR", required=True, help="rendered manifests")
    p.flag(
        "--diff-against",
        type=Path,
        metavar="DIR",
        help="an earlier render: summarise what changes (Markdown, step summary)",
    )
    p.flag(
        "--diff-against-env",
        action="store_true",
        help="summarise what changes against what the environment repo records for --env",
    )
    p.flag("--env-repo", metavar="URL", help="for --diff-against-env (default: env_repo.url)")
    p.flag(
        "--preview",
        action="store_true",
        help="render an unpackaged model for review (merge requests); promote refuses it",
    )
