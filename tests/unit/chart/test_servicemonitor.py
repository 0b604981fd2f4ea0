"""templates/servicemonitor.yaml."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_service_monitor_needs_metrics_and_its_own_switch(render: Callable[..., Any]) -> None:
    assert "ServiceMonitor/digits-model-server" not in render(
        {"metrics": {"serviceMonitor": {"enabled": True}}}
    )
    values = {
        "metrics": {
            "enabled": True,
            "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
        }
    }
    monitor = render(values)["ServiceMonitor/digits-model-server"]
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/monitoring/prometheus/metrics"
