"""The "m of n" rule, the window verdicts and the query templating: pure logic."""

from __future__ import annotations

import pytest

from ci_plugins.config.durations import parse_duration
from ci_plugins.config.models import MonitorMetric, ViolationRule
from ci_plugins.monitor.rule import decide, reason
from ci_plugins.monitor.windows import Reading, Window, promql_duration, render_query


def windows(*values: float | None, minimum: float = 0.9) -> list[Window]:
    """Newest first: one accuracy reading per window."""
    return [
        Window(k, -(k + 1) * 60.0, -k * 60.0, (Reading("acc", value, minimum, None),))
        for k, value in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        pytest.param((0.95, 0.96, 0.97), "ok", id="healthy"),
        pytest.param((0.80, 0.96, 0.97), "ok", id="1-of-3"),
        pytest.param((0.80, 0.96, 0.85), "degraded", id="2-of-3-not-adjacent"),
        pytest.param((0.80, 0.81, 0.82), "degraded", id="3-of-3"),
        pytest.param((None, None, None), "no-data", id="no-data"),
        pytest.param((None, 0.80, 0.81), "degraded", id="2-broken-1-empty"),
        pytest.param((None, 0.80, None), "ok", id="1-broken-2-empty"),
        pytest.param((0.9, 0.9, 0.9), "ok", id="exactly-on-the-bound"),
    ],
)
def test_m_of_n_windows_decide_the_verdict(values: tuple[float | None, ...], verdict: str) -> None:
    assert decide(windows(*values), ViolationRule(m=2, n=3)) == verdict


def test_a_window_breaks_when_any_metric_does_and_is_empty_when_any_has_no_value() -> None:
    broken = Window(0, 0, 60, (Reading("acc", 0.95, 0.9, None), Reading("err", 0.2, None, 0.1)))
    empty = Window(1, 0, 60, (Reading("acc", 0.95, 0.9, None), Reading("err", None, None, 0.1)))
    assert (broken.status, empty.status) == ("violated", "no-data")


def test_the_reason_names_each_broken_value_and_bound() -> None:
    text = reason(windows(0.82, 0.80, 0.97), ViolationRule(m=2, n=3), window_text="1h")
    assert text == (
        "2 of the last 3 windows of 1h broke a bound (rule: 2 of 3): "
        "acc 0.82 < min 0.9, 0.8 < min 0.9"
    )


def test_queries_get_the_window_and_the_release_and_bare_selectors_are_averaged() -> None:
    labels = {"app": "digits", "env": "prod", "model_version": "7"}
    custom = MonitorMetric(query='max_over_time(drift{env="{env}"}[{window}])', max=0.2)
    bare = MonitorMetric(query='live_accuracy{app="{app}"}', min=0.9)
    assert render_query(custom, window=3600, labels=labels) == (
        'max_over_time(drift{env="prod"}[1h])'
    )
    assert render_query(bare, window=90, labels=labels) == (
        'avg_over_time(live_accuracy{app="digits"}[90s])'
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(60, "1m"), (90, "90s"), (3600, "1h"), (86400, "1d"), (108000, "30h"), (1.5, "1500ms")],
)
def test_promql_durations_use_the_largest_whole_unit(seconds: float, text: str) -> None:
    assert promql_duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("1d", 86400.0), (60, 60), ("250ms", 0.25)],
)
def test_durations_take_seconds_or_strings(value: str | int, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "5 m", "1h-", ""])
def test_durations_refuse_other_strings(value: str) -> None:
    with pytest.raises(ValueError, match="expected seconds or a duration"):
        parse_duration(value)
