"""Measure what runs in an environment now: live TF Serving metrics, with generated load.

The performance test of a deployed model (e.g. in staging before promotion to prod):
with `analysis.load`, hey sends the golden requests at a constant rate through the API
server's service proxy for the warm-up plus --duration (default analysis.window); then
the built-in and custom queries run in Prometheus over that window, for the candidate
and the stable track while a canary runs, else for all of the app's pods. Exit 0 passed,
1 failed or inconclusive, 2 bad input (config, golden file, a query Prometheus cannot
parse), 3 Prometheus, the cluster or hey failed. Writes nothing to the environment repo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_plugins.adapters import hey
from ci_plugins.analysis import evaluate, report
from ci_plugins.analysis.evaluate import Analysis
from ci_plugins.analysis.golden import read_golden_requests
from ci_plugins.config.models import AnalysisConfig, Config
from ci_plugins.config.names import check_app, check_env
from ci_plugins.errors import InputError
from ci_plugins.reports import to_json, write_reports
from ci_plugins.rollout import load
from ci_plugins.step import Flags, StepContext, StepResult


@dataclass(frozen=True)
class Options:
    env: str
    env_repo: str | None = None
    app: str | None = None
    kubeconfig: Path | None = None
    prometheus: str | None = None
    duration: float | None = None
    report_dir: Path | None = None
    if_configured: bool = False


@dataclass(frozen=True)
class _Plan:
    env: str
    app: str
    namespace: str
    url: str
    window: float
    bodies: list[str]


def run(ctx: StepContext, options: Options) -> StepResult:
    """One analysis of the environment's app over one window (module docstring)."""
    config = ctx.config()
    if options.if_configured and config.analysis is None:
        return StepResult.passed(
            "ci-plugins.yaml has no analysis: section; nothing to measure",
            data={"verdict": "none", "environment": check_env(options.env), "steps": []},
            outputs={"analysis_verdict": "none"},
        )
    analysis = _analysis_section(config)
    plan = _plan(ctx, options, config, analysis)
    evaluate.preflight(
        plan.url,
        analysis,
        namespace=plan.namespace,
        app=plan.app,
        window=plan.window,
        clock=ctx.clock,
    )
    load = _generate_load(ctx, options, config, analysis, plan) if plan.bodies else None
    end = time.time()
    judged, stable = evaluate.find_tracks(
        plan.url,
        namespace=plan.namespace,
        app=plan.app,
        window=plan.window,
        end=end,
        clock=ctx.clock,
    )
    result = evaluate.analyse(
        plan.url,
        analysis,
        judged=judged,
        stable=stable,
        window=plan.window,
        end=end,
        load=load,
        clock=ctx.clock,
    )
    return _result(options, plan, result)


def _plan(ctx: StepContext, options: Options, config: Config, analysis: AnalysisConfig) -> _Plan:
    env, app = check_env(options.env), check_app(options.app or config.app)
    namespace = config.environment(env).namespace or "default"
    url = options.prometheus or analysis.prometheus
    if not url:
        raise InputError(
            "no Prometheus to read the live metrics from",
            hint="set analysis.prometheus in ci-plugins.yaml, or --prometheus / "
            "CI_PLUGINS_PROMETHEUS",
        )
    window = analysis.window if options.duration is None else options.duration
    if not window > 0:
        raise InputError(f"--duration must be positive seconds, got {options.duration:g}")
    needs_load = evaluate.load_metrics_used(analysis)
    if needs_load and analysis.load is None:
        raise InputError(
            f"analysis.metrics names {', '.join(needs_load)}, figures of the generated "
            "load, but analysis.load is not set",
            hint="add analysis.load: {rate: N, requests: FILE}, or drop those metrics",
        )
    bodies: list[str] = []
    if analysis.load is not None:
        bodies = read_golden_requests(ctx.config_path.parent / analysis.load.requests)
    return _Plan(env, app, namespace, url, window, bodies)


def _generate_load(
    ctx: StepContext, options: Options, config: Config, analysis: AnalysisConfig, plan: _Plan
) -> hey.LoadResult:
    return load.send_load(
        ctx,
        config,
        analysis,
        repo=options.env_repo or config.env_repo.url,
        env=plan.env,
        app=plan.app,
        kubeconfig=options.kubeconfig,
        bodies=plan.bodies,
        duration=plan.window,
    )


def _result(options: Options, plan: _Plan, analysis: Analysis) -> StepResult:
    title = f"{plan.app} in {plan.env}"
    label = f"{analysis.judged} vs stable" if "stable" in analysis.tracks else analysis.judged
    steps = [(label, analysis)]
    step: dict[str, Any] = {"weight": None, **analysis.as_json()}
    data: dict[str, Any] = {
        "verdict": analysis.verdict,
        "environment": plan.env,
        "app": plan.app,
        "steps": [step],
    }
    summary = report.markdown(steps, title=title, verdict=analysis.verdict)
    if options.report_dir:
        write_reports(
            options.report_dir,
            {
                "analysis-report.md": summary,
                "analysis-junit.xml": report.junit(steps),
                "analysis-report.json": to_json({"command": "analyze", **data}),
            },
        )
    outputs = {"analysis_verdict": analysis.verdict}
    if analysis.verdict == "passed":
        return StepResult.passed(
            f"{title}: analysis passed", data=data, outputs=outputs, summary=summary
        )
    why = "; ".join(analysis.why)
    if analysis.value("requests", analysis.judged) is None:
        why += (
            f" (Prometheus has no request samples of pods labelled namespace={plan.namespace}, "
            f"app_kubernetes_io_instance={plan.app}: check that the pods are scraped and that "
            "the environment's namespace is right)"
        )
    return StepResult.failed(
        f"{title}: analysis {analysis.verdict}: {why}", data=data, outputs=outputs, summary=summary
    )


def _analysis_section(config: Config) -> AnalysisConfig:
    if config.analysis is None:
        raise InputError(
            "ci-plugins.yaml has no analysis: section: nothing to measure the model by",
            hint="add analysis: with prometheus, window and metrics; see docs/analysis.md",
        )
    return config.analysis


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--env", metavar="ENV", required=True, help="environment whose running model to measure")
    p.flag("--env-repo", metavar="URL", help="environment repo, for the load's Service")
    p.flag("--app", metavar="APP", help="app to measure (default: the config's app)")
    p.flag("--kubeconfig", type=Path, metavar="FILE", help="default: KUBECONFIG")
    p.flag("--prometheus", metavar="URL", help="Prometheus (default: analysis.prometheus)")
    p.flag("--duration", type=float, metavar="S", help="window seconds (default: analysis.window)")
    p.flag("--report-dir", type=Path, metavar="DIR", help="write Markdown, JUnit, JSON reports")
    p.flag(
        "--if-configured",
        action="store_true",
        help="exit 0 (verdict none) when ci-plugins.yaml has no analysis: section, "
        "instead of 2: for pipelines that run analyze before every prod promotion",
    )
