"""This repository's Jenkinsfile (ciPluginsPipeline from pipelines/jenkins) under real Groovy,
with `sh` really running: train, gate, deploy dev, promote to staging, each verified against
the LOCAL CLUSTER EMULATOR; the approval before prod is declined.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.envrepo import make_bare_repo, remote_log, remote_yaml
from tests.support.pipelines import (
    INSTALL_UNDER_TEST,
    calls,
    emulated_cluster,
    jenkins,
    make_project,
    with_env_repo,
)
from tests.support.registry import start_registry

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Build:
    project: Path
    env_repo: Path
    record: dict[str, Any]
    synced: dict[str, list[str]]

    def ci_plugins(self) -> list[tuple[str, str, int]]:
        return [
            (c["args"]["script"], c["context"]["stage"], c["status"])
            for c in calls(self.record, "sh")
            if c["args"].get("label", "").startswith("ci-plugins ")
        ]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    root = tmp_path_factory.mktemp("jenkins")
    project = make_project(
        root / "workspace", ["Jenkinsfile", "pipelines/jenkins", "examples/digits"]
    )
    env_repo = make_bare_repo(root / "environments.git")
    registry = start_registry(root / "registry")
    with_env_repo(project, env_repo.as_uri(), registry=registry.repository("ml/digits"))
    try:
        namespaces = {"dev": "ml-dev", "staging": "ml-staging"}
        with emulated_cluster(root, env_repo, namespaces=namespaces) as (kubeconfig, argo):
            kube = {"file": kubeconfig.read_text(encoding="utf-8")}
            record = jenkins(
                root / "harness",
                project / "Jenkinsfile",
                workspace=project,
                execute=True,
                env={"BRANCH_NAME": "main", "CI_PLUGINS_INSTALL_COMMAND": INSTALL_UNDER_TEST},
                credentials={
                    "env-repo-token": {"username": "bot", "password": "not-needed-for-file-urls"},
                    "kubeconfig-dev": kube,
                    "kubeconfig-staging": kube,
                },
                input_answer="abort",
            )
            synced = {env: list(commits) for env, commits in argo.synced.items()}
    finally:
        registry.stop()
    return Build(project, env_repo, record, synced)


def test_every_step_ran_for_real_in_its_stage(build: Build) -> None:
    assert build.ci_plugins() == [
        ("ci-plugins train", "Train", 0),
        ("ci-plugins gate", "Gate", 0),
        ("ci-plugins package", "Package", 0),
        ("ci-plugins render", "Deploy dev", 0),
        ("ci-plugins promote", "Deploy dev", 0),
        ("ci-plugins verify", "Deploy dev", 0),
        ("ci-plugins rollout", "Deploy dev", 0),
        ("ci-plugins promote", "Promote dev to staging", 0),
        ("ci-plugins verify", "Promote dev to staging", 0),
        ("ci-plugins rollout", "Promote dev to staging", 0),
        ("ci-plugins analyze", "Analyze staging", 0),
    ], build.record["log"][-5000:]


def test_gate_report_is_written_and_published(build: Build) -> None:
    report = build.project / "examples/digits/gate-report"
    assert "gate passed" in (report / "gate-report.md").read_text(encoding="utf-8")
    assert (report / "gate-junit.xml").is_file()
    assert calls(build.record, "junit")[0]["args"]["testResults"] == (
        "examples/digits/gate-report/*.xml"
    )
    gate = build.project / "examples/digits/ci-plugins-gate.properties"
    assert "CI_PLUGINS_GATE_VERDICT=passed" in gate.read_text(encoding="utf-8")


def test_dev_and_staging_are_promoted_and_verified_healthy(build: Build) -> None:
    log = [line.split(" ", 1)[1] for line in remote_log(build.env_repo)]
    assert log[0].startswith("promote digits ")
    assert log[0].endswith(" to staging from dev")
    assert log[1].endswith(" to dev")
    dev = remote_yaml(build.env_repo, "environments/dev/digits/release.yaml")
    staging = remote_yaml(build.env_repo, "environments/staging/digits/release.yaml")
    assert staging["model"]["digest"] == dev["model"]["digest"]
    assert dev["model"]["artifact"].startswith("oci://127.0.0.1:")  # packaged, by digest
    head = remote_log(build.env_repo)[0].split()[0]
    assert build.synced["staging"][-1] == head


def test_prod_waits_for_its_approver_and_a_decline_promotes_nothing(build: Build) -> None:
    (approval,) = calls(build.record, "input")
    assert approval["args"]["submitter"] == "ml-leads"
    assert build.record["error"] == "Aborted by ml-leads"
    files = remote_log(build.env_repo, fmt="%s")
    assert not any(subject.endswith(" to prod") for subject in files)


def test_train_searched_in_the_tune_dir_beside_the_workspace(build: Build) -> None:
    # ciPluginsTrain's default tuneDir (--tune-dir): outside the workspace, kept by cleanWs().
    state = Path(f"{build.project}@ci-plugins-tune") / "examples/digits"
    assert list(state.glob("*/ci-plugins-search.json")), build.record["log"][-3000:]
    assert not (build.project / "examples/digits/train-output/tuning").exists()
