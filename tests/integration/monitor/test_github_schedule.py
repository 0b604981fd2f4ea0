"""The GitHub example (examples/github/monitor.yml, with the composite action of this
checkout) under act on a `schedule` event: it dispatches ml.yml once, with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.monitor.conftest import ANCHOR, MODEL_REPO, RELEASE, TOKEN, decision_tags
from tests.support.cli import REPO
from tests.support.envrepo import seed_files
from tests.support.forge_server import ForgeServer
from tests.support.pipelines import INSTALL_UNDER_TEST, Act, make_project
from tests.support.prometheus import BackfilledPrometheus


def example_with_local_install() -> str:
    """The example as users copy it; only the install command is this checkout's."""
    text = (REPO / "examples/github/monitor.yml").read_text(encoding="utf-8")
    step = "        with:\n          env: prod\n"
    assert step in text
    return text.replace(step, step + f"          install: {INSTALL_UNDER_TEST}\n")


@pytest.mark.slow
def test_the_scheduled_workflow_dispatches_retraining_with_the_reason(
    tmp_path: Path, env_repo: Path, prometheus: BackfilledPrometheus, forge: ForgeServer
) -> None:
    seed_files(env_repo, {"environments/prod/digits/release.yaml": yaml.safe_dump(RELEASE)})
    config = {
        "app": "digits",
        "env_repo": {"url": str(env_repo)},
        "monitor": {
            "prometheus": prometheus.url,
            "window": "1m",
            "metrics": {"acc": {"query": 'live_accuracy{scenario="degraded"}', "min": 0.9}},
            "trigger": {"forge": "github", "repo": MODEL_REPO, "workflow": "ml.yml"},
        },
    }
    files = {
        ".github/workflows/monitor.yml": example_with_local_install(),
        "ci-plugins.yaml": yaml.safe_dump(config),
    }
    project = make_project(tmp_path / "project", [], files)
    act = Act.create(tmp_path / "act", project)

    result = act(
        "schedule",
        "-W",
        ".github/workflows/monitor.yml",
        "-s",
        f"GITHUB_TOKEN={TOKEN}",
        payload={"schedule": "17 * * * *"},
        env={"GITHUB_API_URL": forge.url, "CI_PLUGINS_AT": str(ANCHOR)},
    )

    assert result.exit_code == 0, str(result)
    [dispatch] = forge.github_dispatches(MODEL_REPO)
    assert dispatch["ref"] == "main"
    assert dispatch["inputs"]["CI_PLUGINS_TRIGGERED_BY"] == "monitor"
    assert "2 of the last 3 windows of 1m" in dispatch["inputs"]["CI_PLUGINS_TRIGGER_REASON"]
    assert decision_tags(env_repo) == ["refs/tags/ci-plugins/retrain/prod/digits/1"]
    assert TOKEN not in result.output
