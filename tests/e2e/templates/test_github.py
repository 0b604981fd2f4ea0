"""This repository's GitHub workflows (the reusable ci-plugins-pipeline.yml, called by ml.yml
on examples/digits) under act on the host, with the composite actions of the checkout under
test. A pull request trains (few epochs), gates and renders; a push to main also promotes into
a local environment repo and verifies against the LOCAL CLUSTER EMULATOR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.envrepo import make_bare_repo, remote_log, remote_yaml
from tests.support.forge_server import ForgeServer
from tests.support.pipelines import (
    INSTALL_UNDER_TEST,
    Act,
    Run,
    emulated_cluster,
    make_project,
    with_env_repo,
)
from tests.support.registry import start_registry

pytestmark = pytest.mark.slow
TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
WORKFLOW = ".github/workflows/ml.yml"
PULL_REQUEST = {
    "pull_request": {"number": 7, "head": {"ref": "feature"}, "base": {"ref": "main"}},
}
PUSH = {"ref": "refs/heads/main"}


@dataclass(frozen=True)
class Flows:
    act: Act
    env_repo: Path
    pull_request: Run
    push: Run
    synced: list[str]
    comments: list[str]
    dispatch: Run
    synced_staging: list[str]
    pr_caches: dict[str, list[str]]  # key -> the saved files (relative), after the pull request


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> Flows:
    root = tmp_path_factory.mktemp("github")
    project = make_project(
        root / "project", [".github/workflows", "pipelines/github", "examples/digits"]
    )
    env_repo = make_bare_repo(root / "environments.git")
    registry = start_registry(root / "registry")
    with_env_repo(project, env_repo.as_uri(), registry=registry.repository("ml/digits"))
    act = Act.create(root / "act", project)
    under_test = {"CI_PLUGINS_INSTALL_COMMAND": INSTALL_UNDER_TEST}
    with ForgeServer(token=TOKEN) as forge:
        forge.add_github_repo("acme/digits")
        number = forge.open_github_pull("acme/digits", head="better-model")
        pull_request = act(
            "pull_request",
            "-W",
            WORKFLOW,
            "-s",
            f"GITHUB_TOKEN={TOKEN}",
            payload={"pull_request": {**PULL_REQUEST["pull_request"], "number": number}},
            # A quick model: the pull request flow proves the wiring; push trains for real.
            env={
                **under_test,
                "CI_PLUGINS_EPOCHS": "8",
                "GITHUB_API_URL": forge.url,
                "GITHUB_REPOSITORY": "acme/digits",
            },
        )
        comments = [c["body"] for c in forge.github_comments("acme/digits", number)]
    pr_artifacts = sorted(p.name for p in (act.work / "artifacts").iterdir())
    pr_caches = {
        key: sorted(str(f.relative_to(files)) for f in files.rglob("*") if f.is_file())
        for key, files in act.caches().items()
    }
    namespaces = {"dev": "ml-dev", "staging": "ml-staging"}
    try:
        with emulated_cluster(root, env_repo, namespaces=namespaces) as (kubeconfig, argo):
            cluster = {**under_test, "KUBECONFIG": str(kubeconfig)}
            push = act("push", "-W", WORKFLOW, payload=PUSH, env=cluster)
            synced = list(argo.synced["dev"])
            dispatch = act("workflow_dispatch", "-W", WORKFLOW, payload=PUSH, env=cluster)
            synced_staging = list(argo.synced["staging"])
    finally:
        registry.stop()
    assert pr_artifacts == ["gate-report", "rendered-dev", "train-output", "train-report"], str(
        pull_request
    )
    return Flows(
        act, env_repo, pull_request, push, synced, comments, dispatch, synced_staging, pr_caches
    )


def succeeded(output: str) -> set[str]:
    """Jobs of the reusable workflow that act reports as succeeded."""
    return set(re.findall(r"\[pipeline/ci-plugins pipeline/(\w+)\s*\] 🏁  Job succeeded", output))


def test_pull_request_trains_gates_and_renders_but_does_not_deploy(flows: Flows) -> None:
    out = flows.pull_request.output
    assert flows.pull_request.exit_code == 0, str(flows.pull_request)
    assert succeeded(out) == {"train", "gate", "render", "comment"}
    assert "ci-plugins promote" not in out
    assert "ci-plugins 0.1.0" in out  # the checkout under test


def test_pull_request_gate_report_reaches_outputs_and_summary(flows: Flows) -> None:
    out = flows.pull_request.output
    assert "::set-output:: gate-verdict=passed" in out
    assert "::set-output:: verdict=passed" in out
    assert "ci-plugins gate passed" in out  # the step summary


def test_push_promotes_into_the_environment_repo_and_verifies_healthy(flows: Flows) -> None:
    assert flows.push.exit_code == 0, str(flows.push)
    assert succeeded(flows.push.output) == {
        "train",
        "gate",
        "package",
        "render",
        "promote",
        "verify",
        "rollout",  # dev is no canary environment: verdict none, exit 0
    }
    dev = [line.split(" ", 1) for line in remote_log(flows.env_repo)]
    commit, subject = next(entry for entry in dev if entry[1].endswith(" to dev"))
    assert subject.startswith("promote digits ")
    release = remote_yaml(flows.env_repo, "environments/dev/digits/release.yaml")
    assert release["app"] == "digits"
    assert release["model"]["artifact"].startswith("oci://127.0.0.1:")  # packaged, by digest
    assert f"::set-output:: commit={commit}" in flows.push.output
    assert flows.synced[-1] == commit
    assert "healthy: dev/digits" in flows.push.output


def test_pull_request_gets_one_comment_with_the_gate_table(flows: Flows) -> None:
    (comment,) = flows.comments
    assert comment.startswith("<!-- ci-plugins:report -->")
    assert "ci-plugins gate passed" in comment
    # ... and the render diff against what the environment repo records (nothing yet)
    assert "digits in dev: changes to the rendered manifests" in comment
    assert "**Objects added**" in comment
    assert TOKEN not in flows.pull_request.output


def test_pull_request_comment_carries_the_train_report_with_the_trial_table(flows: Flows) -> None:
    (comment,) = flows.comments
    assert "## ci-plugins train: digits" in comment
    assert "### Hyper-parameter search" in comment  # examples/digits has train.tune
    assert "| rank | trial |" in comment
    assert "| val_accuracy | status | time |" in comment
    assert comment.index("ci-plugins gate") < comment.index("Hyper-parameter search")


def test_train_keeps_the_search_state_in_the_actions_cache_per_branch(flows: Flows) -> None:
    # Saved by actions/cache/save (if: always()) from --tune-dir, keyed by the PR's branch.
    (key,) = flows.pr_caches
    assert key.startswith("ci-plugins-tune:examples/digits:feature:")
    assert any(f.endswith("/ci-plugins-search.json") for f in flows.pr_caches[key])
    # The push on main restores nothing of the branch's (another key) and saves its own.
    assert "Cache not found for input keys: ci-plugins-tune:examples/digits:main:" in (
        flows.push.output
    )
    assert "Cache saved with key: ci-plugins-tune:examples/digits:main:" in flows.push.output


def test_dispatch_promotes_dev_to_staging_and_verifies_it(flows: Flows) -> None:
    assert flows.dispatch.exit_code == 0, str(flows.dispatch)
    jobs = re.findall(
        r"\[staging/ci-plugins promote/(\w+)\s*\] 🏁  Job succeeded", flows.dispatch.output
    )
    assert set(jobs) == {"promote", "verify", "rollout"}
    head, subject = remote_log(flows.env_repo)[0].split(" ", 1)
    assert subject.endswith(" to staging from dev")
    assert flows.synced_staging[-1] == head
    assert "healthy: staging/digits" in flows.dispatch.output
