"""Where a model came from, as recorded in model-manifest.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_plugins import ci_system as ci_vars
from ci_plugins.training import provenance


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        pytest.param(
            {"CI_PIPELINE_URL": "https://gl/p/-/pipelines/9"},
            "https://gl/p/-/pipelines/9",
            id="gitlab",
        ),
        pytest.param(
            {"GITHUB_SERVER_URL": "https://ghe", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "5"},
            "https://ghe/o/r/actions/runs/5",
            id="github",
        ),
        pytest.param(
            {"BUILD_URL": "https://jenkins/job/x/3/"}, "https://jenkins/job/x/3/", id="jenkins"
        ),
        pytest.param({}, "", id="none"),
    ],
)
def test_pipeline_url_of_each_ci_system(environ: dict[str, str], url: str) -> None:
    assert ci_vars.pipeline_url(environ) == url


def test_the_ci_commit_wins_over_git(tmp_path: Path) -> None:
    assert provenance.source_commit({"GITHUB_SHA": "abc123"}, tmp_path) == "abc123"


def test_outside_git_and_ci_the_commit_is_unknown(tmp_path: Path) -> None:
    assert provenance.source_commit({"PATH": "/usr/bin:/bin"}, tmp_path) == ""


def test_module_digest_follows_the_module_file(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("A = 1\n", encoding="utf-8")
    before = provenance.module_digest(tmp_path, "model:build")
    (tmp_path / "model.py").write_text("A = 2\n", encoding="utf-8")
    assert provenance.module_digest(tmp_path, "model:build") not in ("", before)
    assert provenance.module_digest(tmp_path, "missing:build") == ""
