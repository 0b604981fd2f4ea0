"""--monitoring_config_file is read as TF Serving's MonitoringConfig text protobuf."""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_plugins_emulator.tfserving.monitoring import DEFAULT_PATH, read_monitoring_config
from ci_plugins_emulator.tfserving.status import ServingError

# What charts/model-server/templates/_pod.tpl renders (model-server.monitoringConfig).
CHART_CONFIG = 'prometheus_config {\n  enable: true,\n  path: "/metrics/tfs"\n}\n'


@pytest.mark.parametrize(
    ("text", "path"),
    [
        pytest.param(CHART_CONFIG, "/metrics/tfs", id="chart"),
        pytest.param("prometheus_config { enable: true }", DEFAULT_PATH, id="default-path"),
        pytest.param("# metrics off\nprometheus_config { enable: false }", None, id="disabled"),
        pytest.param("", None, id="empty"),
    ],
)
def test_monitoring_config_gives_the_metrics_path(
    tmp_path: Path, text: str, path: str | None
) -> None:
    config = tmp_path / "monitoring.config"
    config.write_text(text)
    assert read_monitoring_config(str(config)).prometheus_path == path


def test_no_monitoring_config_exposes_no_metrics() -> None:
    assert read_monitoring_config("").prometheus_path is None


def test_a_config_that_does_not_parse_is_tf_servings_invalid_protobuf_file(tmp_path: Path) -> None:
    config = tmp_path / "monitoring.config"
    config.write_text("prometheus_config { enabled: true }")
    with pytest.raises(ServingError) as raised:
        read_monitoring_config(str(config))
    assert raised.value.code == "INVALID_ARGUMENT"
    assert str(raised.value) == f"Invalid protobuf file: '{config}'"


def test_a_missing_config_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ServingError) as raised:
        read_monitoring_config(str(tmp_path / "nope.config"))
    assert raised.value.code == "NOT_FOUND"
