"""What the model-server chart renders for TF Serving, the emulated server understands."""

from __future__ import annotations

from pathlib import Path

import yaml
from ci_plugins_emulator.tfserving import flags
from ci_plugins_emulator.tfserving.monitoring import read_monitoring_config
from ci_plugins_emulator.tfserving.rest import parse_route

from tests.unit.chart.conftest import helm_template


def rendered(tmp_path: Path) -> dict[str, dict[str, object]]:
    proc = helm_template(
        tmp_path,
        {
            "metrics": {"enabled": True},
            "extraArgs": ["--enable_batching", "--rest_api_timeout_in_ms=5000"],
        },
    )
    assert proc.returncode == 0, proc.stderr
    docs = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in docs}


def test_the_charts_server_args_are_known_flags_with_usable_values(tmp_path: Path) -> None:
    objects = rendered(tmp_path)
    pod = objects["Deployment/digits-model-server"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["tensorflow_model_server"]
    options = flags.parse(container["args"])
    assert options.unknown == ()
    assert (options.model_name, options.model_base_path) == ("digits", "/models/model")
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert (options.rest_api_port, options.port) == (ports["http"], ports["grpc"])
    assert options.monitoring_config_file == "/etc/model-server/monitoring.config"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        route = parse_route("GET", container[probe]["httpGet"]["path"])
        assert (route.matched, route.model_name) == (True, "digits")


def test_the_charts_monitoring_config_enables_metrics_on_its_path(tmp_path: Path) -> None:
    objects = rendered(tmp_path)
    config = objects["ConfigMap/digits-model-server-monitoring"]["data"]["monitoring.config"]
    path = tmp_path / "monitoring.config"
    path.write_text(config)
    assert read_monitoring_config(str(path)).prometheus_path == "/monitoring/prometheus/metrics"
