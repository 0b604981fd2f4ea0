"""ci_plugins.adapters.helm against the real helm binary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_plugins.adapters import helm
from ci_plugins.errors import ExternalError, InputError
from tests.support.cli import REPO, write_text

CHART = REPO / "charts" / "model-server"


@pytest.fixture(autouse=True)
def helm_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}")


def test_template_renders_with_the_release_and_namespace() -> None:
    stream = helm.template(CHART, release="digits", namespace="ml-dev")
    assert "name: digits-model-server" in stream


def test_schema_violations_are_input_errors_naming_each_key(tmp_path: Path) -> None:
    values = write_text(tmp_path / "v.yaml", "replicaCount: x\nservice: {port: '80'}\n")
    with pytest.raises(InputError) as caught:
        helm.template(CHART, release="digits", namespace="ns", values=[values])
    assert caught.value.problems == [
        "replicaCount: got string, want integer",
        "service.port: got string, want integer",
    ]


def test_a_template_refusing_its_values_is_an_input_error_with_the_charts_words(
    tmp_path: Path,
) -> None:
    values = write_text(tmp_path / "v.yaml", "traffic: {mode: gateway-api}\n")
    with pytest.raises(InputError) as caught:
        helm.template(CHART, release="digits", namespace="ns", values=[values])
    assert str(caught.value).startswith(
        "the chart refused its values: traffic.mode gateway-api needs traffic.gatewayApi.parentRefs"
    )
    assert caught.value.problems == ["at model-server/templates/traffic.yaml:41:4"]


def test_a_missing_chart_is_an_external_error_with_helms_message(tmp_path: Path) -> None:
    with pytest.raises(ExternalError, match="not found") as caught:
        helm.template(tmp_path / "nope", release="digits", namespace="ns")
    assert "helm template" in str(caught.value)


def test_older_helm_schema_messages_are_understood_too() -> None:
    stderr = (
        "Error: values don't meet the specifications of the schema(s) in the following "
        "chart(s):\nmodel-server:\n- replicaCount: Invalid type. Expected: integer, given: string\n"
    )
    assert helm.schema_problems(stderr) == [
        "replicaCount: Invalid type. Expected: integer, given: string"
    ]
    assert helm.schema_problems("Error: something else") == []


def test_test_hooks_stay_out_of_the_rendered_manifests(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    write_text(chart / "Chart.yaml", "apiVersion: v2\nname: tiny\nversion: 1.0.0\n")
    write_text(chart / "templates" / "cm.yaml", "kind: ConfigMap\nmetadata: {name: kept}\n")
    write_text(
        chart / "templates" / "tests" / "t.yaml",
        "kind: Pod\nmetadata:\n  name: dropped\n  annotations: {helm.sh/hook: test}\n",
    )
    stream = helm.template(chart, release="r", namespace="ns")
    assert "kept" in stream
    assert "dropped" not in stream
