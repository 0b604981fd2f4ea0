"""Restore the last healthy release with a new commit, and pin it.

The target is the newest earlier release that verify recorded as healthy (tags
`ci-plugins/verified/<env>/<app>/<commit>`); without such a record, the release before
the current one. History is never rewritten: the restore is a new commit with a
`Rollback-Of:` trailer, and `environments/<env>/<app>/pin.yaml` keeps automatic
promotions away until `ci-plugins unpin`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ci_plugins.envrepo import rollback
from ci_plugins.envrepo.target import target_of
from ci_plugins.step import Flags, StepContext, StepResult


@dataclass(frozen=True)
class Options:
    env: str
    env_repo: str | None = None
    app: str | None = None


def run(ctx: StepContext, options: Options) -> StepResult:
    """Roll the app back in the environment (see the module docstring)."""
    target = target_of(ctx, env_repo=options.env_repo, app=options.app, need_app=True)
    result = rollback.rollback(ctx, target, env=options.env, app=target.app or "")
    data = result.as_json()
    if not result.ok:
        return StepResult.failed(result.message, data=data)
    return StepResult.passed(result.message, data=data, outputs={"commit": result.commit or ""})


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--env", metavar="ENV", required=True, help="environment to roll back")
    p.flag("--app", metavar="APP", help="app to roll back (default: the config's app)")
