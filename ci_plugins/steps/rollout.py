"""Drive a canary through its steps, each step a commit in the environment repo.

For each step of `environments.<env>.rollout.steps` from the one release.yaml records:
wait until the cluster runs that step's commit and it is healthy (verify's rules, both
tracks), run the analysis over one window (candidate against stable; with
`analysis.load`, hey sends the golden requests meanwhile), then: passed -> commit the
next weight, and after the last (100) one commit makes the candidate the stable release;
failed or unhealthy -> one commit removes the candidate and pins the app (exit 1);
inconclusive or timed out -> no commit, the environment stays at its step (exit 1; a
re-run continues there). Exit 0 promoted or no canary running, 2 bad input, 3
Prometheus, the cluster or the env repo failed (nothing is committed when Prometheus is
unreachable at the start).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_plugins import ci_system
from ci_plugins.analysis import evaluate, queries, report
from ci_plugins.analysis.evaluate import Analysis
from ci_plugins.analysis.golden import read_golden_requests
from ci_plugins.config.durations import duration_argument
from ci_plugins.config.models import AnalysisConfig, Config
from ci_plugins.envrepo.checkout import app_path, checkout
from ci_plugins.envrepo.publish import Change, push_change
from ci_plugins.envrepo.record import Canary
from ci_plugins.envrepo.target import env_repo_url
from ci_plugins.errors import InputError
from ci_plugins.reports import to_json, write_reports
from ci_plugins.rollout import changes, drive, health, load
from ci_plugins.step import Flags, StepContext, StepResult


@dataclass(frozen=True)
class Options:
    env: str
    env_repo: str | None = None
    kubeconfig: Path | None = None
    prometheus: str | None = None
    timeout: float | None = None
    report_dir: Path | None = None
    if_canary: bool = False


@dataclass(frozen=True)
class _Plan:
    env: str
    app: str
    namespace: str
    url: str  # the env repo
    prometheus: str
    analysis: AnalysisConfig
    bodies: list[str]
    timeout: float


def run(ctx: StepContext, options: Options) -> StepResult:
    """Drive the environment's canary (module docstring)."""
    config = ctx.config()
    env = ctx.environment(options.env)
    strategy = config.environment(env).rollout.strategy
    if options.if_canary and strategy != "canary":
        return StepResult.passed(
            f"{env}: rollout.strategy is {strategy}, not canary; nothing to roll out",
            data={
                "verdict": "none",
                "environment": env,
                "app": config.app,
                "steps": [],
                "commits": [],
            },
            outputs={"rollout_verdict": "none", "commit": ""},
        )
    plan = _plan(ctx, options, config)
    evaluate.preflight(
        plan.prometheus,
        plan.analysis,
        namespace=plan.namespace,
        app=plan.app,
        window=plan.analysis.window,
        clock=ctx.clock,
    )
    canary = _running_canary(config, plan)
    if canary is None:
        data = {"verdict": "none", "environment": plan.env, "app": plan.app, "steps": []}
        return StepResult.passed(
            f"{plan.env}/{plan.app}: no canary runs; nothing to roll out",
            data={**data, "commits": []},
            outputs={"rollout_verdict": "none", "commit": ""},
        )
    ctx.out.info(
        f"canary of {plan.app} {canary.release.model.version} in {plan.env} at "
        f"{canary.weight}% (steps {', '.join(map(str, canary.steps))})"
    )
    outcome = drive.drive(canary, _actions(ctx, options, config, plan, canary))
    return _result(options, plan, canary, outcome)


def _plan(ctx: StepContext, options: Options, config: Config) -> _Plan:
    env = ctx.environment(options.env)
    environment = config.environment(env)
    if environment.rollout.strategy != "canary":
        raise InputError(
            f"environments.{env}.rollout.strategy is {environment.rollout.strategy}: "
            "there are no canary steps to drive",
            hint=f"set environments.{env}.rollout: {{strategy: canary, steps: [10, 50, 100]}}",
        )
    if config.analysis is None:
        raise InputError(
            "ci-plugins.yaml has no analysis: section: nothing to judge the canary by",
            hint="add analysis: with prometheus, window and metrics; see docs/analysis.md",
        )
    prometheus = options.prometheus or config.analysis.prometheus
    if not prometheus:
        raise InputError(
            "no Prometheus to read the canary's live metrics from",
            hint="set analysis.prometheus in ci-plugins.yaml, or --prometheus / "
            "CI_PLUGINS_PROMETHEUS",
        )
    if options.timeout is not None and options.timeout <= 0:
        raise InputError(f"--timeout must be positive, got {options.timeout:g}")
    bodies: list[str] = []
    if config.analysis.load is not None:
        bodies = read_golden_requests(ctx.config_path.parent / config.analysis.load.requests)
    needs_load = evaluate.load_metrics_used(config.analysis)
    if needs_load and config.analysis.load is None:
        raise InputError(
            f"analysis.metrics names {', '.join(needs_load)}, figures of the generated "
            "load, but analysis.load is not set",
            hint="add analysis.load: {rate: N, requests: FILE}, or drop those metrics",
        )
    return _Plan(
        env=env,
        app=config.app,
        namespace=environment.namespace or env,
        url=env_repo_url(options.env_repo, config),
        prometheus=prometheus,
        analysis=config.analysis,
        bodies=bodies,
        timeout=options.timeout if options.timeout is not None else config.verify.timeout,
    )


