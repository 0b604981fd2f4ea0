"""This repository's .gitlab-ci.yml (its own templates on examples/digits) under gitlab-ci-local.

One merge-request pipeline trains, gates and renders; the default-branch jobs then promote that
model (the artifacts of the same commit) into a local environment repo and verify it against
the LOCAL CLUSTER EMULATOR, with Argo CD played by a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.envrepo import make_bare_repo, remote_log, remote_yaml
from tests.support.forge_server import ForgeServer
from tests.support.pipelines import (
    INSTALL_UNDER_TEST,
    MR_VARIABLES,
    Run,
    emulated_cluster,
    gitlab_ci_local,
    make_project,
    with_env_repo,
)
from tests.support.registry import start_registry

pytestmark = pytest.mark.slow
TOKEN = "glpat-abcdefghijklmnop0123"
UNDER_TEST = {"CI_PLUGINS_INSTALL_COMMAND": INSTALL_UNDER_TEST}


@dataclass(frozen=True)
class Pipelines:
    project: Path
    env_repo: Path
    mr: Run
    main: Run
    synced: list[str]
    notes: list[str]

    def artifact(self, job: str, path: str) -> Path:
        return self.project / ".gitlab-ci-local" / "artifacts" / job / path


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> Pipelines:
    root = tmp_path_factory.mktemp("gitlab")
    project = make_project(
        root / "project", [".gitlab-ci.yml", "pipelines/gitlab", "examples/digits"]
    )
    env_repo = make_bare_repo(root / "environments.git")
    registry = start_registry(root / "registry")
    with_env_repo(project, env_repo.as_uri(), registry=registry.repository("ml/digits"))
    with ForgeServer(token=TOKEN) as forge:
        forge.add_gitlab_project("ml/digits")
        iid = forge.open_gitlab_mr("ml/digits", source_branch="better-model")
        note_api = {
            "GITLAB_CI": "true",
            "CI_API_V4_URL": f"{forge.url}/api/v4",
            "CI_PROJECT_ID": str(forge.projects["ml/digits"].id),
            "CI_MERGE_REQUEST_IID": str(iid),
            "CI_PLUGINS_GITLAB_TOKEN": TOKEN,
        }
        mr = gitlab_ci_local(
            project,
            "train",
            "gate",
            "render-dev",
            "comment",
            variables={**MR_VARIABLES, **UNDER_TEST, **note_api},
            unset=["CI_COMMIT_BRANCH"],
        )
        notes = [note["body"] for note in forge.gitlab_notes("ml/digits", iid)]
    try:
        with emulated_cluster(root, env_repo) as (kubeconfig, argo):
            main = gitlab_ci_local(
                project,
                "package",
                "render-dev",
                "promote-dev",
                "verify-dev",
                variables={**UNDER_TEST, "KUBECONFIG": str(kubeconfig)},
            )
            synced = list(argo.synced["dev"])
    finally:
        registry.stop()
    return Pipelines(project, env_repo, mr, main, synced, notes)


def test_merge_request_pipeline_trains_gates_and_renders(pipelines: Pipelines) -> None:
    assert pipelines.mr.exit_code == 0, str(pipelines.mr)
    for job in ("train", "gate", "render-dev", "comment"):
        assert f" PASS  {job}" in pipelines.mr.output
    assert "ci-plugins 0.1.0" in pipelines.mr.output  # the checkout under test


def test_merge_request_pipeline_produces_the_gate_report(pipelines: Pipelines) -> None:
    report = pipelines.artifact("gate", "examples/digits/gate-report/gate-report.md")
    assert "gate passed" in report.read_text(encoding="utf-8")
    junit = pipelines.artifact("gate", "examples/digits/gate-report/gate-junit.xml")
    assert "<testsuite" in junit.read_text(encoding="utf-8")
    metrics = pipelines.artifact("gate", "examples/digits/gate-report/metrics.txt")
    assert "accuracy" in metrics.read_text(encoding="utf-8")
    dotenv = pipelines.artifact(
        "gate", ".gitlab-ci-reports/dotenv/examples/digits/ci-plugins.env"
    ).read_text(encoding="utf-8")
    assert "CI_PLUGINS_GATE_VERDICT=passed" in dotenv.splitlines()


def test_merge_request_pipeline_renders_the_first_environment(pipelines: Pipelines) -> None:
    rendered = pipelines.artifact("render-dev", "examples/digits/rendered/dev")
    kinds = {yaml.safe_load(f.read_text())["kind"] for f in rendered.glob("*.yaml")}
    assert "Deployment" in kinds


def test_default_branch_promotes_the_model_into_the_environment_repo(pipelines: Pipelines) -> None:
    assert pipelines.main.exit_code == 0, str(pipelines.main)
    assert " PASS  package" in pipelines.main.output
    assert " PASS  promote-dev" in pipelines.main.output
    head, subject = remote_log(pipelines.env_repo)[0].split(" ", 1)
    assert subject.startswith("promote digits ")
    assert subject.endswith(" to dev")
    release = remote_yaml(pipelines.env_repo, "environments/dev/digits/release.yaml")
    manifest = pipelines.artifact("train", "examples/digits/train-output/model-manifest.json")
    assert str(release["model"]["version"]) in manifest.read_text(encoding="utf-8")
    assert release["model"]["artifact"].startswith("oci://127.0.0.1:")  # packaged, by digest
    promote_env = pipelines.artifact(
        "promote-dev", ".gitlab-ci-reports/dotenv/examples/digits/ci-plugins.env"
    ).read_text(encoding="utf-8")
    assert f"CI_PLUGINS_COMMIT={head}" in promote_env.splitlines()


def test_default_branch_verifies_the_release_healthy(pipelines: Pipelines) -> None:
    assert " PASS  verify-dev" in pipelines.main.output, str(pipelines.main)
    head = remote_log(pipelines.env_repo)[0].split()[0]
    assert pipelines.synced[-1] == head
    assert "healthy" in pipelines.main.output


def test_merge_request_gets_one_note_with_the_gate_table(pipelines: Pipelines) -> None:
    (note,) = pipelines.notes
    assert note.startswith("<!-- ci-plugins:report -->")
    assert "ci-plugins gate passed" in note
    assert "| accuracy |" in note
    # ... and the render diff against what the environment repo records (nothing yet)
    assert "digits in dev: changes to the rendered manifests" in note
    assert "**Objects added**" in note
    assert TOKEN not in pipelines.mr.output


def test_merge_request_note_carries_the_train_report_with_the_trial_table(
    pipelines: Pipelines,
) -> None:
    (note,) = pipelines.notes
    assert "## ci-plugins train: digits" in note
    assert "### Hyper-parameter search" in note  # examples/digits has train.tune
    assert "| rank | trial |" in note
    assert note.index("ci-plugins gate") < note.index("Hyper-parameter search")
    assert note.index("Hyper-parameter search") < note.index("changes to the rendered manifests")


def test_train_searches_in_the_cached_tune_dir(pipelines: Pipelines) -> None:
    # CI_PLUGINS_TUNE_DIR (--tune-dir) is the directory the job's cache: keeps (when: always).
    state = pipelines.project / "examples/digits/.ci-plugins-tune"
    assert list(state.glob("*/ci-plugins-search.json")), sorted(state.rglob("*"))
    assert not (pipelines.artifact("train", "examples/digits/train-output/tuning")).exists()


def test_rollout_and_analyze_jobs_run_the_cli_which_finds_nothing_to_do_here(
    tmp_path: Path,
) -> None:
    """The example's environments are replace ones and its config has no analysis:, so the
    pipeline's rollout and analyze jobs really run ci-plugins, which answers verdict none
    (exit 0): the CLI decides, not the template (#12). No cluster, no Prometheus needed."""
    project = make_project(
        tmp_path / "p", [".gitlab-ci.yml", "pipelines/gitlab", "examples/digits"]
    )
    result = gitlab_ci_local(project, "rollout-dev", "analyze-staging", variables=UNDER_TEST)
    assert result.exit_code == 0, str(result)
    assert " PASS  rollout-dev" in result.output
    assert " PASS  analyze-staging" in result.output
    assert "dev: rollout.strategy is replace, not canary; nothing to roll out" in result.output
    assert "ci-plugins.yaml has no analysis: section; nothing to measure" in result.output
    outputs = (project / "examples/digits/ci-plugins.env").read_text(encoding="utf-8")
    assert "CI_PLUGINS_ROLLOUT_VERDICT=none" in outputs.splitlines()
    assert "CI_PLUGINS_ANALYSIS_VERDICT=none" in outputs.splitlines()
