"""The monitor's reports: a Markdown table (windows, values, bounds, decision) and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ci_plugins.monitor.windows import Reading, Window
from ci_plugins.reports import markdown_table

ICONS = {"ok": "✅ ok", "violated": "❌ violated", "no-data": "⚠️ no data"}


def render_markdown(windows: Sequence[Window], *, title: str, verdict: str, decision: str) -> str:
    """One row per window and metric, newest window first, then the decision."""
    icon = {"ok": "✅", "degraded": "❌", "no-data": "⚠️"}.get(verdict, "")
    lines = [f"### {icon} ci-plugins monitor: {title}: {verdict}", ""]
    rows = [
        [
            str(window.index),
            f"{_time(window.start)} – {_time(window.end)}",
            reading.metric,
            _value(reading),
            _bounds(reading),
            ICONS[reading.status],
        ]
        for window in windows
        for reading in window.readings
    ]
    lines.append(markdown_table(["window", "UTC", "metric", "value", "bounds", "status"], rows))
    lines += ["", f"Decision: {decision}"]
    return "\n".join(lines) + "\n"


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _value(reading: Reading) -> str:
    return "no samples" if reading.value is None else f"{reading.value:.4g}"


def _bounds(reading: Reading) -> str:
    parts = []
    if reading.min is not None:
        parts.append(f"≥ {reading.min:g}")
    if reading.max is not None:
        parts.append(f"≤ {reading.max:g}")
    return ", ".join(parts)
