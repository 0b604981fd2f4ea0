"""Gate on evaluation metrics: absolute bounds, and no regression against what runs now."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ci_plugins.config.models import GatePolicy, load_policy
from ci_plugins.errors import InputError
from ci_plugins.gate.rules import Check, evaluate, non_numeric
from ci_plugins.model.metrics import Baseline, read_baseline, read_metrics
from ci_plugins.reports import TestCase, junit_xml, markdown_table, to_json, write_reports
from ci_plugins.step import StepContext, StepResult


@dataclass(frozen=True)
class Options:
    metrics: Path
    policy: Path | None = None
    baseline: Path | None = None
    report_dir: Path | None = None
    advisory: bool = False
    env_repo: str | None = None
    env: str | None = None


def run(ctx: StepContext, options: Options) -> StepResult:
    """Pass when metrics meet the policy and do not regress from the baseline."""
    if options.env:
        ctx.environment(options.env)
    policy = _policy(ctx, options)
    metrics = read_metrics(options.metrics)
    problems = non_numeric(policy, metrics)
    if problems:
        count = len(problems)
        raise InputError(
            f"metrics file {options.metrics} has {count} metric"
            + (" that is" if count == 1 else "s that are")
            + " not a number, checked by the gate policy",
            problems=problems,
            hint="train writes numbers; check what wrote this metrics.json",
        )
    baseline = _baseline(ctx, options)
    checks = evaluate(policy, metrics, baseline=baseline.metrics if baseline else None)
    failed = [check for check in checks if not check.passed]
    verdict = "failed" if failed else "passed"
    data = {
        "verdict": verdict,
        "advisory": options.advisory,
        "baseline": baseline.source if baseline else None,
        "checks": [check.as_json() for check in checks],
        "metrics": metrics,
    }
    summary = render_markdown(checks, verdict=verdict, baseline=baseline, advisory=options.advisory)
    outputs = {"gate_verdict": verdict}
    if options.report_dir:
        write_reports(
            options.report_dir,
            {
                "gate-report.md": summary,
                "gate-junit.xml": junit_xml("ci-plugins gate", [_case(c) for c in checks]),
                "gate-report.json": to_json({"command": "gate", **data}),
                "metrics.txt": openmetrics(metrics, passed=not failed),
            },
        )
        outputs["gate_report"] = str(options.report_dir / "gate-report.md")
    message = _message(checks, failed, advisory=options.advisory)
    if failed and not options.advisory:
        return StepResult.failed(message, data=data, outputs=outputs, summary=summary)
    return StepResult.passed(message, data=data, outputs=outputs, summary=summary)


def _baseline(ctx: StepContext, options: Options) -> Baseline | None:
    # --env selects the environment repo's record; --env-repo alone (CI_PLUGINS_ENV_REPO
    # set for the whole pipeline) does not.
    if not options.env:
        return read_baseline(options.baseline) if options.baseline else None
    if options.baseline:
        raise InputError(
            "--baseline and --env both name a baseline; pass only one",
            hint="--env ENV reads the release recorded in the environment repo",
        )
    return _env_baseline(ctx, options)


def _env_baseline(ctx: StepContext, options: Options) -> Baseline | None:
    """The metrics of the release the environment repo records for the config's app."""
    from ci_plugins.envrepo import checkout as envrepo

    config = ctx.optional_config()
    url = options.env_repo or (config.env_repo.url if config else None)
    if not options.env or not url:
        raise InputError(
            f"no environment repo to read {options.env}'s baseline from",
            hint="pass --env-repo URL or set env_repo.url in ci-plugins.yaml",
        )
    if config is None:
        raise InputError(
            f"reading the baseline from {url} needs the app: {ctx.config_path} does not exist"
        )
    path = envrepo.app_path(options.env, config.app)
    with envrepo.checkout(url, branch=config.env_repo.branch, sparse=[path]) as repo:
        record = repo.read_release(options.env, config.app)
        where = f"{repo.url} at {repo.head[:12]}"
    if record is None:
        ctx.out.info(f"{options.env} records no release of {config.app} yet ({where})")
        return None
    source = f"release {record.model.version} recorded in {options.env} ({where})"
    return Baseline(dict(record.metrics), source)


def _policy(ctx: StepContext, options: Options) -> GatePolicy:
    if options.policy is not None:
        return load_policy(options.policy)
    config = ctx.optional_config()
    if config is None:
        raise InputError(
            f"no gate policy: {ctx.config_path} does not exist and no --policy was given",
            hint="add a 'gate:' section to ci-plugins.yaml or pass --policy FILE",
        )
    return config.gate


def _message(checks: list[Check], failed: list[Check], *, advisory: bool) -> str:
    if not checks:
        return "gate passed: the policy has no rules"
    if not failed:
        return f"gate passed: {len(checks)} checks"
    # min and max of one missing metric share one reason: say it once (#17).
    reasons = "; ".join(dict.fromkeys(_reason(check) for check in failed))
    prefix = "gate failed (advisory, not blocking)" if advisory else "gate failed"
    return f"{prefix}: {len(failed)} of {len(checks)} checks: {reasons}"


def _reason(check: Check) -> str:
    if check.note and check.value is None:
        return check.note
    return f"{check.metric} {_fmt(check.value)} breaks {_rule_text(check)}"


def _rule_text(check: Check) -> str:
    if check.rule == "min":
        return f"min {_fmt(check.bound)}"
    if check.rule == "max":
        return f"max {_fmt(check.bound)}"
    word = "drop" if check.rule == "max_drop" else "increase"
    limit = "≥" if check.rule == "max_drop" else "≤"
    if check.baseline is None:
        return f"max {word} vs baseline"
    return f"max {word} vs baseline {_fmt(check.baseline)} ({limit} {_fmt(check.bound)})"


def render_markdown(
    checks: list[Check], *, verdict: str, baseline: Baseline | None, advisory: bool
) -> str:
    """The table a reviewer wants in the merge request: value, bound, baseline, delta, result."""
    icon = "✅" if verdict == "passed" else ("⚠️" if advisory else "❌")
    lines = [f"### {icon} ci-plugins gate {verdict}" + (" (advisory)" if advisory else ""), ""]
    if baseline is None:
        lines.append("Baseline: none recorded yet (first release); baseline rules pass.")
    else:
        lines.append(f"Baseline: {baseline.source}.")
    lines.append("")
    rows = [
        [
            check.metric,
            _fmt(check.value),
            _rule_text(check),
            _fmt(check.baseline),
            _fmt(check.delta, signed=True),
            ("✅ pass" if check.passed else "❌ fail") + (f" ({check.note})" if check.note else ""),
        ]
        for check in checks
    ]
    lines.append(markdown_table(["metric", "value", "bound", "baseline", "delta", "result"], rows))
    return "\n".join(lines) + "\n"


def openmetrics(metrics: dict[str, object], *, passed: bool) -> str:
    """GitLab's metrics report: one `name value` line per numeric metric."""
    lines = []
    for name, value in sorted(metrics.items()):
        if isinstance(value, int | float) and not isinstance(value, bool):
            lines.append(f"{re.sub(r'[^a-zA-Z0-9_:]', '_', name)} {value}")
    lines.append(f"ci_plugins_gate_passed {1 if passed else 0}")
    return "\n".join(lines) + "\n"


def _case(check: Check) -> TestCase:
    name = f"{check.metric} {_rule_text(check)}"
    if check.passed:
        return TestCase("gate." + check.metric, name, details=check.note)
    return TestCase("gate." + check.metric, name, failure=_reason(check))


def _fmt(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.4g}" if signed else f"{value:.4g}"
