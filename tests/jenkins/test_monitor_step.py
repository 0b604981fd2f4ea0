"""ciPluginsMonitor under the Groovy harness: inputs reach `ci-plugins monitor` as
CI_PLUGINS_* variables, and only the trigger's credential is bound around it."""

from __future__ import annotations

from pathlib import Path

from tests.support.pipelines import calls, jenkins

CREDENTIALS = {
    "env-repo": {"username": "bot", "password": "s3cr3t-env-token"},
    "monitor-bot": {"username": "monitor-bot", "password": "11a0d9c0e1f2a3b4c5d6e7"},
}
SCRIPT = """
node {
    ciPluginsMonitor(env: 'prod', envRepoCredentialsId: 'env-repo',
        jenkinsCredentialsId: 'monitor-bot', prometheus: 'http://prometheus:9090')
}
"""


def test_monitor_runs_with_its_inputs_and_the_jenkins_api_token(tmp_path: Path) -> None:
    script = tmp_path / "Jenkinsfile"
    script.write_text(SCRIPT, encoding="utf-8")

    record = jenkins(tmp_path / "run", script, credentials=CREDENTIALS)

    assert record["result"] == "SUCCESS", record["log"]
    [run] = [c for c in calls(record, "sh") if c["args"].get("label") == "ci-plugins monitor"]
    assert run["args"]["script"] == "ci-plugins monitor"
    env = run["context"]["env"]
    assert "CI_PLUGINS_ENV=prod" in env
    assert "CI_PLUGINS_PROMETHEUS=http://prometheus:9090" in env
    assert "CI_PLUGINS_REPORT_DIR=monitor-report" in env
    assert set(run["context"]["secrets"]) == {
        "CI_PLUGINS_JENKINS_USER",
        "CI_PLUGINS_JENKINS_TOKEN",
        "CI_PLUGINS_GIT_USERNAME",
        "CI_PLUGINS_GIT_TOKEN",
    }
    assert "11a0d9c0e1f2a3b4c5d6e7" not in str(env)


def test_a_degraded_run_in_the_cooldown_fails_the_build_without_retrying(tmp_path: Path) -> None:
    script = tmp_path / "Jenkinsfile"
    script.write_text(SCRIPT, encoding="utf-8")

    record = jenkins(
        tmp_path / "run",
        script,
        credentials=CREDENTIALS,
        sh=[{"match": "ci-plugins monitor", "status": [1]}],
    )

    assert record["result"] == "FAILURE"
    runs = [c for c in calls(record, "sh") if c["args"].get("label") == "ci-plugins monitor"]
    assert len(runs) == 1
