"""Wait until the cluster runs the committed release and it is healthy.

Or fail fast with the reason. Objects to check are the rendered manifests committed in the
environment repo for the environment (and app). Phases (docs/readiness.md): A the GitOps
controller applied our commit; B the live pod templates carry the committed images and
annotations; C per-kind readiness; D the fail-fast pod classifier; then TensorFlow
Serving's model status through the service proxy. Exit 0 healthy, 1 failed or timed out, 2
bad input, 3 cluster API unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ci_plugins.config.durations import duration_argument
from ci_plugins.config.models import VerifyConfig
from ci_plugins.envrepo import checkout, rollback
from ci_plugins.envrepo.target import env_repo_url, target_of
from ci_plugins.errors import CiPluginsError, InputError
from ci_plugins.step import Flags, StepContext, StepResult
from ci_plugins.verify import evidence
from ci_plugins.verify.committed import Committed, read_committed
from ci_plugins.verify.readiness.evaluate import Checked
from ci_plugins.verify.waiting import Verification

if TYPE_CHECKING:  # the kubernetes client loads only when verify talks to a cluster
    from ci_plugins.adapters.kube import Kube


@dataclass(frozen=True)
class Options:
    env: str
    env_repo: str | None = None
    app: str | None = None
    kubeconfig: Path | None = None
    timeout: float | None = None
    report_dir: Path | None = None
    rollback_on_failure: bool = False


def run(ctx: StepContext, options: Options) -> StepResult:
    """Verify the environment's committed release; roll back on failure when asked."""
    config = ctx.optional_config()
    ctx.environment(options.env)
    vcfg = config.verify if config else VerifyConfig()
    url = env_repo_url(options.env_repo, config)
    if options.timeout is not None and options.timeout <= 0:
        raise InputError(f"--timeout must be positive, got {options.timeout}")
    app = options.app or (config.app if config else None)
    branch = config.env_repo.branch if config else "main"
    committed = read_committed(url, branch=branch, env=options.env, app=app, config=config)
    start = ctx.clock.time()
    deadline = start + (options.timeout if options.timeout is not None else vcfg.timeout)
    from ci_plugins.adapters.kube import Kube, load_client

    kube = Kube(load_client(options.kubeconfig), clock=ctx.clock, deadline=deadline)
    try:
        return _verify(ctx, options, vcfg, committed, kube, start=start, deadline=deadline)
    finally:
        kube.close()


def _verify(
    ctx: StepContext,
    options: Options,
    vcfg: VerifyConfig,
    committed: Committed,
    kube: Kube,
    *,
    start: float,
    deadline: float,
) -> StepResult:
    ctx.out.info(
        f"verifying {options.env}/{', '.join(committed.apps)} at env-repo commit "
        f"{committed.commit[:12]} ({len(committed.objects)} objects) in {kube.host}"
    )
    verification = Verification(ctx, vcfg, committed, kube, start=start, deadline=deadline)
    checked = verification.phase_a()
    if checked is None:
        checked = verification.phases_b_to_d()
    verdict = verification.verdict(checked)
    elapsed = ctx.clock.time() - start
    return _finish(ctx, options, committed, checked, verdict, kube=kube, elapsed=elapsed)


def _finish(
    ctx: StepContext,
    options: Options,
    committed: Committed,
    checked: list[Checked],
    verdict: str,
    *,
    kube: Kube,
    elapsed: float,
) -> StepResult:
    found = evidence.gather_evidence(kube, checked) if verdict != "healthy" else {}
    data = evidence.as_json(committed, checked, verdict, found, elapsed=elapsed)
    summary = evidence.markdown(committed, checked, verdict, found)
    if options.report_dir:
        evidence.write(options.report_dir, data, summary, checked, found)
    outputs = {
        "verify_verdict": verdict,
        "verified_commit": committed.commit if verdict == "healthy" else "",
    }
    where = f"{committed.env}/{', '.join(committed.apps)} at {committed.commit[:12]}"
    if verdict == "healthy":
        _mark_verified(ctx, committed)
        return StepResult.passed(
            f"healthy: {where} ({elapsed:.1f}s)", data=data, outputs=outputs, summary=summary
        )
    for line in evidence.failure_lines(checked, found):
        ctx.out.error(line) if line.startswith("✗") else ctx.out.info(line)
    hint = evidence.namespace_hint(committed, checked)
    if hint:
        ctx.out.info(f"hint: {hint}")
    message = f"{verdict}: {where}"
    if options.rollback_on_failure:
        data = {**data, "rollback": _rollback(ctx, committed)}
        message += "; rollback requested (see above)"
    return StepResult.failed(message, data=data, outputs=outputs, summary=summary)


def _mark_verified(ctx: StepContext, committed: Committed) -> None:
    """Tag the env-repo commit as verified (no new commit), so rollback can find it."""
    for app in committed.apps:
        try:
            checkout.mark_verified(
                committed.url,
                branch=committed.branch,
                env=committed.env,
                app=app,
                commit=committed.commit,
            )
        except CiPluginsError as exc:
            ctx.out.warn(f"verified healthy, but recording it in the env repo failed: {exc}")
            continue
        ctx.out.info(
            f"recorded: tag ci-plugins/verified/{committed.env}/{app}/{committed.commit[:12]}..."
        )


def _rollback(ctx: StepContext, committed: Committed) -> list[dict[str, object]]:
    target = target_of(ctx, env_repo=committed.url, app=None, need_app=False)
    results: list[dict[str, object]] = []
    for app in committed.apps:
        ctx.out.info(f"--rollback-on-failure: rolling back {committed.env}/{app}")
        try:
            result = rollback.rollback(ctx, target, env=committed.env, app=app)
        except CiPluginsError as exc:
            ctx.out.error(f"rollback of {committed.env}/{app} failed: {exc}", hint=exc.hint)
            results.append({"app": app, "ok": False, "message": str(exc)})
            continue
        (ctx.out.info if result.ok else ctx.out.error)(f"rollback: {result.message}")
        results.append({"app": app, "ok": result.ok, "message": result.message, **result.as_json()})
    return results


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--env", metavar="ENV", required=True, help="environment to verify")
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--app", metavar="APP", help="only this app (default: the config's app)")
    p.flag("--kubeconfig", type=Path, metavar="FILE", help="default: KUBECONFIG")
    p.flag(
        "--timeout",
        type=duration_argument,
        metavar="SECONDS",
        help="give up after this long (seconds, or e.g. 90s, 5m, 1h; at most 7d)",
    )
    p.flag("--report-dir", type=Path, metavar="DIR", help="write Markdown, JUnit, JSON reports")
    p.flag(
        "--rollback-on-failure",
        action="store_true",
        help="on failure or timeout, roll the environment back (exit 1 either way)",
    )
