"""Judge the live model in an environment and, when it degrades, start retraining once.

Reads the release recorded in the environment repo, evaluates `monitor.metrics` over the
last n windows in Prometheus and applies "m of n". Degraded and outside the cooldown: a
decision tag is claimed in the environment repo, then the training pipeline is started
with CI_PLUGINS_TRIGGER_* variables saying why. Exit 0 ok or triggered; 1 degraded but
not triggered (cooldown, or another run triggered first) or no data; 2 bad input; 3
Prometheus, git or the CI system unreachable.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ci_plugins.adapters import pipeline_trigger, prometheus
from ci_plugins.config.models import Config, MonitorConfig, TriggerConfig
from ci_plugins.config.names import check_app, check_env
from ci_plugins.envrepo.checkout import EnvRepoCheckout, app_path, checkout
from ci_plugins.envrepo.record import ReleaseRecord
from ci_plugins.envrepo.target import target_of
from ci_plugins.errors import CiPluginsError, InputError
from ci_plugins.monitor import decision as decisions
from ci_plugins.monitor import report
from ci_plugins.monitor.rule import Verdict, decide, reason
from ci_plugins.monitor.windows import Window, promql_duration, read_windows
from ci_plugins.reports import to_json, write_reports
from ci_plugins.step import Flags, StepContext, StepResult


@dataclass(frozen=True)
class Options:
    env: str
    env_repo: str | None = None
    app: str | None = None
    prometheus: str | None = None
    at: str | None = None
    report_dir: Path | None = None


@dataclass(frozen=True)
class _Judgement:
    env: str
    app: str
    record: ReleaseRecord
    windows: list[Window]
    verdict: Verdict
    why: str


def run(ctx: StepContext, options: Options) -> StepResult:
    """Evaluate the windows; trigger retraining once when degraded (module docstring)."""
    config = ctx.config()
    monitor = _monitor_section(config)
    trigger = _trigger_section(monitor)
    env, app = check_env(options.env), check_app(options.app or config.app)
    url = _prometheus_url(options, config, monitor)
    end = _end_time(options.at)
    creds = pipeline_trigger.credentials(trigger, ctx.out.environ)
    _check_retention(url, monitor, ctx)
    where = target_of(ctx, env_repo=options.env_repo, app=app, need_app=True)
    with checkout(where.url, branch=where.branch, sparse=[app_path(env, app)]) as repo:
        record = repo.read_release(env, app)
        if record is None:
            raise InputError(
                f"{env} has no release of {app} in {where.url}: nothing runs there to monitor",
                hint=f"promote a release into {env} first, or check --env and --app",
            )
        windows = read_windows(
            url,
            monitor.metrics,
            window=monitor.window,
            count=monitor.violations.n,
            end=end,
            labels={"app": app, "env": env, "model_version": record.model.version},
            clock=ctx.clock,
        )
        verdict = decide(windows, monitor.violations)
        why = reason(windows, monitor.violations, window_text=promql_duration(monitor.window))
        judged = _Judgement(env, app, record, windows, verdict, why)
        if verdict != "degraded":
            return _result(ctx, options, judged, triggered=None, note=_not_degraded(judged))
        return _act(ctx, options, repo, judged, monitor, trigger, creds)


def _act(
    ctx: StepContext,
    options: Options,
    repo: EnvRepoCheckout,
    judged: _Judgement,
    monitor: MonitorConfig,
    trigger: TriggerConfig,
    creds: pipeline_trigger.Credentials,
) -> StepResult:
    env, app = judged.env, judged.app
    for _ in range(2):  # a lost race is read again once: the winner's record is then there
        latest = decisions.latest_decision(repo, env, app)
        now = time.time()
        if latest is not None and now - latest.decided_at < monitor.cooldown:
            return _result(ctx, options, judged, triggered=None, note=_cooling(latest, monitor))
        decision = decisions.Decision(
            number=(latest.number + 1) if latest else 1,
            decided_at=now,
            reason=judged.why,
            model_version=judged.record.model.version,
            trigger=_trigger_json(trigger),
        )
        if decisions.claim(repo, env, app, decision):
            break
        ctx.out.info("another monitor run recorded a decision first; reading it")
    else:  # pragma: no cover - two lost races in a row
        return _result(ctx, options, judged, triggered=None, note="another run triggered first")
    variables = _variables(judged, decision, trigger.variables)
    try:
        started = pipeline_trigger.start_pipeline(
            trigger, creds, variables, environ=ctx.out.environ, clock=ctx.clock
        )
    except CiPluginsError:
        _withdraw(ctx, repo, judged, decision.number)
        raise
    return _result(ctx, options, judged, triggered=started, note="")


def _withdraw(ctx: StepContext, repo: EnvRepoCheckout, judged: _Judgement, number: int) -> None:
    """The pipeline did not start: take our decision back, so the next run tries again."""
    tag = decisions.tag_name(judged.env, judged.app, number)
    try:
        decisions.withdraw(repo, judged.env, judged.app, number)
    except CiPluginsError as exc:  # keep the trigger's error, which says what to fix
        ctx.out.warn(f"could not delete the decision record {tag} ({exc}); delete it by hand")
        return
    ctx.out.warn(f"the pipeline did not start; the decision record {tag} was withdrawn")


def _result(
    ctx: StepContext,
    options: Options,
    judged: _Judgement,
    *,
    triggered: pipeline_trigger.Triggered | None,
    note: str,
) -> StepResult:
    pipeline = triggered.url if triggered else None
    if triggered is not None:
        message = f"{judged.app} in {judged.env} degraded; started retraining: {judged.why}"
        if pipeline:
            message += f" ({pipeline})"
    else:
        message = note
    data: dict[str, Any] = {
        "verdict": judged.verdict,
        "triggered": triggered is not None,
        "pipeline": pipeline,
        "environment": judged.env,
        "app": judged.app,
        "model_version": judged.record.model.version,
        "reason": judged.why if judged.verdict == "degraded" else None,
        "windows": [window.as_json() for window in judged.windows],
    }
    title = f"{judged.app} in {judged.env} (model {judged.record.model.version})"
    summary = report.render_markdown(
        judged.windows, title=title, verdict=judged.verdict, decision=message
    )
    if options.report_dir:
        write_reports(
            options.report_dir,
            {
                "monitor-report.md": summary,
                "monitor-report.json": to_json({"command": "monitor", **data}),
            },
        )
    outputs = {"monitor_verdict": judged.verdict, "monitor_triggered": str(triggered is not None)}
    ok = judged.verdict == "ok" or triggered is not None
    make = StepResult.passed if ok else StepResult.failed
    return make(message, data=data, outputs=outputs, summary=summary)


def _variables(
    judged: _Judgement, decision: decisions.Decision, extra: Mapping[str, str]
) -> dict[str, str]:
    """What the retraining pipeline is told; its reports show them (docs/monitor.md)."""
    return {
        **extra,
        "CI_PLUGINS_TRIGGERED_BY": "monitor",
        "CI_PLUGINS_TRIGGER_REASON": f"{judged.app} in {judged.env}: {judged.why}",
        "CI_PLUGINS_TRIGGER_ENV": judged.env,
        "CI_PLUGINS_TRIGGER_RECORD": decisions.tag_name(judged.env, judged.app, decision.number),
    }


def _not_degraded(judged: _Judgement) -> str:
    where = f"{judged.app} in {judged.env}"
    empty = sum(1 for window in judged.windows if window.status == "no-data")
    if judged.verdict == "no-data":
        return (
            f"no data: none of the last {len(judged.windows)} windows has samples for every "
            f"monitor metric of {where}; nothing triggered (check the queries and that "
            "the delayed-label job and scraping run)"
        )
    gaps = f" ({empty} window(s) without data)" if empty else ""
    return f"{where} is ok{gaps}; nothing triggered"


def _cooling(latest: decisions.Decision, monitor: MonitorConfig) -> str:
    until = datetime.fromtimestamp(latest.decided_at + monitor.cooldown, UTC)
    return (
        f"degraded, but not triggered: retraining was started at {latest.when} "
        f"(decision {latest.number}: {latest.reason}); the cooldown lasts until "
        f"{until.isoformat(timespec='seconds')}"
    )


def _trigger_json(trigger: TriggerConfig) -> dict[str, Any]:
    fields: Sequence[str] = ("forge", "project", "repo", "workflow", "url", "job", "ref")
    return {name: getattr(trigger, name) for name in fields if getattr(trigger, name)}


def _monitor_section(config: Config) -> MonitorConfig:
    if config.monitor is None or not config.monitor.metrics:
        raise InputError(
            "ci-plugins.yaml has no monitor.metrics: nothing to judge the live model by",
            hint="add a monitor: section with metrics (query + min/max); see docs/monitor.md",
        )
    return config.monitor


def _trigger_section(monitor: MonitorConfig) -> TriggerConfig:
    if monitor.trigger is None:
        raise InputError(
            "ci-plugins.yaml has no monitor.trigger: nothing to start when the model degrades",
            hint="add monitor.trigger (forge: gitlab, github or jenkins); see docs/monitor.md",
        )
    return monitor.trigger


def _prometheus_url(options: Options, config: Config, monitor: MonitorConfig) -> str:
    # One Prometheus for monitor and canary analysis: analysis.prometheus is the fallback.
    analysis = config.analysis.prometheus if config.analysis else None
    url = options.prometheus or monitor.prometheus or analysis
    if not url:
        raise InputError(
            "no Prometheus to read the live metrics from",
            hint="set monitor.prometheus (or analysis.prometheus) in ci-plugins.yaml, or "
            "--prometheus / CI_PLUGINS_PROMETHEUS",
        )
    return url


def _end_time(at: str | None) -> float:
    """--at: unix seconds or an ISO 8601 time (default: now)."""
    if not at:
        return time.time()
    try:
        return float(at)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise InputError(
            f"--at {at!r} is not a time: use unix seconds or ISO 8601 (2026-12-01T20:00:00Z)"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _check_retention(url: str, monitor: MonitorConfig, ctx: StepContext) -> None:
    span = monitor.window * monitor.violations.n
    kept = prometheus.retention_seconds(url, clock=ctx.clock)
    if kept is not None and span > kept:
        raise InputError(
            f"monitor looks back {promql_duration(span)} ({monitor.violations.n} windows of "
            f"{promql_duration(monitor.window)}), but Prometheus at {url} keeps only "
            f"{promql_duration(kept)} of data",
            hint="shorten monitor.window or monitor.violations.n, or raise "
            "--storage.tsdb.retention.time",
        )


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--env", metavar="ENV", required=True, help="environment whose live model to judge")
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--app", metavar="APP", help="app to judge (default: the config's app)")
    p.flag("--prometheus", metavar="URL", help="Prometheus (default: monitor.prometheus)")
    p.flag("--at", metavar="TIME", help="judge the windows ending then (unix or ISO; default: now)")
    p.flag("--report-dir", type=Path, metavar="DIR", help="write Markdown and JSON reports")
