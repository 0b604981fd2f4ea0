"""`ci-plugins rollout` inputs a user can get wrong: message, exit code, and the
environment repo unchanged (a canary of 4 runs at 25% next to stable 3)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.rollout.test_canary_promote import RELEASE, canary_config, promote_to_prod
from tests.support.cli import CliRunner
from tests.support.envrepo import remote_head, remote_yaml
from tests.support.prometheus import BackfilledPrometheus, Sample

ANALYSIS = {
    "prometheus": "http://127.0.0.1:9",  # nothing listens on the discard port
    "window": "5s",
    "min_requests": 10,
    "metrics": {"error_ratio": {"max": 0.01}},
}


@pytest.fixture
def running_canary(tmp_path: Path, cli: CliRunner, env_repo: Path) -> Path:
    config = canary_config(tmp_path, env_repo)
    promote_to_prod(tmp_path, cli, "3")
    promote_to_prod(tmp_path, cli, "4")
    data = yaml.safe_load(config.read_text())
    data["analysis"] = ANALYSIS
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config


def edit(config: Path, change: dict[str, Any]) -> None:
    data = yaml.safe_load(config.read_text())
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(last)

        else:
            node[last] = value
    config.write_text(yaml.safe_dump(data), encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "args", "exit_code", "words"),
    [
        pytest.param(
            {}, ["--env", "prd"], 2, "unknown environment 'prd'", id="unknown-environment"
        ),
        pytest.param(
            {},
            ["--env", "staging"],
            2,
            "environments.staging.rollout.strategy is replace: there are no canary steps",
            id="not-a-canary-environment",
        ),
        pytest.param(
            {"environments.prod.rollout.steps": [50, 25, 100]},
            ["--env", "prod"],
            2,
            "environments.prod.rollout: steps must increase: 25 follows 50",
            id="steps-not-increasing",
        ),
        pytest.param(
            {"environments.prod.rollout.steps": [10, 50]},
            ["--env", "prod"],
            2,
            "environments.prod.rollout: steps must end at 100, the last is 50",
            id="steps-not-ending-at-100",
        ),
        pytest.param(
            {"analysis": None},
            ["--env", "prod"],
            2,
            "ci-plugins.yaml has no analysis: section: nothing to judge the canary by",
            id="no-analysis-section",
        ),
        pytest.param(
            {},
            ["--env", "prod"],
            3,
            "cannot reach Prometheus at http://127.0.0.1:9",
            id="prometheus-unreachable",
        ),
    ],
)
def test_bad_input_is_named_and_commits_nothing(
    running_canary: Path,
    cli: CliRunner,
    env_repo: Path,
    change: dict[str, Any],
    args: list[str],
    exit_code: int,
    words: str,
) -> None:
    edit(running_canary, change)
    head = remote_head(env_repo)

    result = cli("rollout", *args, "--json")

    assert result.exit_code == exit_code, result.stderr
    assert words in result.stderr
    assert remote_head(env_repo) == head
    assert remote_yaml(env_repo, RELEASE)["canary"]["weight"] == 25


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus that answers (with one unrelated sample in it)."""
    sample = Sample("unrelated", {"job": "x"}, time.time() - 60, 1.0)
    with BackfilledPrometheus(tmp_path_factory.mktemp("prometheus"), [sample]) as prom:
        yield prom.url


@pytest.mark.parametrize(
    ("analysis", "golden", "words"),
    [
        pytest.param(
            {"queries": {"cpu": {"query": "sum(rate(x{{selector}}[{window}])", "max": 1}}},
            None,
            'Prometheus cannot run the query \'sum(rate(x{namespace="ml-prod"',
            id="query-does-not-parse",
        ),
        pytest.param(
            {"load": {"rate": 5, "requests": "golden.jsonl"}},
            '{"instances": [[0.0]]}\n{"instances": [[0.0]\n',
            "golden.jsonl line 2 is not JSON",
            id="golden-bad-line",
        ),
    ],
)
def test_bad_analysis_input_with_prometheus_answering_commits_nothing(
    running_canary: Path,
    cli: CliRunner,
    env_repo: Path,
    prometheus: str,
    analysis: dict[str, Any],
    golden: str | None,
    words: str,
) -> None:
    edit(
        running_canary,
        {"analysis.prometheus": prometheus, **{f"analysis.{k}": v for k, v in analysis.items()}},
    )
    if golden is not None:
        (running_canary.parent / "golden.jsonl").write_text(golden, encoding="utf-8")
    head = remote_head(env_repo)

    result = cli("rollout", "--env", "prod")

    assert result.exit_code == 2, result.stderr
    assert words in result.stderr
    assert remote_head(env_repo) == head


def test_without_a_canary_running_there_is_nothing_to_do(
    tmp_path: Path, cli: CliRunner, env_repo: Path, prometheus: str
) -> None:
    config = canary_config(tmp_path, env_repo)
    promote_to_prod(tmp_path, cli, "3")
    edit(config, {"analysis": {**ANALYSIS, "prometheus": prometheus}})
    head = remote_head(env_repo)

    result = cli("rollout", "--env", "prod", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json["verdict"] == "none"
    assert result.json["commits"] == []
    assert "prod/digits: no canary runs; nothing to roll out" in result.stderr
    assert remote_head(env_repo) == head


def test_if_canary_makes_a_replace_environment_nothing_to_do(
    running_canary: Path, cli: CliRunner, env_repo: Path
) -> None:
    """What the pipelines run after every promote: staging (replace) is no error there."""
    edit(running_canary, {"analysis": None})  # not even read for a replace environment
    head = remote_head(env_repo)

    result = cli("rollout", "--env", "staging", "--if-canary", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json["verdict"] == "none"
    assert result.json["commits"] == []
    assert "staging: rollout.strategy is replace, not canary; nothing to roll out" in (
        result.stderr
    )
    assert remote_head(env_repo) == head


def test_if_canary_still_drives_a_canary_environment(
    running_canary: Path, cli: CliRunner, env_repo: Path
) -> None:
    """The flag only skips replace environments: prod's canary is driven (and fails here
    on the unreachable Prometheus, exit 3, nothing committed)."""
    head = remote_head(env_repo)

    result = cli("rollout", "--env", "prod", "--if-canary")

    assert result.exit_code == 3, result.stderr
    assert "cannot reach Prometheus at http://127.0.0.1:9" in result.stderr
    assert remote_head(env_repo) == head
