"""Show what runs in each environment, and why: release, model, metrics, source, pins.

`--history` adds the releases from the environment repo's log (trailers of each commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ci_plugins.config.names import check_app
from ci_plugins.envrepo.checkout import ENVIRONMENTS, EnvRepoCheckout, checkout
from ci_plugins.envrepo.publish import log_entries
from ci_plugins.envrepo.target import target_of
from ci_plugins.reports import markdown_table
from ci_plugins.step import StepContext, StepResult

HISTORY_LIMIT = 200


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
    return entries


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
    header = ["when", "commit", "environment", "app", "model", "subject"]
    lines = [
        [
            e["when"],
            e["commit"][:12],
            e["environment"] or "-",
            e["app"] or "-",
            e["model_version"] or "-",
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
