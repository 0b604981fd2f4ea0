"""templates/canary.yaml: the canary track."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

STABLE = "oci://registry.example.com/ml/digits@sha256:" + "a" * 64
CANDIDATE = "oci://registry.example.com/ml/digits@sha256:" + "b" * 64


def test_canary_is_a_second_deployment_with_its_own_model_behind_the_same_service(
    render: Callable[..., Any],
) -> None:
    assert "Deployment/digits-model-server-canary" not in render()
    values = {
        "replicaCount": 4,
        "model": {"version": "1", "artifact": STABLE},
        "canary": {
            "enabled": True,
            "replicaCount": 1,
            "model": {"version": "2", "artifact": CANDIDATE},
        },
    }
    objects = render(values)
    canary = objects["Deployment/digits-model-server-canary"]
    assert canary["spec"]["replicas"] == 1
    assert canary["spec"]["selector"]["matchLabels"]["ci-plugins.dev/track"] == "candidate"
    template = canary["spec"]["template"]
    assert template["metadata"]["annotations"]["ci-plugins.dev/model-version"] == "2"
    assert template["spec"]["initContainers"][0]["args"][1] == CANDIDATE.removeprefix("oci://")
    stable = objects["Deployment/digits-model-server"]["spec"]["template"]
    assert stable["metadata"]["labels"]["ci-plugins.dev/track"] == "stable"
    service_selector = objects["Service/digits-model-server"]["spec"]["selector"]
    assert service_selector.items() <= template["metadata"]["labels"].items()
