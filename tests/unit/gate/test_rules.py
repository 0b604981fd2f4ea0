"""gate.rules.evaluate in process: bounds, baseline rules, missing and non-finite metrics."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ci_plugins.config.models import GatePolicy
from ci_plugins.gate.rules import Check, evaluate

POLICY = GatePolicy.model_validate(
    {
        "metrics": {"accuracy": {"min": 0.90}, "loss": {"max": 0.40}},
        "baseline": {"accuracy": {"max_drop": 0.01}, "loss": {"max_increase": 0.05}},
    }
)


def by_rule(checks: list[Check]) -> dict[tuple[str, str], Check]:
    return {(check.metric, check.rule): check for check in checks}


def test_checks_come_in_policy_order_bounds_first() -> None:
    checks = evaluate(POLICY, {"accuracy": 0.95, "loss": 0.2}, baseline=None)
    assert [(c.metric, c.rule) for c in checks] == [
        ("accuracy", "min"),
        ("loss", "max"),
        ("accuracy", "max_drop"),
        ("loss", "max_increase"),
    ]


@pytest.mark.parametrize(
    ("metrics", "passed"),
    [
        pytest.param({"accuracy": 0.95, "loss": 0.2}, True, id="within-bounds"),
        pytest.param({"accuracy": 0.90, "loss": 0.40}, True, id="on-the-bounds"),
        pytest.param({"accuracy": 0.85, "loss": 0.2}, False, id="below-min"),
        pytest.param({"accuracy": 0.95, "loss": 0.41}, False, id="above-max"),
    ],
)
def test_absolute_bounds(metrics: dict[str, Any], passed: bool) -> None:
    checks = by_rule(evaluate(POLICY, metrics, baseline=None))
    assert (checks["accuracy", "min"].passed and checks["loss", "max"].passed) is passed


@pytest.mark.parametrize(
    ("value", "passed"),
    [
        pytest.param(0.94, True, id="drop-equal-to-allowed"),
        pytest.param(0.9399, False, id="drop-larger-than-allowed"),
        pytest.param(0.99, True, id="improved"),
    ],
)
def test_max_drop_against_the_baseline(value: float, passed: bool) -> None:
    check = by_rule(
        evaluate(POLICY, {"accuracy": value, "loss": 0.1}, baseline={"accuracy": 0.95})
    )["accuracy", "max_drop"]
    assert check.passed is passed
    assert check.bound == pytest.approx(0.94)
    assert check.baseline == 0.95
    assert check.delta == pytest.approx(value - 0.95)


def test_max_increase_against_the_baseline() -> None:
    checks = by_rule(evaluate(POLICY, {"accuracy": 0.95, "loss": 0.3}, baseline={"loss": 0.2}))
    assert checks["loss", "max_increase"].passed is False
    assert checks["loss", "max_increase"].bound == pytest.approx(0.25)


def test_without_a_baseline_the_baseline_rules_pass_and_say_so() -> None:
    checks = by_rule(evaluate(POLICY, {"accuracy": 0.95, "loss": 0.2}, baseline=None))
    assert checks["accuracy", "max_drop"].passed
    assert checks["accuracy", "max_drop"].note == "no baseline recorded yet (first release)"


def test_a_baseline_without_the_metric_is_not_compared() -> None:
    checks = by_rule(evaluate(POLICY, {"accuracy": 0.95, "loss": 0.2}, baseline={"loss": 0.2}))
    check = checks["accuracy", "max_drop"]
    assert check.passed
    assert (
        check.note
        == "baseline: accuracy is missing from the metrics (they are: loss); not compared"
    )


@pytest.mark.parametrize(
    ("value", "note"),
    [
        pytest.param(None, "accuracy is missing from the metrics (they are: loss)", id="missing"),
        pytest.param("high", "accuracy is not a number: 'high'", id="string"),
        pytest.param(True, "accuracy is not a number: True", id="bool"),
        pytest.param(math.nan, "accuracy is not a finite number: nan", id="nan"),
        pytest.param(math.inf, "accuracy is not a finite number: inf", id="inf"),
    ],
)
def test_a_metric_that_is_not_a_finite_number_fails_every_rule_naming_it(
    value: object, note: str
) -> None:
    metrics: dict[str, Any] = {"loss": 0.2}
    if value is not None:
        metrics["accuracy"] = value
    checks = by_rule(evaluate(POLICY, metrics, baseline={"accuracy": 0.95}))
    for rule in ("min", "max_drop"):
        assert checks["accuracy", rule].passed is False
        assert checks["accuracy", rule].note == note
        assert checks["accuracy", rule].value is None


def test_check_as_json_has_the_contract_fields() -> None:
    check = Check("accuracy", "max_drop", 0.93, 0.94, False, baseline=0.95)
    assert check.as_json() == {
        "metric": "accuracy",
        "rule": "max_drop",
        "value": 0.93,
        "bound": 0.94,
        "baseline": 0.95,
        "delta": pytest.approx(-0.02),
        "passed": False,
        "note": "",
    }
