"""The Jenkins shared library under real Groovy, with the pipeline steps recorded.

The root Jenkinsfile (this repository's own pipeline) drives ciPluginsPipeline; `sh` returns
scripted exit codes, so these tests check the wiring: stages, agents, locks, approvals,
credentials, reports, and that only exit code 3 is retried.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import REPO
from tests.support.pipelines import calls, jenkins

JENKINSFILE = REPO / "Jenkinsfile"
CREDENTIALS = {
    "env-repo-token": {"username": "bot", "password": "s3cr3t-token"},
    "kubeconfig-dev": {"file": "apiVersion: v1"},
    "kubeconfig-staging": {"file": "apiVersion: v1"},
}


@pytest.fixture(scope="module")
def main_record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the root Jenkinsfile on main, everything succeeding."""
    record = run_pipeline(tmp_path_factory.mktemp("main"))
    assert record["result"] == "SUCCESS", record["log"]
    return record


def run_pipeline(tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("env", {"BRANCH_NAME": "main"})
    kwargs.setdefault("credentials", CREDENTIALS)
    return jenkins(tmp_path, JENKINSFILE, **kwargs)


def step_runs(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in calls(record, "sh") if c["args"].get("label", "").startswith("ci-plugins ")]


def test_main_branch_trains_on_the_gpu_agent_and_deploys_each_environment(
    main_record: dict[str, Any],
) -> None:
    record = main_record
    runs = [(c["args"]["script"], c["context"]["stage"]) for c in step_runs(record)]
    assert runs == [
        ("ci-plugins train", "Train"),
        ("ci-plugins gate", "Gate"),
        ("ci-plugins package", "Package"),
        ("ci-plugins render", "Deploy dev"),
        ("ci-plugins promote", "Deploy dev"),
        ("ci-plugins promote", "Promote dev to staging"),
        ("ci-plugins analyze", "Analyze staging"),
        ("ci-plugins promote", "Promote staging to prod"),
    ]
    train = step_runs(record)[0]
    assert train["context"]["node"] == "gpu"
    assert train["context"]["dir"] == "examples/digits"
    assert "CI_PLUGINS_REQUIRE_GPU=false" in train["context"]["env"]
    assert "CI_PLUGINS_OUTPUT_DIR=train-output" in train["context"]["env"]


def test_inputs_reach_the_cli_as_environment_variables_not_shell_words(
    main_record: dict[str, Any],
) -> None:
    record = main_record
    promote = step_runs(record)[4]
    assert promote["args"]["script"] == "ci-plugins promote"
    env = promote["context"]["env"]
    assert "CI_PLUGINS_ENV=dev" in env
    assert "CI_PLUGINS_RENDERED=rendered/dev" in env
    assert "CI_PLUGINS_MANIFEST=train-output/model-manifest.json" in env
    staging = step_runs(record)[5]["context"]["env"]
    assert "CI_PLUGINS_FROM_ENV=dev" in staging
    assert "CI_PLUGINS_TO_ENV=staging" in staging
    assert not any(e.startswith("CI_PLUGINS_RENDERED=") for e in staging)


def test_deploys_run_under_a_lock_per_environment_after_a_milestone(
    main_record: dict[str, Any],
) -> None:
    record = main_record
    promotes = [c for c in step_runs(record) if c["args"]["script"] == "ci-plugins promote"]
    assert [c["context"]["locks"] for c in promotes] == [["env-dev"], ["env-staging"], ["env-prod"]]
    assert [c["args"] for c in calls(record, "milestone")] == [1, 2, 3]
    # node() is taken inside lock(): no executor waits for the lock (staging's analysis too).
    deploy_nodes = [c for c in calls(record, "node") if c["context"]["locks"]]
    assert [n["context"]["locks"] for n in deploy_nodes] == [
        ["env-dev"],
        ["env-staging"],
        ["env-staging"],
        ["env-prod"],
    ]


def test_prod_waits_for_an_approver_outside_any_executor(main_record: dict[str, Any]) -> None:
    record = main_record
    (approval,) = calls(record, "input")
    assert approval["args"]["submitter"] == "ml-leads"
    assert approval["context"]["node"] is None
    assert approval["context"]["locks"] == []
    assert approval["context"]["stage"] == "Approve prod"


def test_an_aborted_approval_promotes_nothing_to_prod(tmp_path: Path) -> None:
    record = run_pipeline(tmp_path, input_answer="abort")
    assert record["result"] == "FAILURE"
    stages = [c["context"]["stage"] for c in step_runs(record)]
    assert "Promote staging to prod" not in stages


def test_credentials_are_bound_by_id_around_promote(main_record: dict[str, Any]) -> None:
    record = main_record
    promote = step_runs(record)[3]
    # Least privilege: promote gets the env-repo token, not the kubeconfig.
    assert set(promote["context"]["secrets"]) == {"CI_PLUGINS_GIT_USERNAME", "CI_PLUGINS_GIT_TOKEN"}
    assert "s3cr3t-token" not in str(promote["context"]["env"])
    bound = calls(record, "withCredentials")[0]["args"]
    assert bound[0]["credentialsId"] == "env-repo-token"


def test_missing_credentials_fail_the_first_stage_that_needs_them_naming_the_id(
    tmp_path: Path,
) -> None:
    record = run_pipeline(tmp_path, credentials={})
    assert record["result"] == "FAILURE"
    assert record["error"] == "Could not find credentials entry with ID 'env-repo-token'"
    # The gate reads its baseline from the environment repo with that credential.
    assert [c["args"]["script"] for c in step_runs(record)][-1] == "ci-plugins train"


def test_gate_reports_are_published_even_when_the_gate_fails(tmp_path: Path) -> None:
    record = run_pipeline(tmp_path, sh=[{"match": "ci-plugins gate", "status": [1]}])
    assert record["result"] == "FAILURE"
    assert record["error"] == "ci-plugins gate failed with exit code 1 (see the log above)"
    junit = calls(record, "junit")[0]
    assert junit["args"]["testResults"] == "examples/digits/gate-report/*.xml"
    assert junit["context"]["stage"] == "Gate"
    archived = [c["args"]["artifacts"] for c in calls(record, "archiveArtifacts")]
    assert "examples/digits/gate-report/**" in archived
    assert [c["args"]["script"] for c in step_runs(record)] == [
        "ci-plugins train",
        "ci-plugins gate",
    ]


@pytest.mark.parametrize(
    ("statuses", "runs", "result"),
    [
        pytest.param([3, 0], 2, "SUCCESS", id="outside-failure-then-ok"),
        pytest.param([3, 3, 3], 3, "FAILURE", id="outside-failure-persists"),
        pytest.param([1], 1, "FAILURE", id="a-check-said-no"),
        pytest.param([2], 1, "FAILURE", id="bad-input"),
    ],
)
def test_only_exit_code_3_is_retried(
    tmp_path: Path, statuses: list[int], runs: int, result: str
) -> None:
    record = run_pipeline(tmp_path, sh=[{"match": "ci-plugins train", "status": statuses}])
    trains = [c for c in step_runs(record) if c["args"]["script"] == "ci-plugins train"]
    assert len(trains) == runs
    assert record["result"] == result


def test_change_requests_train_gate_and_preview_the_render_but_never_package(
    tmp_path: Path,
) -> None:
    record = run_pipeline(tmp_path, env={"BRANCH_NAME": "PR-7", "CHANGE_ID": "7"})
    assert record["result"] == "SUCCESS"
    runs = step_runs(record)
    assert [(c["args"]["script"], c["context"]["stage"]) for c in runs] == [
        ("ci-plugins train", "Train"),
        ("ci-plugins gate", "Gate"),
        ("ci-plugins render", "Render dev"),
    ]
    render = runs[2]["context"]["env"]
    assert "CI_PLUGINS_PREVIEW=true" in render
    assert "CI_PLUGINS_DIFF_AGAINST_ENV=true" in render
    archived = [c["args"]["artifacts"] for c in calls(record, "archiveArtifacts")]
    assert "examples/digits/rendered/dev/render-diff.md" in archived
    assert not calls(record, "lock")
    assert not calls(record, "input")


def test_the_gate_compares_with_the_first_environment(main_record: dict[str, Any]) -> None:
    gate = next(c for c in step_runs(main_record) if c["args"]["script"] == "ci-plugins gate")
    assert "CI_PLUGINS_ENV=dev" in gate["context"]["env"]
    assert "CI_PLUGINS_GIT_TOKEN" in gate["context"]["secrets"]


def test_the_default_branch_packages_before_it_renders_and_deploys(
    main_record: dict[str, Any],
) -> None:
    package = next(c for c in step_runs(main_record) if c["args"]["script"] == "ci-plugins package")
    assert "CI_PLUGINS_MANIFEST=train-output/model-manifest.json" in package["context"]["env"]
    stashes = [c["args"] for c in calls(main_record, "stash")]
    assert {"name": "packaged", "includes": "examples/digits/train-output/model-manifest.json"} in (
        stashes
    )
    deploy = [
        c["args"] for c in calls(main_record, "unstash") if c["context"]["stage"] == "Deploy dev"
    ]
    assert deploy == ["train-output", "packaged"]  # the packaged manifest over train's copy


def test_the_whole_pipeline_runs_under_a_timeout(main_record: dict[str, Any]) -> None:
    (timeout,) = calls(main_record, "timeout")
    assert timeout["args"] == {"time": 240, "unit": "MINUTES"}
    assert timeout["context"]["stage"] is None


def test_the_default_install_pins_the_library_version(tmp_path: Path) -> None:
    script = tmp_path / "Jenkinsfile"
    script.write_text("node { ciPluginsGate(projectDir: 'app') }\n", encoding="utf-8")
    record = jenkins(tmp_path / "run", script)
    installs = [c["args"]["script"] for c in calls(record, "sh")][:1]
    assert installs == ["python3 -m pip install --quiet 'ci-plugins==0.1.0'"]


def test_gpu_training_installs_tensorflow_with_cuda_by_default(tmp_path: Path) -> None:
    script = tmp_path / "Jenkinsfile"
    script.write_text("node('gpu') { ciPluginsTrain() }\n", encoding="utf-8")
    record = jenkins(tmp_path / "run", script)
    installs = [c["args"]["script"] for c in calls(record, "sh")][:1]
    assert installs == ["python3 -m pip install --quiet 'ci-plugins[gpu]==0.1.0'"]


def test_verify_follows_a_promote_commit_with_the_environments_kubeconfig(tmp_path: Path) -> None:
    outputs = tmp_path / "examples" / "digits" / "ci-plugins-promote.properties"
    outputs.parent.mkdir(parents=True)
    outputs.write_text("CI_PLUGINS_COMMIT=0123abc\n", encoding="utf-8")
    record = run_pipeline(tmp_path)
    verifies = [c for c in step_runs(record) if c["args"]["script"] == "ci-plugins verify"]
    assert [v["context"]["locks"] for v in verifies] == [["env-dev"], ["env-staging"], ["env-prod"]]
    assert set(verifies[0]["context"]["secrets"]) == {
        "CI_PLUGINS_GIT_USERNAME",
        "CI_PLUGINS_GIT_TOKEN",
        "KUBECONFIG",
    }
    assert "CI_PLUGINS_ROLLBACK_ON_FAILURE=true" in verifies[0]["context"]["env"]
    # prod has no kubeconfig credential configured in the Jenkinsfile
    assert "KUBECONFIG" not in verifies[2]["context"]["secrets"]


def test_train_keeps_the_search_state_beside_the_workspace(main_record: dict[str, Any]) -> None:
    train = step_runs(main_record)[0]
    assert train["args"]["script"] == "ci-plugins train"
    workspace = main_record["workspace"]
    tune_dir = f"CI_PLUGINS_TUNE_DIR={workspace}@ci-plugins-tune/examples/digits"
    assert tune_dir in train["context"]["env"]  # ci-plugins train --tune-dir ...
    assert not any(e.startswith("CI_PLUGINS_TUNE_LOCK=") for e in train["context"]["env"])


def test_train_passes_a_tune_lock_and_tune_dir_when_given(tmp_path: Path) -> None:
    script = tmp_path / "Jenkinsfile"
    script.write_text(
        "node('gpu') { ciPluginsTrain(projectDir: 'p', tuneDir: '/cache/tune', "
        "tuneLock: 'tune-lock.json', install: '') }\n",
        encoding="utf-8",
    )
    record = jenkins(tmp_path, script)
    assert record["result"] == "SUCCESS", record["log"]
    (train,) = step_runs(record)
    assert "CI_PLUGINS_TUNE_DIR=/cache/tune" in train["context"]["env"]
    assert "CI_PLUGINS_TUNE_LOCK=tune-lock.json" in train["context"]["env"]


CHANGE = {
    "BRANCH_NAME": "MR-7",
    "CHANGE_ID": "7",
    "CHANGE_URL": "https://gitlab.example.com/ml/digits/-/merge_requests/7",
}
FORGE = {**CREDENTIALS, "forge-token": {"secret": "glpat-forge-token-0123456789"}}


def with_forge_credential(tmp_path: Path) -> Path:
    """The example Jenkinsfile with forgeCredentialsId: 'forge-token' (notes enabled)."""
    script = tmp_path / "Jenkinsfile"
    script.write_text(
        JENKINSFILE.read_text(encoding="utf-8").replace(
            "ciPluginsPipeline(\n", "ciPluginsPipeline(\n    forgeCredentialsId: 'forge-token',\n"
        ),
        encoding="utf-8",
    )
    return script


def test_a_change_request_gets_one_note_with_the_gate_train_and_render_reports(
    tmp_path: Path,
) -> None:
    script = with_forge_credential(tmp_path)
    record = jenkins(tmp_path, script, env=CHANGE, credentials=FORGE)
    assert record["result"] == "SUCCESS", record["log"]
    runs = [(c["args"]["script"], c["context"]["stage"]) for c in step_runs(record)]
    assert runs == [
        ("ci-plugins train", "Train"),
        ("ci-plugins gate", "Gate"),
        ("ci-plugins comment", "Gate"),  # even when the gate fails (below)
        ("ci-plugins render", "Render dev"),
        ("ci-plugins comment", "Render dev"),  # the same note, now with the render diff
    ]
    final = step_runs(record)[-1]["context"]
    assert (
        "CI_PLUGINS_BODY_FILE=gate-report/gate-report.md,train-output/train-report.md,"
        "rendered/dev/render-diff.md"
    ) in final["env"]
    assert final["dir"] == "examples/digits"
    assert "CI_PLUGINS_GITLAB_TOKEN" in final["secrets"]  # from the forge credential, by ID
    assert "glpat-forge-token" not in record["log"]


def test_a_failed_gate_still_notes_the_change_request_and_a_failed_note_never_fails_it(
    tmp_path: Path,
) -> None:
    script = with_forge_credential(tmp_path)
    failed_gate = jenkins(
        tmp_path / "gate",
        script,
        env=CHANGE,
        credentials=FORGE,
        sh=[{"match": "ci-plugins gate", "status": [1]}],
    )
    assert failed_gate["result"] == "FAILURE"
    comment = [c for c in step_runs(failed_gate) if c["args"]["script"] == "ci-plugins comment"]
    assert len(comment) == 1
    assert (
        "CI_PLUGINS_BODY_FILE=gate-report/gate-report.md,train-output/train-report.md"
        in comment[0]["context"]["env"]
    )
    refused = jenkins(
        tmp_path / "refused",
        script,
        env=CHANGE,
        credentials=FORGE,
        sh=[{"match": "ci-plugins comment", "status": [2]}],
    )
    assert refused["result"] == "SUCCESS", refused["log"]
    assert [c["args"]["stageResult"] for c in calls(refused, "caught")] == ["UNSTABLE"] * 2


def test_without_a_forge_credential_a_change_request_gets_no_note(tmp_path: Path) -> None:
    record = run_pipeline(tmp_path, env=CHANGE)
    assert record["result"] == "SUCCESS"
    assert not [c for c in step_runs(record) if c["args"]["script"] == "ci-plugins comment"]
    messages = [c["args"]["message"] for c in calls(record, "echo")]
    assert "ci-plugins: no forgeCredentialsId, so no merge/pull request note" in messages
