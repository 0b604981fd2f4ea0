"""templates/monitoring-configmap.yaml (+ the prometheus.io annotations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_metrics_enable_tf_serving_prometheus_endpoint_and_scrape_annotations(
    render: Callable[..., Any],
) -> None:
    assert "ConfigMap/digits-model-server-monitoring" not in render()
    objects = render({"metrics": {"enabled": True}})
    config = objects["ConfigMap/digits-model-server-monitoring"]["data"]["monitoring.config"]
    assert 'path: "/monitoring/prometheus/metrics"' in config
    template = objects["Deployment/digits-model-server"]["spec"]["template"]
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    args = template["spec"]["containers"][0]["args"]
    assert "--monitoring_config_file=/etc/model-server/monitoring.config" in args
