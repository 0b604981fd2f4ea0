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

from tests.conftest import REPO
from tests.support.envrepo import make_bare_repo, remote_log, remote_yaml
from tests.support.forge_server import ForgeServer
from tests.support.pipelines import (
    INSTALL_UNDER_TEST,
    MR_VARIABLES,
    emulated_cluster,
    gitlab_ci_local,
    make_project,
)
from tests.support.registry import Registry, start_registry
from tests.support.wine import place_project_include, wine_files

pytestmark = pytest.mark.slow
EXAMPLES = REPO / "examples"
TOKEN = "glpat-abcdefghijklmnop0123"
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
