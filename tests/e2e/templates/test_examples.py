"""The README snippets under examples/ run in their CI systems' runners.

App-project snippets (include/uses/library of ci-plugins at v0.1.0): they resolve to this
checkout's templates and plan the expected jobs (the full flows run in test_gitlab/github/
jenkins). Environment-repo snippets run for real: a promotion is validated (and a downgrade
rejected), and after the merge each environment is verified against the LOCAL CLUSTER EMULATOR.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import REPO
from tests.support.envrepo import git, make_bare_repo, seed_files
from tests.support.pipelines import (
    INSTALL_UNDER_TEST,
    MR_VARIABLES,
    Act,
    calls,
    emulated_cluster,
    gitlab_ci_local,
    gitlab_preview,
    jenkins,
    make_project,
    repo_files,
)
from tests.support.verify import deployment, service

pytestmark = pytest.mark.slow
EXAMPLES = REPO / "examples"


def local_include(text: str, **inputs: Any) -> str:
    """The snippet with `include: project:` replaced by the same file from this checkout."""
    document = yaml.safe_load(text)
    (include,) = document["include"]
    assert include.pop("project") == "ci-plugins/ci-plugins"
    assert include.pop("ref") == "v0.1.0"
    include["local"] = include.pop("file").lstrip("/")
    include["inputs"] = {**include.get("inputs", {}), **inputs}
    return yaml.safe_dump(document, sort_keys=False)


# -- the app project snippets --------------------------------------------------------------
def digits_project(dest: Path, files: dict[str, str]) -> Path:
    """examples/digits as a project of its own (ci-plugins.yaml at the root) plus files."""
    extra = {
        str(path.relative_to(EXAMPLES / "digits")): path.read_text(encoding="utf-8")
        for path in (EXAMPLES / "digits").glob("*")
        if path.is_file()
    }
    return make_project(dest, [], {**extra, **files})


NO_GPU = "this runner has no GPU visible to TensorFlow"


def test_gitlab_snippet_plans_the_pipelines_and_trains_only_on_a_gpu(tmp_path: Path) -> None:
    snippet = (EXAMPLES / "gitlab/.gitlab-ci.yml").read_text(encoding="utf-8")
    ci = local_include(snippet, install=INSTALL_UNDER_TEST, **{"train-install": INSTALL_UNDER_TEST})
    project = digits_project(tmp_path / "p", {".gitlab-ci.yml": ci})
    for rel in repo_files(["pipelines/gitlab"]):
        target = project / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / rel).read_bytes())
    git("add", "-A", cwd=project)
    git("commit", "--quiet", "-m", "templates", cwd=project)
    jobs = gitlab_preview(project)
    assert {"train", "gate", "render-dev", "promote-dev", "verify-dev", "promote-prod"} <= set(jobs)
    assert jobs["train"]["tags"] == ["gpu"]
    listed = gitlab_ci_local(project, "--list", variables=MR_VARIABLES, unset=["CI_COMMIT_BRANCH"])
    planned = set(re.findall(r"^(\S+)\s", listed.output, flags=re.MULTILINE))
    assert {"train", "gate", "render-dev"} <= planned
    assert "promote-dev" not in planned
    # This machine has no GPU: the snippet's train job (require-gpu by default) says so.
    train = gitlab_ci_local(project, "train", variables=MR_VARIABLES, unset=["CI_COMMIT_BRANCH"])
    assert train.exit_code == 1
    assert NO_GPU in train.output


def test_github_snippet_runs_the_reusable_workflow_and_trains_only_on_a_gpu(
    tmp_path: Path,
) -> None:
    snippet = (EXAMPLES / "github/ml.yml").read_text(encoding="utf-8")
    anchor = "      env: dev\n"
    assert anchor in snippet
    workflow = snippet.replace(anchor, f"{anchor}      install: {INSTALL_UNDER_TEST}\n")
    project = digits_project(tmp_path / "p", {".github/workflows/ml.yml": workflow})
    act = Act.create(tmp_path / "act", project)
    result = act("pull_request", payload={"pull_request": {"number": 7}})
    assert result.exit_code != 0
    assert NO_GPU in result.output, str(result)
    assert "ci-plugins gate" not in result.output


def test_jenkins_snippet_runs_the_pipeline_steps(tmp_path: Path) -> None:
    credentials = {
        "env-repo-token": {"username": "bot", "password": "t"},
        "registry": {"username": "bot", "password": "r"},
        "forge-token": {"secret": "f"},
        **{f"kubeconfig-{env}": {"file": "apiVersion: v1"} for env in ("dev", "staging", "prod")},
    }
    record = jenkins(
        tmp_path,
        EXAMPLES / "jenkins/Jenkinsfile",
        env={"BRANCH_NAME": "main"},
        credentials=credentials,
    )
    assert record["result"] == "SUCCESS", (record["error"], record["log"])
    (library,) = calls(record, "library")
    assert library["args"]["identifier"] == "ci-plugins@v0.1.0"
    stages = [c["args"]["name"] for c in calls(record, "stage")]
    assert stages == [
        "Train",
        "Gate",
        "Package",
        "Deploy dev",
        "Promote dev to staging",
        "Analyze staging",  # the staging analysis gates the prod promotion (#12)
        "Approve prod",
        "Promote staging to prod",
    ]


# -- the environment repo snippets -----------------------------------------------------------
def release_files(env: str, version: str, **extra: Any) -> dict[str, str]:
    objects = [deployment(name="digits", version=version), service("digits")]
    base = f"environments/{env}/digits"
    files = {
        f"{base}/manifests/{o['kind'].lower()}-digits.yaml": yaml.safe_dump(o) for o in objects
    }
    record = {
        "apiVersion": "ci-plugins/v1",
        "kind": "Release",
        "app": "digits",
        "environment": env,
        "model": {
            "version": version,
            # Each version its own model bytes: one model under two versions is no downgrade.
            "digest": "sha256:" + hashlib.sha256(version.encode()).hexdigest(),
            "artifact": "oci://registry.example.com/ml/digits@sha256:" + "b" * 64,
        },
        "metrics": {"accuracy": 0.97},
        **extra,
    }
    files[f"{base}/release.yaml"] = yaml.safe_dump(record)
    return files


def env_repo_checkout(
    tmp_path: Path, bare: Path, ci_files: dict[str, str], paths: list[str]
) -> Path:
    """A checkout of the bare env repo (dev runs 3) with the CI files committed on main."""
    seed_files(bare, release_files("dev", "3"))
    work = tmp_path / "checkout"
    git("clone", "--quiet", str(bare), str(work))
    project = make_project(tmp_path / "ci", paths, ci_files)
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            target = work / path.relative_to(project)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "ci", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)
    return work


def promote_branch(work: Path, version: str) -> str:
    """A promotion branch writing dev's release `version`; returns the base (main) sha."""
    base = git("rev-parse", "main", cwd=work).strip()
    git("checkout", "--quiet", "-B", f"promote-{version}", base, cwd=work)
    for rel, text in release_files("dev", version).items():
        (work / rel).write_text(text, encoding="utf-8")
    git("commit", "--quiet", "-am", f"promote digits {version} to dev", cwd=work)
    return base


