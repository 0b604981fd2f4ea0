"""Analysis reports: Markdown (a table per step, judged track vs stable), JUnit, JSON."""

from __future__ import annotations

from collections.abc import Sequence

from ci_plugins.analysis.evaluate import Analysis
from ci_plugins.analysis.judge import Check
from ci_plugins.reports import TestCase, junit_xml, markdown_table

ICONS = {"passed": "✅", "failed": "❌", "inconclusive": "⚠️", "skipped": "➖"}


def markdown(steps: Sequence[tuple[str, Analysis]], *, title: str, verdict: str) -> str:
    """One table per step (label, analysis): metric, values per track, bound, status."""
    lines = [f"### {ICONS.get(verdict, '')} ci-plugins analysis: {title}: {verdict}", ""]
    for label, analysis in steps:
        lines += [f"#### {label}: {ICONS[analysis.verdict]} {analysis.verdict}", ""]
        tracks = list(analysis.tracks)
        rows = [[name, *_cells(analysis, name, tracks)] for name in _metric_names(analysis)]
        lines.append(markdown_table(["metric", *tracks, "bounds", "status"], rows))
        if analysis.why:
            lines += ["", *[f"- {reason}" for reason in analysis.why]]
        lines += [
            "",
            f"Window {analysis.window:g}s; {analysis.queries_run} Prometheus queries; "
            f"decided {analysis.decided_after:.1f}s after the window closed.",
            "",
            "<details><summary>queries</summary>",
            "",
            *[f"- `{r.metric}` ({r.track}): `{r.query}`" for r in analysis.readings],
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def junit(steps: Sequence[tuple[str, Analysis]]) -> str:
    """A testcase per check (skipped ones pass with their reason)."""
    cases = [_case(label, check) for label, analysis in steps for check in analysis.checks]
    cases += [
        TestCase(f"analysis.{label}", "enough requests", failure=reason)
        for label, analysis in steps
        for reason in analysis.why
        if "min_requests" in reason
    ]
    return junit_xml("ci-plugins analysis", cases)


def _case(label: str, check: Check) -> TestCase:
    name = f"{check.metric} {check.rule} {check.bound:g}"
    if check.status in ("passed", "skipped"):
        return TestCase(f"analysis.{label}", name, details=check.reason)
    return TestCase(f"analysis.{label}", name, failure=f"{check.status}: {check.reason}")


def _metric_names(analysis: Analysis) -> list[str]:
    return list(dict.fromkeys(reading.metric for reading in analysis.readings))


def _cells(analysis: Analysis, metric: str, tracks: Sequence[str]) -> list[str]:
    values = [_value(analysis.value(metric, track)) for track in tracks]
    checks = [check for check in analysis.checks if check.metric == metric]
    bounds = ", ".join(_bound(check) for check in checks) or "(not judged)"
    status = " ".join(f"{ICONS[c.status]} {c.reason}" for c in checks)
    return [*values, bounds, status]


def _bound(check: Check) -> str:
    sign = {"min": "≥", "max": "≤"}.get(check.rule)
    return f"{sign} {check.bound:g}" if sign else f"≤ {check.bound:g} × stable"


def _value(value: float | None) -> str:
    return "no data" if value is None else f"{value:.4g}"
