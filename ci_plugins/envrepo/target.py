"""Which environment repo, branch and app a command works on: flags first, then the config."""

from __future__ import annotations

from dataclasses import dataclass

from ci_plugins.envrepo.publish import DEFAULT_PUSH_ATTEMPTS
from ci_plugins.errors import InputError
from ci_plugins.step import StepContext


@dataclass(frozen=True)
class Target:
    url: str
    branch: str
    app: str | None
    attempts: int


def target_of(ctx: StepContext, *, env_repo: str | None, app: str | None, need_app: bool) -> Target:
    """--env-repo / --app, else env_repo.url / app from ci-plugins.yaml (when it exists).

    InputError (exit 2) when no repo URL is known, or no app while one is needed.
    """
    config = ctx.optional_config()
    url = env_repo or (config.env_repo.url if config else None)
    if not url:
        raise InputError(
            "no environment repo: pass --env-repo URL or set env_repo.url in ci-plugins.yaml"
        )
    app = app or (config.app if config else None)
    if need_app and not app:
        raise InputError("which app? pass --app APP or run where ci-plugins.yaml names one")
    return Target(
        url=url,
        branch=config.env_repo.branch if config else "main",
        app=app,
        attempts=config.env_repo.push_attempts if config else DEFAULT_PUSH_ATTEMPTS,
    )
