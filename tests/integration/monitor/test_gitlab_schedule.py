"""The GitLab template under gitlab-ci-local: the monitor job of a pipeline schedule judges
the model against the real Prometheus and triggers the model project's pipeline once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.monitor.conftest import (
    ANCHOR,
    MODEL_PROJECT,
    RELEASE,
    TRIGGER_TOKEN,
    decision_tags,
)
from tests.support.cli import REPO
from tests.support.envrepo import seed_files
from tests.support.forge_server import ForgeServer
from tests.support.pipelines import INSTALL_UNDER_TEST, gitlab_ci_local, make_project
from tests.support.prometheus import BackfilledPrometheus

SCHEDULE = {"CI_PIPELINE_SOURCE": "schedule", "CI_PLUGINS_SCHEDULE": "monitor"}


def project(
    tmp_path: Path, env_repo: Path, prometheus: BackfilledPrometheus, forge: ForgeServer
) -> Path:
    ci = {
        "stages": ["deploy"],
        "include": [
            {
                "local": "pipelines/gitlab/templates/monitor.yml",
                "inputs": {"env": "prod", "install": INSTALL_UNDER_TEST},
            }
        ],
    }
    config = {
        "app": "digits",
        "env_repo": {"url": str(env_repo)},
        "monitor": {
            "prometheus": prometheus.url,
            "window": "1m",
            "metrics": {"acc": {"query": 'live_accuracy{scenario="degraded"}', "min": 0.9}},
            "trigger": {"forge": "gitlab", "url": forge.url, "project": MODEL_PROJECT},
        },
    }
    files = {".gitlab-ci.yml": yaml.safe_dump(ci), "ci-plugins.yaml": yaml.safe_dump(config)}
    return make_project(tmp_path / "p", ["pipelines/gitlab"], files)


@pytest.mark.slow
def test_the_scheduled_monitor_job_triggers_retraining_once(
    tmp_path: Path, env_repo: Path, prometheus: BackfilledPrometheus, forge: ForgeServer
) -> None:
    seed_files(env_repo, {"environments/prod/digits/release.yaml": yaml.safe_dump(RELEASE)})
    repo = project(tmp_path, env_repo, prometheus, forge)
    variables = {
        **SCHEDULE,
        "CI_PLUGINS_AT": str(ANCHOR),
        "CI_PLUGINS_GITLAB_TRIGGER_TOKEN": TRIGGER_TOKEN,
    }

    first = gitlab_ci_local(repo, "monitor-prod", variables=variables)
    second = gitlab_ci_local(repo, "monitor-prod", variables=variables)

    assert first.exit_code == 0, str(first)
    assert "started retraining" in first.output
    assert TRIGGER_TOKEN not in first.output
    # The second run is in the cooldown: exit 1, allowed to fail (a warning), nothing new.
    assert "not triggered" in second.output, str(second)
    assert len(forge.gitlab_pipelines(MODEL_PROJECT)) == 1
    assert decision_tags(env_repo) == ["refs/tags/ci-plugins/retrain/prod/digits/1"]
    report = repo / ".gitlab-ci-local/artifacts/monitor-prod/monitor-report/monitor-report.md"
    assert "Decision: degraded, but not triggered" in report.read_text(encoding="utf-8")


def test_the_monitor_job_runs_only_in_the_monitor_schedule(
    tmp_path: Path, env_repo: Path, prometheus: BackfilledPrometheus, forge: ForgeServer
) -> None:
    repo = project(tmp_path, env_repo, prometheus, forge)

    on_push = gitlab_ci_local(repo, "--list")
    in_schedule = gitlab_ci_local(repo, "--list", variables=SCHEDULE)

    assert "monitor-prod" not in on_push.output, str(on_push)
    assert "monitor-prod" in in_schedule.output, str(in_schedule)


def test_the_documented_include_rules_keep_the_model_pipeline_out_of_the_schedule(
    tmp_path: Path,
) -> None:
    ci = (
        "stages: [build, test, deploy]\n"
        "include:\n"
        "  - local: pipelines/gitlab/templates/pipeline.yml\n"
        '    rules: [{if: $CI_PLUGINS_SCHEDULE != "monitor"}]\n'
        "  - local: pipelines/gitlab/templates/monitor.yml\n"
        "    inputs: {env: prod}\n"
    )
    assert ci.split("\n", 1)[1] in (REPO / "docs/monitor.md").read_text(encoding="utf-8").replace(
        "\n  ", "\n"
    ).replace("   # your usual ci-plugins include", "")
    repo = make_project(tmp_path / "p", ["pipelines/gitlab"], {".gitlab-ci.yml": ci})

    on_push = gitlab_ci_local(repo, "--list").output
    in_schedule = gitlab_ci_local(repo, "--list", variables=SCHEDULE).output

    assert "train" in on_push
    assert "monitor-prod" not in on_push
    assert "monitor-prod" in in_schedule
    assert "train" not in in_schedule
