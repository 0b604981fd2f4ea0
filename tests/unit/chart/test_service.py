"""templates/service.yaml."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_service_exposes_rest_and_grpc_and_selects_both_tracks(
    render: Callable[..., Any],
) -> None:
    service = render({"service": {"port": 9000}})["Service/digits-model-server"]
    ports = {port["name"]: port["port"] for port in service["spec"]["ports"]}
    assert ports == {"http": 9000, "grpc": 8500}
    assert service["spec"]["selector"] == {
        "app.kubernetes.io/name": "model-server",
        "app.kubernetes.io/instance": "digits",
    }
