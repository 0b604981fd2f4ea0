"""Render the Helm chart for an environment with helm template, one file per object.

Values, lowest first: the chart's defaults < chart.values < environments.<env>.values <
what the model manifest says (artifact or image, model version, digest, source commit).
Same inputs give the same bytes. --diff-against DIR summarises what changes against an
earlier render (images, replicas, resources, RBAC) for the merge request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ci_plugins import rendering
from ci_plugins.manifest import read_manifest
from ci_plugins.names import check_env
from ci_plugins.render_diff import diff_rendered, read_rendered
from ci_plugins.step import StepContext, StepResult

DIFF_FILE = "render-diff.md"


@dataclass(frozen=True)
class Options:
    manifest: Path
    env: str
    output_dir: Path
    diff_against: Path | None = None


def run(ctx: StepContext, options: Options) -> StepResult:
    """Render the chart for options.env into options.output_dir."""
    env = check_env(options.env)
    config = ctx.config()
    config.environment(env)  # unknown environment: exit 2 before reading anything else
    manifest = read_manifest(options.manifest, app=config.app)
    old = read_rendered(options.diff_against) if options.diff_against else None
    with ctx.out.group(f"helm template {config.app} for {env}"):
        info = rendering.render(config, manifest, env, options.output_dir)
        for name in info.files:
            ctx.out.info(f"  {options.output_dir / name}")
    summary = None
    if old is not None:
        diff = diff_rendered(old, read_rendered(options.output_dir))
        summary = diff.markdown(title=f"{config.app} in {env}: changes to the rendered manifests")
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
