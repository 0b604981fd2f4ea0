"""templates/pdb.yaml."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_pdb_uses_min_available_unless_max_unavailable_is_set(
    render: Callable[..., Any],
) -> None:
    assert "PodDisruptionBudget/digits-model-server" not in render()
    pdb = render({"pdb": {"enabled": True}})["PodDisruptionBudget/digits-model-server"]
    assert pdb["spec"]["minAvailable"] == 1
    pdb = render({"pdb": {"enabled": True, "maxUnavailable": "25%"}})[
        "PodDisruptionBudget/digits-model-server"
    ]
    assert pdb["spec"] == {
        "maxUnavailable": "25%",
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "model-server",
                "app.kubernetes.io/instance": "digits",
            }
        },
    }
