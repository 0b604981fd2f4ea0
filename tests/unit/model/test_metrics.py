"""model.metrics in process: metrics.json and baselines (metrics.json or release.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ci_plugins.errors import InputError
from ci_plugins.model.metrics import read_baseline, read_metrics
from tests.support.cli import write_json, write_text

RELEASE = {
    "apiVersion": "ci-plugins/v1",
    "kind": "Release",
    "app": "digits",
    "environment": "staging",
    "model": {"version": "3", "digest": "sha256:" + "a" * 64},
    "metrics": {"accuracy": 0.97},
}


def test_read_metrics_returns_the_metrics_mapping(tmp_path: Path) -> None:
    path = write_json(tmp_path / "metrics.json", {"metrics": {"accuracy": 0.9}, "dataset": {}})
    assert read_metrics(path) == {"accuracy": 0.9}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "does not exist", id="missing"),
        pytest.param("{not json", "is not valid JSON (line 1, column 2)", id="not-json"),
        pytest.param("[1, 2]", "must hold a JSON object, got list", id="a-list"),
        pytest.param('{"accuracy": 0.9}', 'must hold {"metrics"', id="no-metrics-key"),
        pytest.param('{"metrics": [0.9]}', "found keys ['metrics']", id="metrics-not-a-mapping"),
    ],
)
def test_unreadable_metrics_are_input_errors_naming_the_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "metrics.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        read_metrics(path)
    assert raised.value.exit_code == 2
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_a_release_record_is_a_baseline_by_content(tmp_path: Path) -> None:
    path = write_text(tmp_path / "anything.txt", yaml.safe_dump(RELEASE))
    baseline = read_baseline(path)
    assert baseline.metrics == {"accuracy": 0.97}
    assert baseline.source == f"release 3 recorded in staging ({path})"


def test_a_metrics_file_is_a_baseline_too(tmp_path: Path) -> None:
    path = write_text(tmp_path / "base.json", json.dumps({"metrics": {"loss": 0.1}}))
    baseline = read_baseline(path)
    assert baseline.metrics == {"loss": 0.1}
    assert baseline.source == f"metrics file {path}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "does not exist", id="missing"),
        pytest.param("a: [unclosed", "is neither JSON nor YAML", id="not-yaml"),
        pytest.param("- 1\n", "must hold a mapping", id="a-list"),
    ],
)
def test_unreadable_baselines_are_input_errors(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "baseline.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as raised:
        read_baseline(path)
    assert raised.value.exit_code == 2
