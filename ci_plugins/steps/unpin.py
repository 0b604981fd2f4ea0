"""Let automatic promotions into an environment resume after a rollback.

Removes environments/<env>/<app>/pin.yaml with one commit; no commit when not pinned.
"""

from __future__ import annotations

from dataclasses import dataclass

from ci_plugins.config.names import check_app
from ci_plugins.envrepo.checkout import EnvRepoCheckout, app_path, checkout
from ci_plugins.envrepo.publish import Commit, Refusal, push_change
from ci_plugins.envrepo.target import target_of
from ci_plugins.step import Flags, StepContext, StepResult


@dataclass(frozen=True)
class Options:
    env: str
    env_repo: str | None = None
    app: str | None = None


def run(ctx: StepContext, options: Options) -> StepResult:
    """Remove environments/<env>/<app>/pin.yaml with a commit; no commit when not pinned."""
    target = target_of(ctx, env_repo=options.env_repo, app=options.app, need_app=True)
    env, app = ctx.environment(options.env), check_app(target.app or "")
    path = app_path(env, app)

    def change(repo: EnvRepoCheckout) -> Commit | Refusal | None:
        pin = repo.read_pin(env, app)
        if pin is None:
            return None
        repo.write_pin(env, app, None)
        return Commit(
            f"unpin {app} in {env}",
            {"Environment": env, "App": app, "Unpinned-Release": pin.model_version},
        )

    with checkout(target.url, branch=target.branch, sparse=[path]) as repo:
        outcome = push_change(
            repo, change, paths=[path], clock=ctx.clock, out=ctx.out, attempts=target.attempts
        )
    data = {"commit": outcome.commit, "environment": env, "app": app}
    if outcome.commit is None:
        return StepResult.passed(f"{app} is not pinned in {env}; nothing to do", data=data)
    return StepResult.passed(
        f"unpinned {app} in {env} in commit {outcome.commit}; promotions resume",
        data=data,
        outputs={"commit": outcome.commit},
    )


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--env", metavar="ENV", required=True, help="environment to unpin the app in")
    p.flag("--app", metavar="APP", help="app to unpin (default: the config's app)")
