"""One real Prometheus for the monitor tests, backfilled with the values each scenario needs.

Windows are 60 s long and end at ANCHOR (and ANCHOR - 60 s, ...); tests pass `--at ANCHOR`,
so the windows stay put however long the session runs. Each scenario is a `scenario` label
of `live_accuracy` (and `prediction_drift`); a value of None leaves that window empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import CliRunner
from tests.support.envrepo import env_repo, git, seed_files
from tests.support.forge_server import ForgeServer
from tests.support.prometheus import BackfilledPrometheus, Sample

__all__ = ["env_repo", "forge", "prometheus"]

WINDOW = 60
# Whole minutes, a few windows in the past: the newest window of every scenario is complete.
ANCHOR = int(time.time() // WINDOW * WINDOW) - 2 * WINDOW
TOKEN = "s3cret-forge-token-0123456789"
TRIGGER_TOKEN = "glptt-0123456789abcdef0123"
JENKINS_TOKEN = "11a0d9c0e1f2a3b4c5d6e7f8a9b0c1d2e3"
MODEL_PROJECT = "ml/digits"
MODEL_REPO = "acme/digits"
JENKINS_JOB = "ml/digits-train"

# Oldest window first, the newest (ending at ANCHOR) last.
ACCURACY: dict[str, list[float | None]] = {
    "healthy": [0.97, 0.96, 0.97, 0.96, 0.97],
    "degraded": [0.97, 0.97, 0.97, 0.80, 0.82],  # 2 of the last 3 windows below 0.9
    "one-dip": [0.97, 0.97, 0.80, 0.97, 0.96],  # 1 of 3: ok
    "gap": [0.97, 0.97, 0.97, None, 0.96],  # a window without samples, not a violation
    "recent-silence": [0.97, 0.97, None, None, None],  # data, but not in the last 3 windows
}
DRIFT: dict[str, list[float | None]] = {
    "healthy": [0.05, 0.05, 0.05, 0.05, 0.05],
    "degraded": [0.05, 0.05, 0.05, 0.40, 0.05],
}


def samples() -> list[Sample]:
    """Six samples inside each window, never on a boundary."""
    found = []
    for metric, table in (("live_accuracy", ACCURACY), ("prediction_drift", DRIFT)):
        for scenario, values in table.items():
            for k, value in enumerate(reversed(values)):  # k = 0: the newest window
                if value is None:
                    continue
                start = ANCHOR - (k + 1) * WINDOW
                for offset in range(5, WINDOW, 10):
                    found.append(Sample(metric, {"scenario": scenario}, start + offset, value))
    return found


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    root: Path = tmp_path_factory.mktemp("prometheus")
    with BackfilledPrometheus(root, samples(), retention="1d") as server:
        yield server


@pytest.fixture
def forge() -> Iterator[ForgeServer]:
    with ForgeServer(token=TOKEN) as server:
        server.add_gitlab_project(MODEL_PROJECT)
        server.add_gitlab_trigger(MODEL_PROJECT, TRIGGER_TOKEN)
        server.add_github_repo(MODEL_REPO)
        server.add_github_workflow(
            MODEL_REPO,
            "ml.yml",
            inputs=[
                "CI_PLUGINS_TRIGGERED_BY",
                "CI_PLUGINS_TRIGGER_REASON",
                "CI_PLUGINS_TRIGGER_ENV",
                "CI_PLUGINS_TRIGGER_RECORD",
            ],
        )
        server.add_jenkins_job(JENKINS_JOB, user="monitor-bot", api_token=JENKINS_TOKEN)
        yield server


RELEASE = {
    "apiVersion": "ci-plugins/v1",
    "kind": "Release",
    "app": "digits",
    "environment": "prod",
    "model": {"version": "7", "digest": "sha256:" + "b" * 64},
    "metrics": {"accuracy": 0.97},
}
TAGS = "refs/tags/ci-plugins/retrain/prod/digits/"


def config(
    tmp_path: Path,
    env_repo: Path,
    prometheus: BackfilledPrometheus,
    forge: ForgeServer,
    *,
    scenario: str,
    trigger: dict[str, Any] | None = None,
    **monitor: Any,
) -> Path:
    section: dict[str, Any] = {
        "prometheus": prometheus.url,
        "window": "60s",
        "violations": {"m": 2, "n": 3},
        "cooldown": "1h",
        "metrics": {
            "live_accuracy": {"query": f'live_accuracy{{scenario="{scenario}"}}', "min": 0.9},
        },
        "trigger": trigger
        or {"forge": "gitlab", "url": forge.url, "project": MODEL_PROJECT, "ref": "main"},
    }
    section.update(monitor)
    data = {
        "app": "digits",
        "env_repo": {"url": str(env_repo)},
        "environments": {"prod": {"namespace": "ml-prod"}},
        "monitor": section,
    }
    path = tmp_path / "ci-plugins.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def seed_release(env_repo: Path) -> str:
    return seed_files(
        env_repo,
        {
            "environments/prod/digits/release.yaml": yaml.safe_dump(RELEASE),
            "environments/prod/digits/manifests/deployment-digits.yaml": "kind: Deployment\n",
        },
    )


def decision_tags(env_repo: Path) -> list[str]:
    return git("for-each-ref", "--format=%(refname)", TAGS, cwd=env_repo).split()


def monitor(cli: CliRunner, *extra: str, env: dict[str, str] | None = None) -> Any:
    variables = {"CI_PLUGINS_GITLAB_TRIGGER_TOKEN": TRIGGER_TOKEN, **(env or {})}
    return cli("monitor", "--env", "prod", "--at", str(ANCHOR), "--json", *extra, env=variables)


Deploy = Callable[..., str]


@pytest.fixture
def deployed(
    tmp_path: Path, env_repo: Path, prometheus: BackfilledPrometheus, forge: ForgeServer
) -> Deploy:
    """deployed(scenario, **monitor): the monitor config of that scenario in tmp_path and a
    prod release in the env repo; returns the env repo's head."""

    def deploy(scenario: str, **monitor: Any) -> str:
        config(tmp_path, env_repo, prometheus, forge, scenario=scenario, **monitor)
        return seed_release(env_repo)

    return deploy
