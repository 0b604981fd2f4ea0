"""Evaluate a gate policy against metrics and a baseline: pure decisions, no I/O."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from ci_plugins.config.models import GatePolicy

# Floating-point slack so that 0.95 - 0.01 still admits 0.94.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Check:
    """One rule applied to one metric."""

    metric: str
    rule: str  # min | max | max_drop | max_increase
    value: float | None
    bound: float | None
    passed: bool
    baseline: float | None = None
    note: str = ""

    @property
    def delta(self) -> float | None:
        if self.value is None or self.baseline is None:
            return None
        return self.value - self.baseline

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "rule": self.rule,
            "value": self.value,
            "bound": self.bound,
            "baseline": self.baseline,
            "delta": self.delta,
            "passed": self.passed,
            "note": self.note,
        }


NO_BASELINE_NOTE = "no baseline recorded yet (first release)"


def evaluate(
    policy: GatePolicy,
    metrics: dict[str, Any],
    *,
    baseline: dict[str, Any] | None,
    no_baseline_note: str = NO_BASELINE_NOTE,
) -> list[Check]:
    """Every check of the policy, in policy order: absolute bounds, then baseline rules.

    Without a baseline, baseline rules pass with no_baseline_note (why there is none)."""
    checks: list[Check] = []
    for name, bounds in policy.metrics.items():
        value, problem = _number(metrics, name)
        for rule, bound in (("min", bounds.min), ("max", bounds.max)):
            if bound is None:
                continue
            if problem:
                checks.append(Check(name, rule, None, bound, False, note=problem))
                continue
            assert value is not None
            ok = value >= bound - _EPSILON if rule == "min" else value <= bound + _EPSILON
            checks.append(Check(name, rule, value, bound, ok))
    for name, rules in policy.baseline.items():
        value, problem = _number(metrics, name)
        for rule, allowed in (("max_drop", rules.max_drop), ("max_increase", rules.max_increase)):
            if allowed is not None:
                checks.append(
                    _baseline_check(name, rule, allowed, value, problem, baseline, no_baseline_note)
                )
    return checks


def _baseline_check(
    name: str,
    rule: str,
    allowed: float,
    value: float | None,
    problem: str | None,
    baseline: dict[str, Any] | None,
    no_baseline_note: str,
) -> Check:
    if problem:
        return Check(name, rule, None, None, False, note=problem)
    assert value is not None
    if baseline is None:
        return Check(name, rule, value, None, True, note=no_baseline_note)
    base, base_problem = _number(baseline, name)
    if base_problem or base is None:
        return Check(name, rule, value, None, True, note=f"baseline: {base_problem}; not compared")
    if rule == "max_drop":
        bound = base - allowed
        return Check(name, rule, value, bound, value >= bound - _EPSILON, baseline=base)
    bound = base + allowed
    return Check(name, rule, value, bound, value <= bound + _EPSILON, baseline=base)


def non_numeric(policy: GatePolicy, metrics: dict[str, Any]) -> list[str]:
    """One line per metric the policy checks whose value is not a number at all (a
    string, true, null, a list): bad input (exit 2), not a verdict. NaN and inf are
    numbers, and fail their checks."""
    names = dict.fromkeys([*policy.metrics, *policy.baseline])
    return [
        f"{name}: expected a number, got {metrics[name]!r}"
        for name in names
        if name in metrics and not _is_number(metrics[name])
    ]


def missing_note(name: str, metrics: dict[str, Any]) -> str:
    """Why a metric the policy names is absent: what exists, and the nearest name."""
    if not metrics:
        return f"{name} is missing from the metrics (the metrics file has none)"
    known = sorted(metrics)
    match = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {match[0]!r}?" if match else ""
    return f"{name} is missing from the metrics (they are: {', '.join(known)}{hint})"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(metrics: dict[str, Any], name: str) -> tuple[float | None, str | None]:
    """The metric as a finite float, or the reason it is not one."""
    if name not in metrics:
        return None, missing_note(name, metrics)
    value = metrics[name]
    if not _is_number(value):
        return None, f"{name} is not a number: {value!r}"
    if not math.isfinite(value):
        return None, f"{name} is not a finite number: {value!r}"
    return float(value), None
