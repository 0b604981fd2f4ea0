"""Phase C, one table per fixture file: every kind's rule against status fixtures."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.readiness.fake import FakeSnapshot, evaluate_twice, load, ref_of

CASES = [
    *(
        pytest.param(case, id=f"deployment-{case['id']}")
        for case in load("deployment.yaml")["cases"]
    ),
    *(pytest.param(case, id=case["id"]) for case in load("workloads.yaml")["cases"]),
]


@pytest.mark.parametrize("case", CASES)
def test_kind_rule_decides_status_and_reason(case: dict[str, Any]) -> None:
    obj = case["object"]
    ref = ref_of(obj)
    checked = evaluate_twice(
        {ref: obj}, FakeSnapshot({ref: obj}), at=case.get("at", 0), policy=case.get("policy")
    )
    result = checked[0].result
    status, reason, *message = case["expect"]
    assert (result.status.value, result.reason) == (status, reason), result.message
    for part in message:
        assert part in result.message
