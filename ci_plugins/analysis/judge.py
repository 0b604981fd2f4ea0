"""Pure verdict rules: readings of each track against bounds -> passed/failed/inconclusive.

A missing or NaN value is "no data": it never reads as 0 and never passes. A track that
served fewer than min_requests makes the whole analysis inconclusive (too little traffic
to judge), whatever its other values say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ci_plugins.config.models import AnalysisBounds

Verdict = Literal["passed", "failed", "inconclusive"]
CheckStatus = Literal["passed", "failed", "inconclusive", "skipped"]


@dataclass(frozen=True)
class Reading:
    """One value seen: which metric on which track, from which query (or load run)."""

    metric: str
    track: str
    query: str
    value: float | None  # None: no sample, or NaN

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "track": self.track,
            "query": self.query,
            "value": self.value,
        }


@dataclass(frozen=True)
class Check:
    """One bound applied to the judged track's value."""

    metric: str
    rule: str  # min, max, max_ratio_to_stable
    bound: float
    value: float | None
    stable: float | None
    status: CheckStatus
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "rule": self.rule,
            "bound": self.bound,
            "value": self.value,
            "stable": self.stable,
            "status": self.status,
            "passed": self.status in ("passed", "skipped"),
            "reason": self.reason,
        }


def known(value: float | None) -> float | None:
    """value, or None for NaN/inf/None: the one place "no data" is decided."""
    return value if value is not None and math.isfinite(value) else None


def check_metric(
    metric: str,
    bounds: AnalysisBounds,
    *,
    value: float | None,
    stable: float | None,
    has_stable: bool,
) -> list[Check]:
    """The checks of one metric's bounds (min, max, max_ratio_to_stable)."""
    value, stable = known(value), known(stable)
    checks = []
    for rule, bound in (("min", bounds.min), ("max", bounds.max)):
        if bound is None:
            continue
        if value is None:
            checks.append(Check(metric, rule, bound, None, stable, "inconclusive", "no data"))
            continue
        ok = value >= bound if rule == "min" else value <= bound
        sign = ">=" if rule == "min" else "<="
        why = f"{value:.4g} {sign if ok else _negate(sign)} {rule} {bound:g}"
        checks.append(Check(metric, rule, bound, value, stable, _ok(ok), why))
    if bounds.max_ratio_to_stable is not None:
        checks.append(_ratio_check(metric, bounds.max_ratio_to_stable, value, stable, has_stable))
    return checks


def _ratio_check(
    metric: str, ratio: float, value: float | None, stable: float | None, has_stable: bool
) -> Check:
    rule = "max_ratio_to_stable"
    if not has_stable:
        return Check(metric, rule, ratio, value, None, "skipped", "no stable track to compare")
    if value is None or stable is None:
        missing = "candidate" if value is None else "stable track"
        return Check(metric, rule, ratio, value, stable, "inconclusive", f"no data ({missing})")
    limit = stable * ratio
    ok = value <= limit
    why = f"{value:.4g} {'<=' if ok else '>'} {ratio:g} x stable {stable:.4g} = {limit:.4g}"
    return Check(metric, rule, ratio, value, stable, _ok(ok), why)


def decide(
    checks: Sequence[Check], requests: Mapping[str, float | None], *, min_requests: int
) -> tuple[Verdict, list[str]]:
    """The verdict and, when not passed, what made it (too few requests, no data, bounds)."""
    starved = [
        f"{track} track: {_served(served)}, fewer than min_requests {min_requests}"
        for track, served in requests.items()
        if (known(served) or 0.0) < min_requests
    ]
    if starved:
        return "inconclusive", starved
    failed = [f"{c.metric}: {c.reason}" for c in checks if c.status == "failed"]
    if failed:
        return "failed", failed
    missing = [f"{c.metric} ({c.rule}): {c.reason}" for c in checks if c.status == "inconclusive"]
    if missing:
        return "inconclusive", missing
    return "passed", []


def _served(value: float | None) -> str:
    value = known(value)
    return "no request samples" if value is None else f"{value:.0f} requests served"


def _ok(ok: bool) -> CheckStatus:
    return "passed" if ok else "failed"


def _negate(sign: str) -> str:
    return {">=": "<", "<=": ">"}[sign]
