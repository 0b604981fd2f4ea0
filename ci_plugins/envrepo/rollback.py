"""Restore the last healthy release of an app with a new commit, and pin the app there.

The target is the newest earlier release that verify recorded as healthy (tags
`ci-plugins/verified/<env>/<app>/<commit>`); without such a record, the release before
the current one. History is never rewritten: the restore is a new commit with a
`Rollback-Of:` trailer, and `environments/<env>/<app>/pin.yaml` keeps automatic
promotions away until `ci-plugins unpin`. Used by `rollback` and `verify
--rollback-on-failure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ci_plugins import ci_system
from ci_plugins.config.names import check_app
from ci_plugins.envrepo import guards
from ci_plugins.envrepo.checkout import (
    MANIFESTS_DIR,
    RELEASE_FILE,
    EnvRepoCheckout,
    Pin,
    app_path,
    checkout,
)
from ci_plugins.envrepo.publish import (
    Commit,
    HistoryEntry,
    Refusal,
    push_change,
    record_at,
    release_history,
    verified_commits,
)
from ci_plugins.envrepo.record import ReleaseRecord
from ci_plugins.envrepo.target import Target
from ci_plugins.step import StepContext


@dataclass(frozen=True)
class Restore:
    """Which release a rollback restores, over which one, and why that one."""

    current: HistoryEntry
    target: HistoryEntry
    healthy: bool  # the target was verified healthy (else: simply the previous release)

    @property
    def how(self) -> str:
        return "last verified healthy" if self.healthy else "previous release"


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback did: the new commit and what it restored, or why it did nothing."""

    env: str
    app: str
    commit: str | None = None
    restore: Restore | None = None
    refusal: str | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def message(self) -> str:
        if self.refusal or self.restore is None:
            return self.refusal or f"nothing to roll back in {self.env}/{self.app}"
        return (
            f"rolled {self.app} back in {self.env} from {label(self.restore.current)} to "
            f"{label(self.restore.target)} ({self.restore.how}) in commit {self.commit}; "
            f"pinned until `ci-plugins unpin --env {self.env} --app {self.app}`"
        )

    def as_json(self) -> dict[str, Any]:
        restore = self.restore
        return {
            "commit": self.commit,
            "environment": self.env,
            "app": self.app,
            "rolled_back_from": version(restore.current) if restore else None,
            "restored": version(restore.target) if restore else None,
            "restored_from_commit": restore.target.commit if restore else None,
            "rollback_of": restore.current.commit if restore else None,
            "reason": restore.how if restore else None,
        }


def rollback(ctx: StepContext, target: Target, *, env: str, app: str) -> RollbackResult:
    """Roll app back in env in the environment repo `target` (one commit, pushed)."""
    env, app = ctx.environment(env), check_app(app)
    path = app_path(env, app)
    actor = ci_system.actor(ctx.out.environ)

    def change(repo: EnvRepoCheckout) -> Commit | Refusal | None:
        history = [e for e in release_history(repo, env, app) if e.record is not None]
        if not history:
            return Refusal(f"nothing to roll back: {env} has no release of {app}")
        restore = choose_target(history, set(verified_commits(repo, env, app)), repo)
        if restore is None:
            return Refusal(
                f"nothing to roll back to: {env}/{app} has no other release before "
                f"{label(history[0])}"
            )
        _restore_files(repo, path, restore.target.commit)
        repo.write_pin(env, app, _pin(env, app, restore, actor=actor))
        assert restore.target.record is not None
        trailers = guards.trailers(restore.target.record, **{"Rollback-Of": restore.current.commit})
        subject = (
            f"rollback {app} in {env} to {label(restore.target)} (from {label(restore.current)})"
        )
        return Commit(subject, trailers, result=restore)

    with checkout(target.url, branch=target.branch, sparse=[path], depth=None) as repo:
        outcome = push_change(
            repo,
            change,
            paths=[path],
            clock=ctx.clock,
            out=ctx.out,
            attempts=target.attempts,
            depth=None,
        )
    restore = outcome.result if isinstance(outcome.result, Restore) else None
    return RollbackResult(env, app, commit=outcome.commit, restore=restore, refusal=outcome.refusal)


def choose_target(
    history: list[HistoryEntry], verified: set[str], repo: EnvRepoCheckout
) -> Restore | None:
    """The newest earlier release verified healthy, else the one before the current;
    None when there is no earlier release."""
    current = history[0]
    assert current.record is not None
    # A bad release is often the same model with other values (a wrong limit, a broken
    # image): what differs is the release, not only the model (demo: crash-looping values).
    earlier = [
        e for e in history[1:] if e.record and release_key(e.record) != release_key(current.record)
    ]
    relpath = f"{app_path(current.record.environment, current.record.app)}/{RELEASE_FILE}"
    healthy = {release_key(r) for c in verified if (r := record_at(repo, c, relpath))}
    for entry in earlier:
        if entry.commit in verified or (entry.record and release_key(entry.record) in healthy):
            return Restore(current, entry, healthy=True)
    return Restore(current, earlier[0], healthy=False) if earlier else None


def release_key(record: ReleaseRecord) -> tuple[str | None, ...]:
    """What makes two release records the same release: model, chart, values and image."""
    chart = f"{record.chart.name}-{record.chart.version}" if record.chart else None
    return (record.model.digest, chart, record.values_digest, record.image)


def _restore_files(repo: EnvRepoCheckout, path: str, commit: str) -> None:
    repo.git.run("rm", "-r", "-q", "--ignore-unmatch", "--sparse", "--", f"{path}/{MANIFESTS_DIR}")
    repo.git.run("checkout", commit, "--", f"{path}/{MANIFESTS_DIR}", f"{path}/{RELEASE_FILE}")


def _pin(env: str, app: str, restore: Restore, *, actor: str) -> Pin:
    return Pin(
        app=app,
        environment=env,
        pinned_by=actor,
        reason=f"rolled back from {version(restore.current)} ({restore.current.commit[:12]})",
        pinned_at=datetime.now(UTC).isoformat(timespec="seconds"),
        model_version=version(restore.target),
    )


def version(entry: HistoryEntry) -> str:
    return entry.record.model.version if entry.record else "?"


def label(entry: HistoryEntry) -> str:
    """The model version and the commit that recorded it: releases of one model differ."""
    return f"{version(entry)} ({entry.commit[:12]})"
