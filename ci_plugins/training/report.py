"""train-report.md: what a human wants to know about a training run, on one screen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ci_plugins.reports import markdown_table
from ci_plugins.training.progress import format_duration, format_metric
from ci_plugins.training.trials import SearchRecord, trial_table


def training_report(
    *,
    app: str,
    verdict: str,
    facts: Mapping[str, str],
    metrics: Mapping[str, float],
    history: Sequence[Mapping[str, float]],
    search: SearchRecord | None = None,
) -> str:
    """Markdown: verdict, facts, test metrics, the search's trial table, epoch table."""
    lines = [f"## ci-plugins train: {app} ({verdict})", ""]
    lines += [f"- **{key}**: {value}" for key, value in facts.items()]
    if metrics:
        lines += ["", "### Evaluation", ""]
        rows = [[name, format_metric(value)] for name, value in metrics.items()]
        lines.append(markdown_table(["metric", "value"], rows))
    if search is not None:
        lines += ["", trial_table(search).rstrip("\n")]
    if history:
        keys = [k for k in history[-1] if k not in ("epoch", "seconds")]
        lines += ["", "### Epochs", ""]
        rows = [_epoch_row(entry, keys) for entry in history]
        lines.append(markdown_table(["epoch", *keys, "time"], rows))
    return "\n".join(lines) + "\n"


def _epoch_row(entry: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    values = [format_metric(float(entry[k])) if k in entry else "" for k in keys]
    return [str(int(entry["epoch"])), *values, format_duration(float(entry.get("seconds", 0)))]
