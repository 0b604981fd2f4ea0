"""`ci-plugins monitor` against a real Prometheus, a real environment repo and the local
forge server: degraded 2 of 3 triggers once, the cooldown and a concurrent run trigger
nothing, healthy and no-data trigger nothing, and a failed trigger records nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.monitor.conftest import (
    ANCHOR,
    JENKINS_JOB,
    JENKINS_TOKEN,
    MODEL_PROJECT,
    MODEL_REPO,
    TAGS,
    TOKEN,
    TRIGGER_TOKEN,
    Deploy,
    config,
    decision_tags,
    monitor,
    seed_release,
)
from tests.support.cli import CliRunner, clean_env
from tests.support.envrepo import git, install_hook, remote_head
from tests.support.forge_server import ForgeServer
from tests.support.prometheus import BackfilledPrometheus


def test_degraded_in_2_of_3_windows_triggers_retraining_once(
    tmp_path: Path, cli: CliRunner, env_repo: Path, forge: ForgeServer, deployed: Deploy
) -> None:
    head = deployed("degraded")

    first = monitor(cli, "--report-dir", "reports")

    assert first.exit_code == 0, first.stderr
    result = first.json
    assert (result["verdict"], result["triggered"]) == ("degraded", True)
    [pipeline] = forge.gitlab_pipelines(MODEL_PROJECT)
    assert result["pipeline"] == pipeline["web_url"]
    assert pipeline["ref"] == "main"
    assert pipeline["variables"]["CI_PLUGINS_TRIGGERED_BY"] == "monitor"
    assert pipeline["variables"]["CI_PLUGINS_TRIGGER_ENV"] == "prod"
    reason = pipeline["variables"]["CI_PLUGINS_TRIGGER_REASON"]
    assert "2 of the last 3 windows of 1m" in reason
    assert "live_accuracy 0.82 < min 0.9, 0.8 < min 0.9" in reason
    assert [w["status"] for w in result["windows"]] == ["violated", "violated", "ok"]
    assert [w["readings"][0]["value"] for w in result["windows"]] == pytest.approx(
        [0.82, 0.80, 0.97]
    )
    assert [w["end"] for w in result["windows"]] == [ANCHOR, ANCHOR - 60, ANCHOR - 120]
    # The decision is a tag on the release's commit; the branch did not move.
    assert decision_tags(env_repo) == [TAGS + "1"]
    assert pipeline["variables"]["CI_PLUGINS_TRIGGER_RECORD"] == TAGS + "1"
    assert git("rev-parse", TAGS + "1^{commit}", cwd=env_repo).strip() == head
    assert remote_head(env_repo) == head
    markdown = (tmp_path / "reports" / "monitor-report.md").read_text()
    assert "| 0 |" in markdown
    assert "0.82" in markdown
    assert "≥ 0.9" in markdown
    assert "started retraining" in markdown

    second = monitor(cli)

    assert second.exit_code == 1, second.stderr
    assert (second.json["verdict"], second.json["triggered"]) == ("degraded", False)
    assert second.json["pipeline"] is None
    assert "not triggered" in second.stderr
    assert "cooldown lasts until" in second.stderr
    assert len(forge.gitlab_pipelines(MODEL_PROJECT)) == 1
    assert decision_tags(env_repo) == [TAGS + "1"]


def test_a_decision_older_than_the_cooldown_allows_the_next_trigger(
    cli: CliRunner, env_repo: Path, forge: ForgeServer, deployed: Deploy
) -> None:
    head = deployed("degraded", cooldown="1h")
    two_hours_ago = time.time() - 7200
    message = f"earlier\n\ndecided_at_unix: {two_hours_ago}\nreason: an earlier dip\n"
    git("tag", "-a", "-m", message, "ci-plugins/retrain/prod/digits/1", head, cwd=env_repo)

    again = monitor(cli)

    assert again.exit_code == 0, again.stderr
    assert len(forge.gitlab_pipelines(MODEL_PROJECT)) == 1
    assert decision_tags(env_repo) == [TAGS + "1", TAGS + "2"]
    variables = forge.gitlab_pipelines(MODEL_PROJECT)[0]["variables"]
    assert variables["CI_PLUGINS_TRIGGER_RECORD"] == TAGS + "2"


def test_concurrent_runs_trigger_once(
    tmp_path: Path, env_repo: Path, forge: ForgeServer, deployed: Deploy
) -> None:
    deployed("degraded")
    argv = [sys.executable, "-m", "ci_plugins", "monitor", "--env", "prod", "--at", str(ANCHOR)]
    env = clean_env({"CI_PLUGINS_GITLAB_TRIGGER_TOKEN": TRIGGER_TOKEN})
    runs = [
        subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    logs = [run.communicate(timeout=120)[1] for run in runs]
    codes = sorted(run.returncode for run in runs)

    assert codes == [0, 1, 1], logs
    assert sum("not triggered" in log for log in logs) == 2
    assert len(forge.gitlab_pipelines(MODEL_PROJECT)) == 1
    assert decision_tags(env_repo) == [TAGS + "1"]


@pytest.mark.parametrize(
    ("scenario", "exit_code", "verdict", "words"),
    [
        pytest.param("healthy", 0, "ok", "is ok; nothing triggered", id="healthy"),
        pytest.param("one-dip", 0, "ok", "is ok; nothing triggered", id="1-of-3"),
        pytest.param("gap", 0, "ok", "1 window(s) without data", id="one-empty-window"),
        pytest.param("silent", 1, "no-data", "no data: none of the last 3 windows", id="none"),
        pytest.param("recent-silence", 1, "no-data", "no data", id="old-data-only"),
    ],
)
def test_nothing_is_triggered_unless_degraded(
    cli: CliRunner,
    env_repo: Path,
    forge: ForgeServer,
    scenario: str,
    exit_code: int,
    verdict: str,
    words: str,
    deployed: Deploy,
) -> None:
    deployed(scenario)

    result = monitor(cli)

    assert result.exit_code == exit_code, result.stderr
    assert (result.json["verdict"], result.json["triggered"]) == (verdict, False)
    assert words in result.stderr
    assert forge.pipelines_started() == 0
    assert decision_tags(env_repo) == []


def test_no_data_windows_are_reported_as_such(cli: CliRunner, deployed: Deploy) -> None:
    deployed("gap")

    windows = monitor(cli).json["windows"]

    assert [w["status"] for w in windows] == ["ok", "no-data", "ok"]
    assert windows[1]["readings"][0]["value"] is None


def test_any_metric_breaking_its_bound_counts_for_the_window(
    cli: CliRunner, deployed: Deploy
) -> None:
    metrics = {
        "live_accuracy": {"query": 'live_accuracy{scenario="degraded"}', "min": 0.81},
        "drift": {
            "query": 'max_over_time(prediction_drift{scenario="degraded"}[{window}])',
            "max": 0.2,
        },
    }
    deployed("degraded", metrics=metrics)

    result = monitor(cli)

    # Window 0: accuracy 0.82 is fine, drift 0.05; window 1: accuracy 0.80 and drift 0.40.
    assert [w["status"] for w in result.json["windows"]] == ["ok", "violated", "ok"]
    assert result.json["verdict"] == "ok"


@pytest.mark.parametrize(
    ("trigger", "variable_env"),
    [
        pytest.param(
            {"forge": "github", "repo": MODEL_REPO, "workflow": "ml.yml", "ref": "main"},
            {"CI_PLUGINS_GITHUB_TOKEN": TOKEN},
            id="github-workflow-dispatch",
        ),
        pytest.param(
            {"forge": "jenkins", "job": JENKINS_JOB},
            {"CI_PLUGINS_JENKINS_USER": "monitor-bot", "CI_PLUGINS_JENKINS_TOKEN": JENKINS_TOKEN},
            id="jenkins-build-with-parameters",
        ),
    ],
)
def test_github_and_jenkins_pipelines_are_started_with_the_reason(
    cli: CliRunner,
    env_repo: Path,
    forge: ForgeServer,
    trigger: dict[str, Any],
    variable_env: dict[str, str],
    deployed: Deploy,
) -> None:
    trigger = {**trigger, "url": forge.url}
    deployed("degraded", trigger=trigger)

    result = monitor(cli, env={"GITHUB_SERVER_URL": "https://github.example", **variable_env})

    assert result.exit_code == 0, result.stderr
    if trigger["forge"] == "github":
        [started] = forge.github_dispatches(MODEL_REPO)
        assert started["ref"] == "main"
        values = started["inputs"]
        assert result.json["pipeline"].startswith("https://github.example/acme/digits/actions")
    else:
        [values] = forge.jenkins_builds(JENKINS_JOB)
        assert result.json["pipeline"].startswith(f"{forge.url}/queue/item/")
    assert values["CI_PLUGINS_TRIGGERED_BY"] == "monitor"
    assert "2 of the last 3 windows" in values["CI_PLUGINS_TRIGGER_REASON"]
    assert decision_tags(env_repo) == [TAGS + "1"]


@pytest.mark.parametrize(
    ("status", "exit_code", "words"),
    [
        pytest.param(401, 2, "check CI_PLUGINS_GITLAB_TRIGGER_TOKEN", id="401-names-token"),
        pytest.param(502, 3, "gave up after 3 attempts", id="5xx-retried-then-3"),
    ],
)
def test_a_failed_trigger_records_no_decision(
    cli: CliRunner,
    env_repo: Path,
    forge: ForgeServer,
    status: int,
    exit_code: int,
    words: str,
    deployed: Deploy,
) -> None:
    head = deployed("degraded")
    forge.fail(status, path_contains="/trigger/pipeline", times=5)

    result = monitor(cli)

    assert result.exit_code == exit_code, result.stderr
    assert words in result.stderr
    assert TRIGGER_TOKEN not in result.stderr + result.stdout
    attempts = [r for r in forge.requests if r.path.endswith("/trigger/pipeline")]
    assert len(attempts) == (3 if status >= 500 else 1)
    assert forge.pipelines_started() == 0
    assert decision_tags(env_repo) == []
    assert remote_head(env_repo) == head
    # Once the forge answers again, the next run triggers.
    forge.faults.clear()
    assert monitor(cli).exit_code == 0
    assert len(forge.gitlab_pipelines(MODEL_PROJECT)) == 1


def test_a_wrong_trigger_token_is_bad_input_naming_the_variable(
    cli: CliRunner, env_repo: Path, deployed: Deploy
) -> None:
    deployed("degraded")

    result = monitor(cli, env={"CI_PLUGINS_GITLAB_TRIGGER_TOKEN": "glptt-wrong-0000000000"})

    assert result.exit_code == 2, result.stderr
    assert "HTTP 404" in result.stderr
    assert "CI_PLUGINS_GITLAB_TRIGGER_TOKEN" in result.stderr
    assert decision_tags(env_repo) == []


def test_monitor_imports_neither_tensorflow_nor_the_emulator(
    tmp_path: Path, deployed: Deploy
) -> None:
    deployed("healthy")
    argv = ["monitor", "--env", "prod", "--at", str(ANCHOR)]
    code = (
        "import sys; from ci_plugins.cli import main; "
        f"rc = main({argv!r}); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; "
        "assert not [m for m in sys.modules if m.startswith(('kmock', 'ci_plugins_emulator'))]; "
        "sys.exit(rc)"
    )
    env = clean_env({"CI_PLUGINS_GITLAB_TRIGGER_TOKEN": TRIGGER_TOKEN})
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


# Plays the other monitor run of a race: when our decision tag arrives, it creates that tag
# first (outside the push's quarantine), so our push is refused as a real loser's would be.
RACING_RUN = r"""
while read old new ref; do
  case "$ref" in
    refs/tags/ci-plugins/retrain/*)
      [ -f "$GIT_DIR/raced" ] && continue
      touch "$GIT_DIR/raced"
      commit=$(git rev-parse refs/heads/main)
      body=$(printf 'other run\n\ndecided_at_unix: %s\nreason: the other run saw it too\n' \
        "$(date +%s)")
      (unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
       printf '%s\n' "$body" | git -c user.name=other -c user.email=o@example.com \
         tag -a -F - "${ref#refs/tags/}" "$commit")
      ;;
  esac
done
exit 0
"""


def test_the_loser_of_a_race_for_the_decision_reads_the_winners_and_triggers_nothing(
    cli: CliRunner, env_repo: Path, forge: ForgeServer, deployed: Deploy
) -> None:
    deployed("degraded")
    install_hook(env_repo, "pre-receive", RACING_RUN)

    result = monitor(cli)

    assert result.exit_code == 1, result.stderr
    assert "another monitor run recorded a decision first" in result.stderr
    assert "(decision 1: the other run saw it too)" in result.stderr
    assert result.json["triggered"] is False
    assert forge.pipelines_started() == 0
    assert decision_tags(env_repo) == [TAGS + "1"]
    tagger = git("for-each-ref", "--format=%(taggername)", TAGS + "1", cwd=env_repo)
    assert tagger.strip() == "other"


def test_without_monitor_prometheus_the_analysis_prometheus_is_read(
    tmp_path: Path,
    cli: CliRunner,
    env_repo: Path,
    prometheus: BackfilledPrometheus,
    forge: ForgeServer,
) -> None:
    path = config(tmp_path, env_repo, prometheus, forge, scenario="healthy")
    data = yaml.safe_load(path.read_text())
    del data["monitor"]["prometheus"]
    data["analysis"] = {"prometheus": prometheus.url}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    seed_release(env_repo)

    result = monitor(cli)

    assert result.exit_code == 0, result.stderr
    assert result.json["verdict"] == "ok"
