"""templates/hpa.yaml."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_hpa_is_autoscaling_v2_on_the_deployment_only_when_enabled(
    render: Callable[..., Any],
) -> None:
    assert "HorizontalPodAutoscaler/digits-model-server" not in render()
    values = {
        "autoscaling": {"enabled": True, "maxReplicas": 7, "targetMemoryUtilizationPercentage": 75}
    }
    hpa = render(values)["HorizontalPodAutoscaler/digits-model-server"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "digits-model-server"
    assert hpa["spec"]["maxReplicas"] == 7
    names = [metric["resource"]["name"] for metric in hpa["spec"]["metrics"]]
    assert names == ["cpu", "memory"]
