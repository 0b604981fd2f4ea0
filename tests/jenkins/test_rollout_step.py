"""ciPluginsRollout and where the pipelines call it (and analyze before the last environment):
the library under real Groovy with the pipeline steps recorded."""

from __future__ import annotations

from pathlib import Path

from tests.jenkins.test_library import run_pipeline, step_runs
from tests.support.cli import REPO
from tests.support.pipelines import calls, jenkins


def test_rollout_passes_its_keys_as_environment_variables(tmp_path: Path) -> None:
    script = tmp_path / "Jenkinsfile"
    script.write_text(
        "node { ciPluginsRollout(env: 'prod', ifCanary: true, stepTimeout: 300) }\n",
        encoding="utf-8",
    )
    record = jenkins(tmp_path / "run", script)
    (run,) = [c for c in calls(record, "sh") if c["args"]["script"] == "ci-plugins rollout"]
    env = run["context"]["env"]
    assert "CI_PLUGINS_ENV=prod" in env
    assert "CI_PLUGINS_IF_CANARY=true" in env
    assert "CI_PLUGINS_TIMEOUT=300" in env
    assert "CI_PLUGINS_REPORT_DIR=rollout-report" in env
    assert "CI_PLUGINS_SUMMARY_FILE=ci-plugins-rollout.md" in env


def test_a_rollout_that_says_no_fails_the_build_and_only_exit_3_is_retried(tmp_path: Path) -> None:
    script = tmp_path / "Jenkinsfile"
    script.write_text("node { ciPluginsRollout(env: 'prod') }\n", encoding="utf-8")
    sh = [{"match": "ci-plugins rollout", "status": [3, 1]}]
    record = jenkins(tmp_path / "run", script, sh=sh)
    assert record["result"] == "FAILURE"
    runs = [c for c in calls(record, "sh") if c["args"]["script"] == "ci-plugins rollout"]
    assert len(runs) == 2  # 3 retried once, then 1 (aborted or inconclusive) is final
    assert record["error"] == "ci-plugins rollout failed with exit code 1 (see the log above)"


def test_the_pipeline_rolls_out_after_each_promote_commit_under_the_lock(tmp_path: Path) -> None:
    outputs = tmp_path / "examples" / "digits" / "ci-plugins-promote.properties"
    outputs.parent.mkdir(parents=True)
    outputs.write_text("CI_PLUGINS_COMMIT=0123abc\n", encoding="utf-8")
    record = run_pipeline(tmp_path)
    assert record["result"] == "SUCCESS", record["log"]
    rollouts = [c for c in step_runs(record) if c["args"]["script"] == "ci-plugins rollout"]
    assert [r["context"]["locks"] for r in rollouts] == [["env-dev"], ["env-staging"], ["env-prod"]]
    for rollout, env in zip(rollouts, ("dev", "staging", "prod"), strict=True):
        assert f"CI_PLUGINS_ENV={env}" in rollout["context"]["env"]
        assert "CI_PLUGINS_IF_CANARY=true" in rollout["context"]["env"]  # the CLI decides
    scripts = [c["args"]["script"] for c in step_runs(record)]
    assert scripts.index("ci-plugins rollout") == scripts.index("ci-plugins verify") + 1
    reports = [c["args"]["testResults"] for c in calls(record, "junit")]
    assert "examples/digits/verify-report/*.xml,examples/digits/rollout-report/*.xml" in reports


def test_staging_is_analyzed_under_its_lock_before_the_prod_approval(tmp_path: Path) -> None:
    record = run_pipeline(tmp_path)
    assert record["result"] == "SUCCESS", record["log"]
    (analyze,) = [c for c in step_runs(record) if c["args"]["script"] == "ci-plugins analyze"]
    assert analyze["context"]["stage"] == "Analyze staging"
    assert analyze["context"]["locks"] == ["env-staging"]
    env = analyze["context"]["env"]
    assert "CI_PLUGINS_ENV=staging" in env
    assert "CI_PLUGINS_IF_CONFIGURED=true" in env  # without analysis: verdict none, exit 0
    stages = [c["args"]["name"] for c in calls(record, "stage")]
    assert stages.index("Analyze staging") < stages.index("Approve prod")


def test_a_failed_staging_analysis_promotes_nothing_to_prod(tmp_path: Path) -> None:
    record = run_pipeline(tmp_path, sh=[{"match": "ci-plugins analyze", "status": [1]}])
    assert record["result"] == "FAILURE"
    stages = [c["context"]["stage"] for c in step_runs(record)]
    assert "Promote staging to prod" not in stages
    assert calls(record, "input") == []


def _env_repo_pipeline(tmp_path: Path, *, with_config: bool) -> list[str]:
    workspace = tmp_path / "ws"
    workspace.mkdir(parents=True)
    if with_config:
        (workspace / "ci-plugins.yaml").write_text("app: digits\n", encoding="utf-8")
    script = REPO / "examples" / "env-repo" / "Jenkinsfile"
    credentials = {
        name: {"file": "apiVersion: v1"}
        for name in ("kubeconfig-dev", "kubeconfig-staging", "kubeconfig-prod")
    }
    credentials["env-repo-token"] = {"username": "bot", "password": "t"}
    record = jenkins(
        tmp_path / "run",
        script,
        workspace=workspace,
        env={"BRANCH_NAME": "main"},
        credentials=credentials,
    )
    assert record["result"] == "SUCCESS", record["log"]
    return [f"{c['args']['script']} {c['context']['locks']}" for c in step_runs(record)]


def test_the_env_repo_pipeline_rolls_out_after_verify_when_it_holds_the_config(
    tmp_path: Path,
) -> None:
    assert _env_repo_pipeline(tmp_path / "a", with_config=True) == [
        f"ci-plugins {step} ['env-{env}']"
        for env in ("dev", "staging", "prod")
        for step in ("verify", "rollout")
    ]
    assert _env_repo_pipeline(tmp_path / "b", with_config=False) == [
        f"ci-plugins verify ['env-{env}']" for env in ("dev", "staging", "prod")
    ]
