"""Promotion into an environment with `approval: merge-request`: a branch and an MR/PR.

The branch is `ci-plugins/promote/<env>/<app>`; running the same promotion again moves
that branch (only if nobody else moved it: force-with-lease) and updates the open MR/PR
instead of opening another. The body shows what changes and the metrics vs what runs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ci_plugins import signals
from ci_plugins.envrepo.checkout import RELEASE_FILE, EnvRepoCheckout, app_path, release_from_text
from ci_plugins.envrepo.guards import same_release
from ci_plugins.envrepo.promotion import Plan, change_for
from ci_plugins.envrepo.publish import Commit, Outcome, Refusal
from ci_plugins.envrepo.record import ReleaseRecord
from ci_plugins.reports import markdown_table
from ci_plugins.step import StepContext

if TYPE_CHECKING:
    from ci_plugins.config.models import Config


def branch_name(env: str, app: str) -> str:
    return f"ci-plugins/promote/{env}/{app}"


def open_request(
    ctx: StepContext,
    config: Config,
    repo: EnvRepoCheckout,
    plan: Plan,
    *,
    url: str,
) -> Outcome:
    """Commit the release on the MR branch, push it, open or update the MR/PR.

    The outcome's commit is the branch's head (None when nothing changes) and its
    merge_request the MR/PR's URL; a refusal (pin, downgrade) pushes nothing."""
    from ci_plugins.adapters import forge

    remote_url = repo.git.remote.url if repo.git.remote else url
    branch = branch_name(plan.env, plan.app)
    # Every missing setting (exit 2), then a wrong API URL, project or token (exit 3),
    # before anything is pushed (#17).
    target = forge.resolve_target(remote_url, config.env_repo, ctx.out.environ)
    forge.check_change_requests(
        target, source_branch=branch, target_branch=repo.branch, clock=ctx.clock
    )
    current = repo.read_release(plan.env, plan.app)
    ref = f"refs/heads/{branch}"
    existing = repo.remote_ref(ref)
    proposed = _proposed(repo, existing, plan) if existing else None
    if proposed is not None and same_release(proposed, plan.record):
        # Same release as the open request: keep its time so the tree, and the MR, stay put.
        plan = replace(
            plan, record=plan.record.model_copy(update={"released_at": proposed.released_at})
        )
    result = change_for(plan)(repo)
    if not isinstance(result, Commit):
        return Outcome(refusal=result.reason if isinstance(result, Refusal) else None)
    sha = repo.commit([app_path(plan.env, plan.app)], result.message)
    if sha is None:
        return Outcome()
    if existing and _same_tree(repo, existing):
        ctx.out.info(f"{branch} already holds this release; updating the request only")
        sha = existing
    else:
        with signals.held():  # pushed: finish opening the request whatever signal comes
            repo.push(ref, lease=existing)
        ctx.out.info(f"pushed {sha[:12]} to {branch}")
    request = forge.open_or_update_change_request(
        repo_url=remote_url,
        source_branch=branch,
        target_branch=repo.branch,
        title=f"Promote {plan.app} {plan.record.model.version} to {plan.env}",
        body=request_body(plan.record, current),
        config=config.env_repo,
        environ=ctx.out.environ,
        clock=ctx.clock,
    )
    return Outcome(commit=sha, merge_request=request)


def _proposed(repo: EnvRepoCheckout, commit: str, plan: Plan) -> ReleaseRecord | None:
    """The release the open request's branch proposes (None when it cannot be read)."""
    fetched = repo.git.run(
        "fetch", "--quiet", "--depth", "1", "--no-tags", "origin", "--", commit, check=False
    )
    if fetched.returncode != 0:
        return None
    relpath = f"{app_path(plan.env, plan.app)}/{RELEASE_FILE}"
    text = repo.read_text(relpath, commit=commit)
    return release_from_text(text, source=f"{relpath} at {commit[:12]}") if text else None


def _same_tree(repo: EnvRepoCheckout, commit: str) -> bool:
    ours = repo.git.out("rev-parse", "HEAD^{tree}")
    return ours == repo.git.out("rev-parse", f"{commit}^{{tree}}")


def request_body(new: ReleaseRecord, current: ReleaseRecord | None) -> str:
    """Markdown: what changes (model, image, chart, source) and metrics vs what runs now."""
    env = new.environment
    lines = [f"Promotes **{new.app}** `{new.model.version}` to **{env}**", ""]
    if new.promoted_from:
        lines += [f"The exact release that runs in **{new.promoted_from}**.", ""]

    def facts(record: ReleaseRecord | None) -> list[str]:
        if record is None:
            return ["—"] * 7
        chart = f"{record.chart.name} {record.chart.version}" if record.chart else "—"
        return [
            record.model.version,
            f"`{record.model.digest}`",
            record.model.artifact or "—",
            record.image or "—",
            chart,
            record.source.commit or "—",
            record.pipeline_url or "—",
        ]

    names = ["model version", "model digest", "artifact", "image", "chart", "source", "pipeline"]
    rows = [
        [name, old, fresh]
        for name, old, fresh in zip(names, facts(current), facts(new), strict=True)
    ]
    lines += [markdown_table(["", f"{env} now", "this release"], rows), ""]
    metrics = sorted(set(new.metrics) | set(current.metrics if current else {}))
    if metrics:
        rows = []
        for metric in metrics:
            old = current.metrics.get(metric) if current else None
            fresh = new.metrics.get(metric)
            delta = fresh - old if old is not None and fresh is not None else None
            rows.append([metric, _num(old), _num(fresh), _num(delta, signed=True)])
        lines += ["Gate metrics:", "", markdown_table(["metric", env, "new", "delta"], rows)]
    return "\n".join(lines) + "\n"


def _num(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.4g}" if signed else f"{value:.4g}"