def _running_canary(config: Config, plan: _Plan) -> Canary | None:
    sparse = [app_path(plan.env, plan.app)]
    with checkout(plan.url, branch=config.env_repo.branch, sparse=sparse) as repo:
        record = repo.read_release(plan.env, plan.app)
    if record is None:
        raise InputError(
            f"{plan.env} has no release of {plan.app} in {plan.url}",
            hint=f"promote a release to {plan.env} first",
        )
    return record.canary


def _actions(
    ctx: StepContext, options: Options, config: Config, plan: _Plan, canary: Canary
) -> drive.Actions:
    digest = canary.release.model.digest
    actor = ci_system.actor(ctx.out.environ)

    def push(change: Change) -> str | None:
        with checkout(
            plan.url, branch=config.env_repo.branch, sparse=[app_path(plan.env, plan.app)]
        ) as repo:
            outcome = push_change(
                repo,
                change,
                paths=[app_path(plan.env, plan.app)],
                clock=ctx.clock,
                out=ctx.out,
                attempts=config.env_repo.push_attempts,
            )
        if outcome.refusal:
            raise InputError(outcome.refusal)
        if outcome.commit:
            ctx.out.info(f"committed {outcome.commit[:12]}")
        return outcome.commit

    return drive.Actions(
        verify=lambda: health.verify_step(
            ctx,
            config,
            url=plan.url,
            env=plan.env,
            app=plan.app,
            kubeconfig=options.kubeconfig,
            timeout=plan.timeout,
        ),
        analyse=lambda weight: _analyse(ctx, options, config, plan, weight),
        advance=lambda weight: push(
            changes.advance(config, plan.env, plan.app, candidate_digest=digest, weight=weight)
        ),
        promote=lambda: push(
            changes.promote_candidate(config, plan.env, plan.app, candidate_digest=digest)
        ),
        abort=lambda reason: push(
            changes.abort(
                config, plan.env, plan.app, candidate_digest=digest, reason=reason, actor=actor
            )
        ),
        log=ctx.out.info,
    )


def _analyse(
    ctx: StepContext, options: Options, config: Config, plan: _Plan, weight: int
) -> Analysis:
    """One window of the step: load (or live traffic) for the window, then the verdict."""
    window = plan.analysis.window
    sent = None
    if plan.bodies:
        sent = load.send_load(
            ctx,
            config,
            plan.analysis,
            repo=plan.url,
            env=plan.env,
            app=plan.app,
            kubeconfig=options.kubeconfig,
            bodies=plan.bodies,
            duration=window,
        )
    else:
        ctx.out.info(f"step {weight}%: measuring live traffic for one window ({window:g}s)")
        ctx.clock.sleep(window)
    # At 100% the stable track has no pods left: the candidate is judged alone.
    stable = queries.stable_track(plan.namespace, plan.app) if weight < 100 else None
    result = evaluate.analyse(
        plan.prometheus,
        plan.analysis,
        judged=queries.candidate_track(plan.namespace, plan.app),
        stable=stable,
        window=window,
        end=time.time(),
        load=sent,
        clock=ctx.clock,
    )
    ctx.out.info(f"step {weight}%: analysis {result.verdict}" + _why(result))
    return result


def _why(analysis: Analysis) -> str:
    return f": {'; '.join(analysis.why)}" if analysis.why else ""


def _result(options: Options, plan: _Plan, canary: Canary, outcome: drive.Outcome) -> StepResult:
    title = f"canary of {plan.app} {canary.release.model.version} in {plan.env}"
    steps = [step.as_json() for step in outcome.steps]
    data: dict[str, Any] = {
        "verdict": outcome.verdict,
        "environment": plan.env,
        "app": plan.app,
        "candidate": canary.release.model.version,
        "steps": steps,
        "commits": outcome.commits,
    }
    tables = [(f"step {step.weight}%", step.analysis) for step in outcome.steps if step.analysis]
    summary = report.markdown(tables, title=title, verdict=outcome.verdict)
    if options.report_dir:
        write_reports(
            options.report_dir,
            {
                "rollout-report.md": summary,
                "rollout-junit.xml": report.junit(tables),
                "rollout-report.json": to_json({"command": "rollout", **data}),
            },
        )
    outputs = {"rollout_verdict": outcome.verdict, "commit": (outcome.commits or [""])[-1]}
    message = f"{title}: {outcome.verdict}: {outcome.why}"
    if outcome.verdict == "promoted":
        return StepResult.passed(message, data=data, outputs=outputs, summary=summary)
    return StepResult.failed(message, data=data, outputs=outputs, summary=summary)


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--env", metavar="ENV", required=True, help="environment whose canary to drive")
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--kubeconfig", type=Path, metavar="FILE", help="default: KUBECONFIG")
    p.flag("--prometheus", metavar="URL", help="Prometheus (default: analysis.prometheus)")
    p.flag(
        "--timeout",
        type=duration_argument,
        metavar="SECONDS",
        help="per step: give up waiting for sync and health after this long "
        "(default: verify.timeout)",
    )
    p.flag("--report-dir", type=Path, metavar="DIR", help="write Markdown, JUnit, JSON reports")
    p.flag(
        "--if-canary",
        action="store_true",
        help="exit 0 (verdict none) when the environment's rollout.strategy is not canary, "
        "instead of 2: for pipelines that run rollout after every promote",
    )
