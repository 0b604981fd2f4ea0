"""Verdict rules: no data never passes, too few requests is inconclusive, bounds decide."""

from __future__ import annotations

import math

import pytest

from ci_plugins.analysis.judge import check_metric, decide
from ci_plugins.config.models import AnalysisBounds


@pytest.mark.parametrize(
    ("value", "stable", "status"),
    [
        pytest.param(0.001, 0.001, "passed", id="within"),
        pytest.param(0.2, 0.001, "failed", id="above-max"),
        pytest.param(None, 0.001, "inconclusive", id="no-sample"),
        pytest.param(math.nan, 0.001, "inconclusive", id="nan"),
    ],
)
def test_max_bound(value: float | None, stable: float, status: str) -> None:
    (check,) = check_metric(
        "error_ratio", AnalysisBounds(max=0.01), value=value, stable=stable, has_stable=True
    )
    assert check.status == status


@pytest.mark.parametrize(
    ("value", "stable", "status"),
    [
        pytest.param(140.0, 100.0, "passed", id="below-ratio"),
        pytest.param(160.0, 100.0, "failed", id="above-ratio"),
        pytest.param(1.0, 0.0, "failed", id="stable-zero-candidate-not"),
        pytest.param(120.0, None, "inconclusive", id="stable-without-data"),
        pytest.param(120.0, math.nan, "inconclusive", id="stable-nan"),
    ],
)
def test_ratio_to_stable(value: float, stable: float | None, status: str) -> None:
    (check,) = check_metric(
        "latency_p99_ms",
        AnalysisBounds(max_ratio_to_stable=1.5),
        value=value,
        stable=stable,
        has_stable=True,
    )
    assert check.status == status


def test_ratio_without_a_stable_track_is_skipped_and_says_why() -> None:
    (check,) = check_metric(
        "latency_p99_ms",
        AnalysisBounds(max_ratio_to_stable=1.5),
        value=120.0,
        stable=None,
        has_stable=False,
    )
    assert check.status == "skipped"
    assert check.reason == "no stable track to compare"


def test_too_few_requests_is_inconclusive_even_when_a_bound_breaks() -> None:
    checks = check_metric(
        "error_ratio", AnalysisBounds(max=0.01), value=0.5, stable=0.0, has_stable=True
    )
    verdict, why = decide(checks, {"candidate": 10.0, "stable": 200.0}, min_requests=50)
    assert verdict == "inconclusive"
    assert why == ["candidate track: 10 requests served, fewer than min_requests 50"]


def test_no_request_samples_is_inconclusive_not_zero_not_passed() -> None:
    checks = check_metric(
        "error_ratio", AnalysisBounds(max=0.01), value=None, stable=None, has_stable=False
    )
    verdict, why = decide(checks, {"current": None}, min_requests=1)
    assert verdict == "inconclusive"
    assert why == ["current track: no request samples, fewer than min_requests 1"]


def test_enough_requests_and_a_broken_bound_fails_naming_the_metric() -> None:
    checks = check_metric(
        "error_ratio", AnalysisBounds(max=0.01), value=1.0, stable=0.0, has_stable=True
    )
    verdict, why = decide(checks, {"candidate": 80.0, "stable": 80.0}, min_requests=50)
    assert verdict == "failed"
    assert why == ["error_ratio: 1 > max 0.01"]


def test_every_bound_met_passes() -> None:
    checks = check_metric(
        "latency_p99_ms", AnalysisBounds(max=250, min=0), value=20.0, stable=None, has_stable=False
    )
    assert decide(checks, {"current": 100.0}, min_requests=50) == ("passed", [])
