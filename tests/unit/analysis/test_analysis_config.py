"""analysis: and environments.<env>.rollout: are validated at the door, with key paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_plugins.config.models import load_config
from ci_plugins.errors import InputError
from tests.support.cli import write_text


def problems_of(tmp_path: Path, text: str) -> str:
    path = write_text(tmp_path / "ci-plugins.yaml", text)
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_a_full_analysis_section_and_canary_rollout_load(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "ci-plugins.yaml",
        """
app: digits
analysis:
  prometheus: http://127.0.0.1:9090
  window: 2m
  min_requests: 20
  load: {rate: 20, requests: golden.jsonl, warmup: 3s}
  metrics:
    error_ratio: {max: 0.01}
    latency_p99_ms: {max: 250, max_ratio_to_stable: 1.5}
  queries:
    cpu: {query: "sum(rate(x{ {selector} }[{window}]))", max: 2}
environments:
  prod:
    rollout: {strategy: canary, traffic: istio, steps: [10, 50, 100]}
""",
    )
    config = load_config(path)
    assert config.analysis is not None
    assert config.analysis.window == 120
    assert config.analysis.load is not None
    assert config.analysis.load.warmup == 3
    assert config.analysis.metrics["latency_p99_ms"].max_ratio_to_stable == 1.5
    assert config.environment("prod").rollout.steps == [10, 50, 100]


def test_rollout_defaults_to_replace(tmp_path: Path) -> None:
    config = load_config(
        write_text(tmp_path / "ci-plugins.yaml", "app: a\nenvironments: {dev: {}}\n")
    )
    assert config.environment("dev").rollout.strategy == "replace"


def test_an_unknown_metric_name_suggests_the_built_in_one(tmp_path: Path) -> None:
    message = problems_of(tmp_path, "app: a\nanalysis:\n  metrics:\n    error_rate: {max: 0.1}\n")
    assert "analysis.metrics: unknown metric 'error_rate' (did you mean 'error_ratio'?)" in message


def test_an_unknown_analysis_key_suggests_the_near_miss(tmp_path: Path) -> None:
    message = problems_of(tmp_path, "app: a\nanalysis:\n  min_request: 5\n")
    assert "analysis.min_request: unknown key (did you mean 'min_requests'?)" in message


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param("[50, 10, 100]", "steps must increase: 10 follows 50", id="decreasing"),
        pytest.param("[10, 50]", "steps must end at 100, the last is 50", id="not-100"),
        pytest.param("[10, 10, 100]", "steps must increase: 10 follows 10", id="repeated"),
        pytest.param("[0, 100]", "greater than 0", id="zero"),
        pytest.param("[]", "give at least one step", id="empty"),
    ],
)
def test_bad_steps_are_named(tmp_path: Path, steps: str, expected: str) -> None:
    message = problems_of(
        tmp_path,
        f"app: a\nenvironments:\n  prod:\n    rollout: {{strategy: canary, steps: {steps}}}\n",
    )
    assert "environments.prod.rollout" in message
    assert expected in message


def test_a_metric_without_a_bound_and_a_bad_traffic_mode_are_both_reported(tmp_path: Path) -> None:
    message = problems_of(
        tmp_path,
        "app: a\nanalysis:\n  metrics: {error_ratio: {}}\n"
        "environments:\n  prod:\n    rollout: {traffic: linkerd}\n",
    )
    assert "2 problems" in message
    assert "give min, max and/or max_ratio_to_stable" in message
    assert (
        "environments.prod.rollout.traffic: expected 'replicas', 'gateway-api' or 'istio'"
        in message
    )
