"""Phase A: Argo CD Application and Flux Kustomization against our commit."""

from __future__ import annotations

from typing import Any

import pytest

from ci_plugins.verify.readiness import gitops
from ci_plugins.verify.readiness.model import Timers
from ci_plugins.verify.readiness.policy import Policy
from tests.unit.readiness.fake import load

SHA = "c0ffee"
FIXTURES = load("gitops.yaml")


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in FIXTURES["argocd"]])
def test_argocd_application(case: dict[str, Any]) -> None:
    policy = Policy(**case.get("policy", {}))
    timers = Timers()
    gitops.argocd_application(case["object"], SHA, policy, timers)
    timers.now = case.get("at", 0)
    result = gitops.argocd_application(case["object"], SHA, policy, timers)
    status, reason, *message = case["expect"]
    assert (result.status.value, result.reason) == (status, reason), result.message
    for part in message:
        assert part in result.message


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in FIXTURES["flux"]])
def test_flux_kustomization(case: dict[str, Any]) -> None:
    result = gitops.flux_kustomization(case["object"], SHA)
    status, reason, *message = case["expect"]
    assert (result.status.value, result.reason) == (status, reason), result.message
    for part in message:
        assert part in result.message
