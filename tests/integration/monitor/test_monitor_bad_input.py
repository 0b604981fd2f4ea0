"""Every input a user can get wrong: a clear message, exit 2 (3 for an unreachable
Prometheus), nothing triggered and nothing recorded in the environment repo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.monitor.conftest import (
    ANCHOR,
    TRIGGER_TOKEN,
    config,
    decision_tags,
    seed_release,
)
from tests.support.cli import CliRunner
from tests.support.envrepo import remote_head, seed_files
from tests.support.forge_server import ForgeServer
from tests.support.prometheus import BackfilledPrometheus

DEGRADED = 'live_accuracy{scenario="degraded"}'


def edit_monitor(path: Path, **changes: Any) -> None:
    data = yaml.safe_load(path.read_text())
    data["monitor"].update(changes)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


@pytest.mark.parametrize(
    ("changes", "exit_code", "words"),
    [
        pytest.param(
            {"metrics": {"acc": {"query": "avg_over_time(live_accuracy[{window}]", "min": 0.9}}},
            2,
            "Prometheus cannot run the query 'avg_over_time(live_accuracy[1m]': ",
            id="query-does-not-parse",
        ),
        pytest.param(
            {"metrics": {"acc": {"query": "live_accuracy", "min": 0.9}}},
            2,
            "returns 4 series",
            id="query-returns-several-series",
        ),
        pytest.param(
            {"window": "1h", "violations": {"m": 2, "n": 30}},
            2,
            "monitor looks back 30h (30 windows of 1h), but Prometheus at",
            id="windows-longer-than-retention",
        ),
        pytest.param(
            {"violations": {"m": 4, "n": 3}},
            2,
            "monitor.violations: m (4) must not exceed n (3)",
            id="m-greater-than-n",
        ),
        pytest.param(
            {"trigger": {"forge": "bitbucket", "project": "ml/digits"}},
            2,
            "monitor.trigger.forge: expected 'gitlab', 'github' or 'jenkins', got 'bitbucket'",
            id="unknown-forge",
        ),
        pytest.param(
            {"trigger": {"forge": "github", "repo": "acme/digits"}},
            2,
            "monitor.trigger: forge github needs workflow",
            id="github-without-workflow",
        ),
        pytest.param(
            {"windw": "60s"},
            2,
            "monitor.windw: unknown key (did you mean 'window'?)",
            id="misspelt-key",
        ),
        pytest.param(
            {"window": "soon"},
            2,
            "monitor.window: expected seconds or a duration like 90s, 5m, 1h, got 'soon'",
            id="window-not-a-duration",
        ),
        pytest.param(
            {"metrics": {"acc": {"query": DEGRADED}}},
            2,
            "monitor.metrics.acc: give min and/or max",
            id="metric-without-bounds",
        ),
        pytest.param({"metrics": {}}, 2, "has no monitor.metrics", id="no-metrics"),
        pytest.param({"trigger": None}, 2, "has no monitor.trigger", id="no-trigger"),
        pytest.param(
            {"prometheus": "http://127.0.0.1:9"},
            3,
            "cannot reach Prometheus at http://127.0.0.1:9",
            id="prometheus-unreachable",
        ),
    ],
)
def test_bad_monitor_config_triggers_and_records_nothing(
    tmp_path: Path,
    cli: CliRunner,
    env_repo: Path,
    prometheus: BackfilledPrometheus,
    forge: ForgeServer,
    changes: dict[str, Any],
    exit_code: int,
    words: str,
) -> None:
    path = config(tmp_path, env_repo, prometheus, forge, scenario="degraded")
    edit_monitor(path, **changes)
    head = seed_release(env_repo)

    result = cli(
        "monitor",
        "--env",
        "prod",
        "--at",
        str(ANCHOR),
        "--json",
        env={"CI_PLUGINS_GITLAB_TRIGGER_TOKEN": TRIGGER_TOKEN},
    )

    assert result.exit_code == exit_code, result.stderr
    assert words in result.stderr
    assert result.json["exit_code"] == exit_code
    assert forge.pipelines_started() == 0
    assert decision_tags(env_repo) == []
    assert remote_head(env_repo) == head


@pytest.mark.parametrize(
    ("argv", "env", "words"),
    [
        pytest.param(
            ["--env", "prod"],
            {},
            "no token to start the gitlab pipeline: set CI_PLUGINS_GITLAB_TRIGGER_TOKEN",
            id="missing-token",
        ),
        pytest.param(
            ["--env", "staging"],
            {"CI_PLUGINS_GITLAB_TRIGGER_TOKEN": TRIGGER_TOKEN},
            "staging has no release of digits in",
            id="environment-without-release",
        ),
        pytest.param(
            ["--env", "Prod/../x"],
            {"CI_PLUGINS_GITLAB_TRIGGER_TOKEN": TRIGGER_TOKEN},
            "Prod/../x",
            id="environment-name-not-a-label",
        ),
        pytest.param(
            ["--env", "prod", "--at", "yesterday"],
            {"CI_PLUGINS_GITLAB_TRIGGER_TOKEN": TRIGGER_TOKEN},
            "--at 'yesterday' is not a time",
            id="at-not-a-time",
        ),
    ],
)
def test_bad_invocation_triggers_and_records_nothing(
    tmp_path: Path,
    cli: CliRunner,
    env_repo: Path,
    prometheus: BackfilledPrometheus,
    forge: ForgeServer,
    argv: list[str],
    env: dict[str, str],
    words: str,
) -> None:
    config(tmp_path, env_repo, prometheus, forge, scenario="degraded")
    seed_files(env_repo, {"environments/staging/other/release.yaml": "kind: Release\n"})
    seed_release(env_repo)
    head = remote_head(env_repo)
    if "--at" not in argv:
        argv = [*argv, "--at", str(ANCHOR)]

    result = cli("monitor", *argv, env=env)

    assert result.exit_code == 2, result.stderr
    assert words in result.stderr
    assert forge.pipelines_started() == 0
    assert decision_tags(env_repo) == []
    assert remote_head(env_repo) == head
