"""Show what runs in each environment, and why.

Release, model, metrics, source and pins of every (environment, app). `--history` adds the
releases from the environment repo's log (trailers of each commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ci_plugins.config.names import check_app
from ci_plugins.envrepo.checkout import (
    ENVIRONMENTS,
    RELEASE_FILE,
    EnvRepoCheckout,
    app_path,
    checkout,
)
from ci_plugins.envrepo.publish import HISTORY_LIMIT, log_entries, record_at, verified_commits
from ci_plugins.envrepo.record import ReleaseRecord
from ci_plugins.envrepo.target import target_of
from ci_plugins.errors import CiPluginsError
from ci_plugins.reports import markdown_table
from ci_plugins.step import Flags, StepContext, StepResult


@dataclass(frozen=True)
class Options:
    env_repo: str | None = None
    env: str | None = None
    app: str | None = None
    history: bool = False


def run(ctx: StepContext, options: Options) -> StepResult:
    """Read the environment repo and describe every (environment, app) it records."""
    target = target_of(ctx, env_repo=options.env_repo, app=options.app, need_app=False)
    env = ctx.environment(options.env) if options.env else None
    app = check_app(options.app) if options.app else None
    depth = None if options.history else 1
    with checkout(target.url, branch=target.branch, depth=depth) as repo:
        rows = _releases(repo, env, app)
        history = _history(repo, env, app) if options.history else []
        head = repo.head
    table = _table(rows)
    ctx.out.info(table)
    if history:
        ctx.out.info(_history_table(history))
    data = {"env_repo": repo.url, "commit": head or None, "releases": rows}
    if options.history:
        data["history"] = history
    summary = "### What runs where\n\n" + _markdown(rows)
    where = env or "all environments"
    return StepResult.passed(f"{len(rows)} release(s) in {where}", data=data, summary=summary)


def _releases(repo: EnvRepoCheckout, env: str | None, app: str | None) -> list[dict[str, Any]]:
    rows = []
    for environment in [env] if env else repo.envs():
        for name in repo.apps(environment):
            if app and name != app:
                continue
            record = repo.read_release(environment, name)
            pin = repo.read_pin(environment, name)
            row: dict[str, Any] = {"environment": environment, "app": name}
            if record is not None:
                row.update(
                    model_version=record.model.version,
                    model_digest=record.model.digest,
                    artifact=record.model.artifact,
                    image=record.image,
                    metrics=dict(record.metrics),
                    source_repo=record.source.repo,
                    source_commit=record.source.commit,
                    pipeline=record.pipeline_url,
                    released_at=record.released_at,
                    promoted_from=record.promoted_from,
                )
            row["pinned"] = pin is not None
            row["pin"] = pin.model_dump(mode="json") if pin else None
            rows.append(row)
    return rows


def _history(repo: EnvRepoCheckout, env: str | None, app: str | None) -> list[dict[str, Any]]:
    path = f"{ENVIRONMENTS}/{env}" if env else ENVIRONMENTS
    if env and app:
        path += f"/{app}"
    entries = []
    for sha, when, subject, trailers in log_entries(repo, path, limit=HISTORY_LIMIT):
        if app and trailers.get("App", app) != app:
            continue
        entries.append(
            {
                "commit": sha,
                "when": when,
                "subject": subject,
                "environment": trailers.get("Environment"),
                "app": trailers.get("App"),
                "model_version": trailers.get("Model-Version"),
                "model_digest": trailers.get("Model-Digest"),
                "source_commit": trailers.get("Source-Commit"),
                "pipeline": trailers.get("Pipeline"),
                "rollback_of": trailers.get("Rollback-Of"),
            }
        )
    _annotate(repo, entries)
    return entries


def _annotate(repo: EnvRepoCheckout, entries: list[dict[str, Any]]) -> None:
    """Add `changes` (what differs from the env/app's previous release: model, image,
    chart, values) and `verified` (verify recorded the commit healthy) to each entry."""
    verified: dict[tuple[str, str], set[str]] = {}
    previous: dict[tuple[str, str], ReleaseRecord | None] = {}
    for entry in reversed(entries):  # oldest first
        env, app = entry["environment"], entry["app"]
        if not env or not app:
            entry.update(changes=[], verified=False)
            continue
        key = (env, app)
        if key not in verified:
            verified[key] = set(verified_commits(repo, env, app))
        entry["verified"] = entry["commit"] in verified[key]
        try:
            record = record_at(repo, entry["commit"], f"{app_path(env, app)}/{RELEASE_FILE}")
        except CiPluginsError:
            entry["changes"] = ["unreadable release.yaml"]
            continue
        entry["changes"] = release_changes(previous.get(key), record, first=key not in previous)
        previous[key] = record


def release_changes(
    old: ReleaseRecord | None, new: ReleaseRecord | None, *, first: bool = False
) -> list[str]:
    """What a release changed against the one before it, in words for the history table."""
    if new is None:
        return ["removed"]
    if old is None:
        return ["first release"] if first else [f"model {new.model.version}"]
    changes = []
    if (old.model.version, old.model.digest) != (new.model.version, new.model.digest):
        changes.append(f"model {old.model.version}→{new.model.version}")
    if old.image != new.image:
        changes.append("image")
    if old.chart != new.chart:
        before = f"{old.chart.name} {old.chart.version}" if old.chart else "none"
        after = f"{new.chart.name} {new.chart.version}" if new.chart else "none"
        changes.append(f"chart {before}→{after}")
    if old.values_digest != new.values_digest:
        changes.append("values")
    if changes:
        return changes
    return ["release record unchanged"] if old == new else ["release record only"]


_COLUMNS = ("environment", "app", "model", "digest", "metrics", "source", "released", "pinned")


def _cells(row: dict[str, Any]) -> list[str]:
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted((row.get("metrics") or {}).items()))
    pin = row.get("pin") or {}
    pinned = f"yes ({pin.get('pinned_by') or '?'}: {pin.get('reason') or '-'})" if pin else "no"
    return [
        row["environment"],
        row["app"],
        str(row.get("model_version") or "-"),
        str(row.get("model_digest") or "-")[:19],
        metrics or "-",
        str(row.get("source_commit") or "-")[:12],
        str(row.get("released_at") or "-"),
        pinned,
    ]


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no releases recorded"
    return _align([list(_COLUMNS), *(_cells(row) for row in rows)])


def _history_table(history: list[dict[str, Any]]) -> str:
    header = ["when", "commit", "environment", "app", "model", "changed", "verified", "subject"]
    lines = [
        [
            e["when"],
            e["commit"][:12],
            e["environment"] or "-",
            e["app"] or "-",
            e["model_version"] or "-",
            ", ".join(e.get("changes") or []) or "-",
            "healthy" if e.get("verified") else "-",
            e["subject"],
        ]
        for e in history
    ]
    return "history (newest first):\n" + _align([header, *lines])


def _align(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No releases recorded.\n"
    return markdown_table(list(_COLUMNS), [_cells(row) for row in rows]) + "\n"


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--env", metavar="ENV", help="only this environment")
    p.flag("--app", metavar="APP", help="only this app")
    p.flag("--history", action="store_true", help="list past releases from the repo's log")
