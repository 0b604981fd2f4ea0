"""Which environment repo, branch and app a command works on: flags first, then the config.

The only place that resolves the environment repo's URL (promote, rollback, unpin,
status, verify, gate's baseline and render's diff all ask here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_plugins.envrepo.publish import DEFAULT_PUSH_ATTEMPTS
from ci_plugins.errors import InputError
from ci_plugins.step import StepContext

if TYPE_CHECKING:
    from ci_plugins.config.models import Config


@dataclass(frozen=True)
class Target:
    url: str
    branch: str
    app: str | None
    attempts: int


def env_repo_url(flag: str | None, config: Config | None, *, purpose: str = "") -> str:
    """--env-repo, else env_repo.url from the config; InputError (exit 2) when neither is
    set (`purpose`, e.g. " to read dev's baseline from", completes the message)."""
    url = flag or (config.env_repo.url if config else None)
    if not url:
        raise InputError(
            f"no environment repo{purpose}: pass --env-repo URL or set env_repo.url in "
            "ci-plugins.yaml"
        )
    return url


def target_of(ctx: StepContext, *, env_repo: str | None, app: str | None, need_app: bool) -> Target:
    """--env-repo / --app, else env_repo.url / app from ci-plugins.yaml (when it exists).

    InputError (exit 2) when no repo URL is known, or no app while one is needed.
    """
    config = ctx.optional_config()
    url = env_repo_url(env_repo, config)
    app = app or (config.app if config else None)
    if need_app and not app:
        raise InputError("which app? pass --app APP or run where ci-plugins.yaml names one")
    return Target(
        url=url,
        branch=config.env_repo.branch if config else "main",
        app=app,
        attempts=config.env_repo.push_attempts if config else DEFAULT_PUSH_ATTEMPTS,
    )
