"""The "m of the last n windows" rule: ok, degraded, or no-data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ci_plugins.config.models import ViolationRule
from ci_plugins.monitor.windows import Window

Verdict = Literal["ok", "degraded", "no-data"]


def decide(windows: Sequence[Window], rule: ViolationRule) -> Verdict:
    """degraded when at least m windows break a bound; no-data when no window has a reading
    for every metric (and fewer than m break); ok otherwise."""
    violated = sum(1 for window in windows if window.status == "violated")
    if violated >= rule.m:
        return "degraded"
    if all(window.status == "no-data" for window in windows):
        return "no-data"
    return "ok"


def reason(windows: Sequence[Window], rule: ViolationRule, *, window_text: str) -> str:
    """One line for the triggered pipeline: which metrics broke which bound, how often."""
    broken: dict[str, list[str]] = {}
    for window in windows:
        for reading in window.readings:
            if reading.status == "violated" and reading.value is not None:
                bound = (
                    f"< min {reading.min:g}"
                    if reading.min is not None and reading.value < reading.min
                    else f"> max {reading.max:g}"
                )
                broken.setdefault(reading.metric, []).append(f"{reading.value:.4g} {bound}")
    violated = sum(1 for window in windows if window.status == "violated")
    parts = [f"{metric} {', '.join(values)}" for metric, values in sorted(broken.items())]
    return (
        f"{violated} of the last {rule.n} windows of {window_text} broke a bound "
        f"(rule: {rule.m} of {rule.n}): " + "; ".join(parts)
    )