def test_gitlab_env_repo_snippet_validates_promotions_and_verifies_after_merge(
    tmp_path: Path,
) -> None:
    snippet = (EXAMPLES / "env-repo/.gitlab-ci.yml").read_text(encoding="utf-8")
    bare = make_bare_repo(tmp_path / "environments.git")
    ci = local_include(
        snippet, install=INSTALL_UNDER_TEST, environments=["dev"], **{"env-repo": bare.as_uri()}
    )
    # The deployed pods run the test web image, no model server: the env repo's config turns
    # verify's model check off (its tests with real tensorflow/serving pods are elsewhere).
    config = (
        "app: digits\nenvironments:\n  dev: {namespace: default}\n"
        "verify:\n  model: {enabled: false}\n"
    )
    work = env_repo_checkout(
        tmp_path, bare, {".gitlab-ci.yml": ci, "ci-plugins.yaml": config}, ["pipelines/gitlab"]
    )
    mr = {**MR_VARIABLES}
    base = promote_branch(work, "4")
    ok = gitlab_ci_local(
        work,
        "validate",
        variables={**mr, "CI_MERGE_REQUEST_DIFF_BASE_SHA": base},
        unset=["CI_COMMIT_BRANCH"],
    )
    assert ok.exit_code == 0, str(ok)
    assert "validate passed: 4 checks for 1 apps" in ok.output
    base = promote_branch(work, "2")
    downgrade = gitlab_ci_local(
        work,
        "validate",
        variables={**mr, "CI_MERGE_REQUEST_DIFF_BASE_SHA": base},
        unset=["CI_COMMIT_BRANCH"],
    )
    assert downgrade.exit_code == 1
    assert "model version 2 is older than 3, which the target branch runs" in downgrade.output
    junit = work / ".gitlab-ci-local/artifacts/validate/validate-report/validate-junit.xml"
    assert "<failure" in junit.read_text(encoding="utf-8")
    # The merge: main now runs 4 in dev; the push pipeline verifies dev in the cluster.
    git("checkout", "--quiet", "main", cwd=work)
    git("merge", "--quiet", "--ff-only", "promote-4", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    with emulated_cluster(tmp_path, bare, namespaces={"dev": "default"}) as (kubeconfig, argo):
        verify = gitlab_ci_local(work, "verify: [dev]", variables={"KUBECONFIG": str(kubeconfig)})
        synced = argo.synced["dev"]
    assert verify.exit_code == 0, str(verify)
    assert "healthy: dev/digits" in verify.output
    assert synced[-1] == git("rev-parse", "main", cwd=work).strip()
