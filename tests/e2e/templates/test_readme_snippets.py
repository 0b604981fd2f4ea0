"""The README's snippets, copied into a fresh project that is not the digits example (a Keras
model on scikit-learn's wine data with a tf.data pipeline), run end to end offline: one test
per CI system, each a default-branch pipeline (train, gate vs dev, package, render, promote,
verify against the LOCAL CLUSTER EMULATOR) and then a merge/pull/change request (train, gate
vs what dev runs now, preview render with its diff, the note). The promoted release names the
model artifact by digest in the local registry.

This is also the offline recipe of docs/pipelines.md: the templates placed where
gitlab-ci-local looks for `include: project:`, the ci-plugins under test given as the
install inputs (here: already on PATH).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import REPO
from tests.support.envrepo import make_bare_repo, remote_log, remote_yaml
from tests.support.forge_server import ForgeServer
from tests.support.pipelines import (
    INSTALL_UNDER_TEST,
    MR_VARIABLES,
    Act,
    calls,
    emulated_cluster,
    gitlab_ci_local,
    jenkins,
    make_project,
)
from tests.support.registry import Registry, start_registry
from tests.support.wine import place_project_include, wine_files

pytestmark = pytest.mark.slow
EXAMPLES = REPO / "examples"
TOKEN = "glpat-abcdefghijklmnop0123"
GITHUB_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
ARTIFACT = re.compile(r"^oci://127\.0\.0\.1:\d+/ml/wine@sha256:[0-9a-f]{64}$")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    running = start_registry(tmp_path / "registry")
    try:
        yield running
    finally:
        running.stop()


def with_inputs(snippet: str, **inputs: Any) -> str:
    """The snippet with more `include: inputs:` (what a user adds to run it offline)."""
    document = yaml.safe_load(snippet)
    (include,) = document["include"]
    include["inputs"] = {**include.get("inputs", {}), **inputs}
    return yaml.safe_dump(document, sort_keys=False)


def assert_promoted_by_digest(env_repo: Path, env: str) -> dict[str, Any]:
    release: dict[str, Any] = remote_yaml(env_repo, f"environments/{env}/wine/release.yaml")
    assert ARTIFACT.match(release["model"]["artifact"]), release
    return release


def test_gitlab_snippet_runs_the_loop_on_a_fresh_wine_project(
    tmp_path: Path, registry: Registry
) -> None:
    snippet = (EXAMPLES / "gitlab/.gitlab-ci.yml").read_text(encoding="utf-8")
    ci = with_inputs(
        snippet,
        **{
            "require-gpu": False,
            "install": INSTALL_UNDER_TEST,
            "train-install": INSTALL_UNDER_TEST,
        },
    )
    env_repo = make_bare_repo(tmp_path / "environments.git")
    files = wine_files(registry=registry.repository("ml/wine"), env_repo=env_repo.as_uri())
    project = make_project(tmp_path / "wine", [], {**files, ".gitlab-ci.yml": ci})
    place_project_include(project, REPO / "pipelines" / "gitlab" / "templates")

    with emulated_cluster(tmp_path, env_repo, app="wine", namespaces={"dev": "ml-dev"}) as (
        kubeconfig,
        argo,
    ):
        main = gitlab_ci_local(
            project,
            "train",
            "gate",
            "package",
            "render-dev",
            "promote-dev",
            "verify-dev",
            variables={"KUBECONFIG": str(kubeconfig)},
        )
        synced = list(argo.synced["dev"])
    assert main.exit_code == 0, str(main)
    for job in ("train", "gate", "package", "render-dev", "promote-dev", "verify-dev"):
        assert f" PASS  {job}" in main.output, job
    first_report = (project / "gate-report" / "gate-report.md").read_text(encoding="utf-8")
    assert "Baseline: dev has no release of wine yet (first release)" in first_report
    release = assert_promoted_by_digest(env_repo, "dev")
    head, subject = remote_log(env_repo)[0].split(" ", 1)
    assert subject == f"promote wine {release['model']['version']} to dev"
    assert synced[-1] == head
    assert "healthy: dev/wine" in main.output

    with ForgeServer(token=TOKEN) as forge:
        forge.add_gitlab_project("ml/wine")
        iid = forge.open_gitlab_mr("ml/wine", source_branch="better-model")
        note_api = {
            "GITLAB_CI": "true",
            "CI_API_V4_URL": f"{forge.url}/api/v4",
            "CI_PROJECT_ID": str(forge.projects["ml/wine"].id),
            "CI_MERGE_REQUEST_IID": str(iid),
            "CI_PLUGINS_GITLAB_TOKEN": TOKEN,
        }
        listed = gitlab_ci_local(
            project, "--list", variables={**MR_VARIABLES, **note_api}, unset=["CI_COMMIT_BRANCH"]
        )
        mr = gitlab_ci_local(
            project,
            "train",
            "gate",
            "render-dev",
            "comment",
            variables={**MR_VARIABLES, **note_api},
            unset=["CI_COMMIT_BRANCH"],
        )
        notes = [note["body"] for note in forge.gitlab_notes("ml/wine", iid)]
    assert mr.exit_code == 0, str(mr)
    planned = set(re.findall(r"^(\S+)\s", listed.output, flags=re.MULTILINE))
    assert {"train", "gate", "render-dev", "comment"} <= planned
    assert "package" not in planned  # a merge request's model is not gated: never packaged
    (note,) = notes
    version = release["model"]["version"]
    assert f"Baseline: release {version} recorded in dev" in note  # gate vs what dev runs
    assert "wine in dev: changes to the rendered manifests" in note
    assert TOKEN not in mr.output
    assert remote_log(env_repo)[0].startswith(head)  # the merge request changed nothing


def act_jobs(output: str, caller: str = "ml") -> set[str]:
    """Jobs of a called reusable workflow that act reports as succeeded."""
    return set(re.findall(rf"\[{caller}/[^/\]]+/(\w+)\s*\] 🏁  Job succeeded", output))


def test_github_snippet_runs_the_loop_on_a_fresh_wine_project(
    tmp_path: Path, registry: Registry
) -> None:
    snippet = (EXAMPLES / "github/ml.yml").read_text(encoding="utf-8")
    install = f"      install: {INSTALL_UNDER_TEST}\n"
    for anchor in ("      env: dev\n", "      to-env: staging\n"):
        assert anchor in snippet
        snippet = snippet.replace(anchor, anchor + install)
    snippet = snippet.replace("      env: dev\n", "      env: dev\n      require-gpu: false\n")
    env_repo = make_bare_repo(tmp_path / "environments.git")
    files = wine_files(registry=registry.repository("ml/wine"), env_repo=env_repo.as_uri())
    project = make_project(tmp_path / "wine", [], {**files, ".github/workflows/ml.yml": snippet})
    act = Act.create(tmp_path / "act", project)
    namespaces = {"dev": "ml-dev", "staging": "ml-staging"}
    with emulated_cluster(tmp_path, env_repo, app="wine", namespaces=namespaces) as (
        kubeconfig,
        argo,
    ):
        cluster = {"KUBECONFIG": str(kubeconfig)}
        push = act("push", payload={"ref": "refs/heads/main"}, env=cluster)
        synced_dev = list(argo.synced["dev"])
        dispatch = act(
            "workflow_dispatch",
            payload={"ref": "refs/heads/main", "inputs": {"to-env": "staging"}},
            env=cluster,
        )
        synced_staging = list(argo.synced["staging"])
    assert push.exit_code == 0, str(push)
    assert act_jobs(push.output) == {
        "train",
        "gate",
        "package",
        "render",
        "promote",
        "verify",
        "rollout",
    }
    release = assert_promoted_by_digest(env_repo, "dev")
    assert "healthy: dev/wine" in push.output
    assert dispatch.exit_code == 0, str(dispatch)
    assert act_jobs(dispatch.output, "staging") == {"promote", "verify", "rollout"}
    staging = assert_promoted_by_digest(env_repo, "staging")
    assert staging["model"] == release["model"]  # the same model, by digest
    head = remote_log(env_repo)[0].split()[0]
    assert synced_dev
    assert synced_staging[-1] == head
    assert "healthy: staging/wine" in dispatch.output

    with ForgeServer(token=GITHUB_TOKEN) as forge:
        forge.add_github_repo("acme/wine")
        number = forge.open_github_pull("acme/wine", head="better-model")
        pull = {"number": number, "head": {"ref": "better-model"}, "base": {"ref": "main"}}
        pull_request = act(
            "pull_request",
            "-s",
            f"GITHUB_TOKEN={GITHUB_TOKEN}",
            payload={"pull_request": pull},
            env={"GITHUB_API_URL": forge.url, "GITHUB_REPOSITORY": "acme/wine"},
        )
        comments = [c["body"] for c in forge.github_comments("acme/wine", number)]
    assert pull_request.exit_code == 0, str(pull_request)
    assert act_jobs(pull_request.output) == {"train", "gate", "render", "comment"}
    assert "ci-plugins package" not in pull_request.output
    (comment,) = comments
    assert f"Baseline: release {release['model']['version']} recorded in dev" in comment
    assert "wine in dev: changes to the rendered manifests" in comment
    assert GITHUB_TOKEN not in pull_request.output
    assert remote_log(env_repo)[0].startswith(head)


def test_jenkins_snippet_runs_the_loop_on_a_fresh_wine_project(
    tmp_path: Path, registry: Registry
) -> None:
    snippet = (EXAMPLES / "jenkins/Jenkinsfile").read_text(encoding="utf-8")
    anchor = "    gpuLabel: 'gpu',\n"
    assert anchor in snippet
    offline = f"    requireGpu: false,\n    install: '{INSTALL_UNDER_TEST}',\n"
    env_repo = make_bare_repo(tmp_path / "environments.git")
    files = wine_files(registry=registry.repository("ml/wine"), env_repo=env_repo.as_uri())
    jenkinsfile = snippet.replace(anchor, anchor + offline)
    project = make_project(tmp_path / "wine", [], {**files, "Jenkinsfile": jenkinsfile})
    namespaces = {"dev": "ml-dev", "staging": "ml-staging"}
    with emulated_cluster(tmp_path, env_repo, app="wine", namespaces=namespaces) as (
        kubeconfig,
        argo,
    ):
        kube = {"file": kubeconfig.read_text(encoding="utf-8")}
        credentials = {
            "env-repo-token": {"username": "bot", "password": "not-needed-for-file-urls"},
            "registry": {"username": "bot", "password": "not-needed-for-this-registry"},
            "forge-token": {"secret": TOKEN},
            **{f"kubeconfig-{env}": kube for env in ("dev", "staging", "prod")},
        }
        main = jenkins(
            tmp_path / "main",
            project / "Jenkinsfile",
            workspace=project,
            execute=True,
            env={"BRANCH_NAME": "main"},
            credentials=credentials,
            input_answer="abort",  # prod's approver declines: nothing goes to prod
        )
        synced = {env: list(commits) for env, commits in argo.synced.items()}
    steps = [
        (c["args"]["script"], c["context"]["stage"], c["status"])
        for c in calls(main, "sh")
        if c["args"].get("label", "").startswith("ci-plugins ")
    ]
    assert steps == [
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
    ], main["log"][-5000:]
    assert main["error"] == "Aborted by ml-leads"
    release = assert_promoted_by_digest(env_repo, "dev")
    assert assert_promoted_by_digest(env_repo, "staging")["model"] == release["model"]
    head = remote_log(env_repo)[0].split()[0]
    assert synced["staging"][-1] == head
    assert not any(s.endswith(" to prod") for s in remote_log(env_repo, fmt="%s"))

    with ForgeServer(token=TOKEN) as forge:
        forge.add_gitlab_project("ml/wine")
        iid = forge.open_gitlab_mr("ml/wine", source_branch="better-model")
        change = jenkins(
            tmp_path / "change",
            project / "Jenkinsfile",
            workspace=project,
            execute=True,
            # A multibranch build of a GitLab merge request (GitLab Branch Source).
            env={
                "BRANCH_NAME": f"MR-{iid}",
                "CHANGE_ID": str(iid),
                "CHANGE_URL": f"{forge.url}/ml/wine/-/merge_requests/{iid}",
            },
            credentials=credentials,
        )
        notes = [note["body"] for note in forge.gitlab_notes("ml/wine", iid)]
    assert change["result"] == "SUCCESS", change["log"][-5000:]
    scripts = [
        (c["args"]["script"], c["context"]["stage"])
        for c in calls(change, "sh")
        if c["args"].get("label", "").startswith("ci-plugins ")
    ]
    assert scripts == [
        ("ci-plugins train", "Train"),
        ("ci-plugins gate", "Gate"),
        ("ci-plugins comment", "Gate"),
        ("ci-plugins render", "Render dev"),
        ("ci-plugins comment", "Render dev"),
    ]
    (note,) = notes  # one note, updated in place with the render diff
    assert note.startswith("<!-- ci-plugins:report -->")
    assert "ci-plugins gate passed" in note
    assert "## ci-plugins train: wine" in note
    assert "wine in dev: changes to the rendered manifests" in note
    assert TOKEN not in change["log"]
    report = (project / "gate-report" / "gate-report.md").read_text(encoding="utf-8")
    assert f"Baseline: release {release['model']['version']} recorded in dev" in report
    diff = (project / "rendered" / "dev" / "render-diff.md").read_text(encoding="utf-8")
    assert "wine in dev: changes to the rendered manifests" in diff
    assert remote_log(env_repo)[0].startswith(head)
