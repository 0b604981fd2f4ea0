"""Gate on evaluation metrics: absolute bounds and no regression.

Absolute bounds from the policy, and no regression against the baseline: the metrics of
what runs now (--baseline FILE, or the release recorded for --env in the env repo).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from ci_plugins import ci_system as ci_vars
from ci_plugins.config.models import GatePolicy, load_policy
from ci_plugins.errors import InputError
from ci_plugins.gate.rules import Check, evaluate, non_numeric
from ci_plugins.model.metrics import Baseline, read_baseline, read_metrics
from ci_plugins.reports import TestCase, junit_xml, markdown_table, to_json, write_reports
from ci_plugins.step import Flags, StepContext, StepResult


@dataclass(frozen=True)
class NoBaseline:
    """Why there is nothing to compare with: none requested, or none recorded yet."""

    note: str  # each baseline check's note
    requested: bool


NOT_REQUESTED = NoBaseline("not compared: no baseline requested", requested=False)


@dataclass(frozen=True)
class Options:
    metrics: Path
    policy: Path | None = None
    baseline: Path | None = None
    report_dir: Path | None = None
    advisory: bool = False
    env_repo: str | None = None
    env: str | None = None
    baseline_first_env: bool = False


def run(ctx: StepContext, options: Options) -> StepResult:
    """Pass when metrics meet the policy and do not regress from the baseline."""
    if options.baseline_first_env and not (options.env or options.baseline):
        options = replace(options, env=_first_env(ctx))
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
    found = _baseline(ctx, options)
    baseline = found if isinstance(found, Baseline) else None
    missing = found if isinstance(found, NoBaseline) else None
    checks = evaluate(
        policy,
        metrics,
        baseline=baseline.metrics if baseline else None,
        no_baseline_note=missing.note if missing else "",
    )
    if missing is not None and not missing.requested and policy.baseline:
        ctx.out.warn(unrequested_warning(policy))
    failed = [check for check in checks if not check.passed]
    verdict = "failed" if failed else "passed"
    cause = ci_vars.trigger_cause(ctx.out.environ)
    data = {
        "verdict": verdict,
        "advisory": options.advisory,
        "baseline": baseline.source if baseline else None,
        "baseline_missing": missing.note if missing else None,
        "checks": [check.as_json() for check in checks],
        "metrics": metrics,
        "triggered_by": cause,
    }
    summary = render_markdown(
        checks,
        verdict=verdict,
        baseline=found,
        advisory=options.advisory,
        policy=policy,
        cause=cause,
    )
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
    if missing is not None and policy.baseline:
        message += f" (baseline: {missing.note})"
    if failed and not options.advisory:
        return StepResult.failed(message, data=data, outputs=outputs, summary=summary)
    return StepResult.passed(message, data=data, outputs=outputs, summary=summary)


def _baseline(ctx: StepContext, options: Options) -> Baseline | NoBaseline:
    # --env selects the environment repo's record; --env-repo alone (CI_PLUGINS_ENV_REPO
    # set for the whole pipeline) does not.
    if not options.env:
        return read_baseline(options.baseline) if options.baseline else NOT_REQUESTED
    if options.baseline:
        raise InputError(
            "--baseline and --env both name a baseline; pass only one",
            hint="--env ENV reads the release recorded in the environment repo",
        )
    return _env_baseline(ctx, options, options.env)


def _first_env(ctx: StepContext) -> str:
    """The first environment of the config (where a pipeline deploys first)."""
    environments = list(ctx.config().environments)
    if not environments:
        raise InputError(
            f"--baseline-first-env: {ctx.config_path} defines no environments",
            hint="add them under 'environments:' or name the baseline with --env ENV",
        )
    return environments[0]


def _env_baseline(ctx: StepContext, options: Options, env: str) -> Baseline | NoBaseline:
    """The metrics of the release the environment repo records for the config's app."""
    from ci_plugins.envrepo import checkout
    from ci_plugins.envrepo.target import env_repo_url

    config = ctx.optional_config()
    url = env_repo_url(options.env_repo, config, purpose=f" to read {env}'s baseline from")
    if config is None:
        raise InputError(
            f"reading the baseline from {url} needs the app: {ctx.config_path} does not exist"
        )
    path = checkout.app_path(env, config.app)
    with checkout.checkout(url, branch=config.env_repo.branch, sparse=[path]) as repo:
        record = repo.read_release(env, config.app)
        where = f"{repo.url} at {repo.head[:12]}"
    if record is None:
        ctx.out.info(f"{env} records no release of {config.app} yet ({where})")
        return NoBaseline(
            f"{env} has no release of {config.app} yet (first release)", requested=True
        )
    source = f"release {record.model.version} recorded in {env} ({where})"
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


def unrequested_warning(policy: GatePolicy) -> str:
    """The loud line for baseline rules that nothing was compared with."""
    rules = ", ".join(sorted(policy.baseline))
    return (
        f"no baseline requested: the policy has baseline rules ({rules}) but neither --env "
        "nor --baseline was given, so the model was NOT compared with what runs; pass "
        "--env ENV (the templates' baseline-env input) or --baseline FILE"
    )


def _baseline_line(baseline: Baseline | NoBaseline, policy: GatePolicy) -> str:
    if isinstance(baseline, Baseline):
        return f"Baseline: {baseline.source}."
    if baseline.requested:
        return f"Baseline: {baseline.note}; baseline rules pass."
    if policy.baseline:
        return f"> ⚠️ **Not compared with what runs**: {unrequested_warning(policy)}."
    return "Baseline: none requested (the policy has no baseline rules)."


def render_markdown(
    checks: list[Check],
    *,
    verdict: str,
    baseline: Baseline | NoBaseline,
    advisory: bool,
    policy: GatePolicy,
    cause: dict[str, str] | None = None,
) -> str:
    """The table a reviewer wants in the merge request: value, bound, baseline, delta, result."""
    icon = "✅" if verdict == "passed" else ("⚠️" if advisory else "❌")
    lines = [f"### {icon} ci-plugins gate {verdict}" + (" (advisory)" if advisory else ""), ""]
    if cause:  # a retraining started by `ci-plugins monitor` (#13)
        why = cause["reason"] or "no reason given"
        record = f" (decision `{cause['record']}`)" if cause["record"] else ""
        lines += [f"Triggered by the {cause['by']}: {why}{record}.", ""]
    lines.append(_baseline_line(baseline, policy))
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


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--metrics", type=Path, metavar="FILE", required=True, help="metrics.json from train")
    p.flag("--policy", type=Path, metavar="FILE", help="policy file (default: gate: in config)")
    p.flag(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="metrics.json or release.yaml of what runs now",
    )
    p.flag("--env-repo", metavar="URL", help="baseline: the release recorded in this repo...")
    p.flag("--env", metavar="ENV", help="... for this environment (not with --baseline)")
    p.flag(
        "--baseline-first-env",
        action="store_true",
        help="without --env or --baseline: the baseline is the release recorded in the "
        "config's first environment (pipeline templates)",
    )
    p.flag("--report-dir", type=Path, metavar="DIR", help="write Markdown, JUnit, JSON reports")
    p.flag("--advisory", action="store_true", help="report only; never fail the job")
