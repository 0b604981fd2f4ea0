"""Restore the last healthy release of an app with a new commit, and pin the app there.

The target is the newest earlier release that verify recorded as healthy (tags
`ci-plugins/verified/<env>/<app>/<commit>`); without such a record, the release before
the current one. History is never rewritten: the restore is a new commit with a
`Rollback-Of:` trailer, and `environments/<env>/<app>/pin.yaml` keeps automatic
promotions away until `ci-plugins unpin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ci_plugins import ci_system as ci_vars
from ci_plugins.config.names import check_app
from ci_plugins.envrepo import guards as releasing
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
from ci_plugins.envrepo.target import target_of
from ci_plugins.step import StepContext, StepResult


@dataclass(frozen=True)
class Options:
    env: str
    env_repo: str | None = None
    app: str | None = None


def run(ctx: StepContext, options: Options) -> StepResult:
    """Roll the app back in the environment (see the module docstring)."""
    target = target_of(ctx, env_repo=options.env_repo, app=options.app, need_app=True)
    return rollback(ctx, env_repo=target.url, env=options.env, app=target.app or "")


def rollback(ctx: StepContext, *, env_repo: str, env: str, app: str) -> StepResult:
    """Roll app back in env in the environment repo at env_repo (used by verify too)."""
    env, app = ctx.environment(env), check_app(app)
    where = target_of(ctx, env_repo=env_repo, app=app, need_app=True)
    path = app_path(env, app)
    notes: dict[str, str] = {}

    def change(repo: EnvRepoCheckout) -> Commit | Refusal | None:
        history = [e for e in release_history(repo, env, app) if e.record is not None]
        if not history:
            return Refusal(f"nothing to roll back: {env} has no release of {app}")
        current = history[0]
        verified = set(verified_commits(repo, env, app))
        target, healthy = choose_target(history, verified, repo)
        if target is None:
            return Refusal(
                f"nothing to roll back to: {env}/{app} has no other release before "
                f"{_label(current)}"
            )
        _restore(repo, path, target.commit)
        repo.write_pin(env, app, _pin(ctx, env, app, current, target))
        notes.update(
            {
                "from": _version(current),
                "to": _version(target),
                "from_label": _label(current),
                "to_label": _label(target),
                "target": target.commit,
                "of": current.commit,
                "how": "last verified healthy" if healthy else "previous release",
            }
        )
        assert target.record is not None
        trailers = releasing.trailers(target.record, **{"Rollback-Of": current.commit})
        subject = f"rollback {app} in {env} to {_label(target)} (from {_label(current)})"
        return Commit(subject, trailers)

    with checkout(env_repo, branch=where.branch, sparse=[path], depth=None) as repo:
        outcome = push_change(
            repo,
            change,
            paths=[path],
            clock=ctx.clock,
            out=ctx.out,
            attempts=where.attempts,
            depth=None,
        )
    data = {"commit": outcome.commit, "environment": env, "app": app, **_json(notes)}
    if outcome.refusal:
        return StepResult.failed(outcome.refusal, data=data)
    message = (
        f"rolled {app} back in {env} from {notes['from_label']} to {notes['to_label']} "
        f"({notes['how']}) in commit {outcome.commit}; pinned until `ci-plugins unpin "
        f"--env {env} --app {app}`"
    )
    return StepResult.passed(message, data=data, outputs={"commit": outcome.commit or ""})


def choose_target(
    history: list[HistoryEntry], verified: set[str], repo: EnvRepoCheckout
) -> tuple[HistoryEntry | None, bool]:
    """The newest earlier release verified healthy (True), else the one before the current
    (False); None when there is no earlier release."""
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
            return entry, True
    return (earlier[0] if earlier else None), False


def release_key(record: ReleaseRecord) -> tuple[str | None, ...]:
    """What makes two release records the same release: model, chart, values and image."""
    chart = f"{record.chart.name}-{record.chart.version}" if record.chart else None
    return (record.model.digest, chart, record.values_digest, record.image)


def _restore(repo: EnvRepoCheckout, path: str, commit: str) -> None:
    repo.git.run("rm", "-r", "-q", "--ignore-unmatch", "--sparse", "--", f"{path}/{MANIFESTS_DIR}")
    repo.git.run("checkout", commit, "--", f"{path}/{MANIFESTS_DIR}", f"{path}/{RELEASE_FILE}")


def _pin(ctx: StepContext, env: str, app: str, current: HistoryEntry, target: HistoryEntry) -> Pin:
    return Pin(
        app=app,
        environment=env,
        pinned_by=ci_vars.actor(ctx.out.environ),
        reason=f"rolled back from {_version(current)} ({current.commit[:12]})",
        pinned_at=datetime.now(UTC).isoformat(timespec="seconds"),
        model_version=_version(target),
    )


def _version(entry: HistoryEntry) -> str:
    return entry.record.model.version if entry.record else "?"


def _label(entry: HistoryEntry) -> str:
    """The model version and the commit that recorded it: releases of one model differ."""
    return f"{_version(entry)} ({entry.commit[:12]})"


def _json(notes: dict[str, str]) -> dict[str, str | None]:
    return {
        "rolled_back_from": notes.get("from"),
        "restored": notes.get("to"),
        "restored_from_commit": notes.get("target"),
        "rollback_of": notes.get("of"),
        "reason": notes.get("how"),
    }
