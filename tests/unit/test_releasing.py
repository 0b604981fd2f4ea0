"""Release records: downgrade decisions, sameness, trailers, where metadata comes from."""

from __future__ import annotations

from typing import Any

import pytest

from ci_plugins import ci_system as ci_vars
from ci_plugins.envrepo import guards as releasing
from ci_plugins.envrepo.record import ReleaseRecord

DIGEST = "sha256:" + "0" * 64


def record(version: str, *, created: str = "", digest: str = "", **extra: Any) -> ReleaseRecord:
    model: dict[str, str] = {"version": version, "digest": digest or f"sha256:{version:0>64}"}
    if created:
        model["created"] = created
    return ReleaseRecord.model_validate(
        {"app": "digits", "environment": "prod", "model": model, **extra}
    )


@pytest.mark.parametrize(
    ("new", "current", "downgrade"),
    [
        pytest.param(record("9"), record("10"), True, id="numeric-not-lexical"),
        pytest.param(record("10"), record("9"), False, id="newer-version"),
        pytest.param(record("1.2.0"), record("1.10.0"), True, id="dotted"),
        pytest.param(
            record("3", digest=DIGEST), record("4", digest=DIGEST), False, id="same-digest"
        ),
        pytest.param(
            record("9", created="2026-01-02T00:00:00Z"),
            record("10", created="2026-01-01T00:00:00Z"),
            False,
            id="creation-time-wins",
        ),
        pytest.param(
            record("b", created="2026-01-01T00:00:00+00:00"),
            record("a", created="2026-01-02T00:00:00Z"),
            True,
            id="older-creation",
        ),
    ],
)
def test_downgrade_reason(new: ReleaseRecord, current: ReleaseRecord, downgrade: bool) -> None:
    assert (releasing.downgrade_reason(new, current) is not None) is downgrade


def test_same_release_ignores_only_the_time() -> None:
    a = record("3", released_at="2026-01-01T00:00:00+00:00")
    b = record("3", released_at="2026-02-01T00:00:00+00:00")
    assert releasing.same_release(a, b)
    assert not releasing.same_release(a, record("3", image="x"))


def test_trailers_leave_out_empty_values() -> None:
    trailers = releasing.trailers(record("3"), **{"Rollback-Of": "abc"})
    assert trailers["Model-Version"] == "3"
    assert trailers["Rollback-Of"] == "abc"
    assert "Source-Commit" not in trailers
    assert "Promoted-From" not in trailers


@pytest.mark.parametrize(
    ("environ", "repo", "pipeline"),
    [
        pytest.param(
            {"CI_PROJECT_URL": "https://gl/p", "CI_PIPELINE_URL": "https://gl/p/-/pipelines/1"},
            "https://gl/p",
            "https://gl/p/-/pipelines/1",
            id="gitlab",
        ),
        pytest.param(
            {"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "7"},
            "https://github.com/o/r",
            "https://github.com/o/r/actions/runs/7",
            id="github",
        ),
        pytest.param(
            {"GIT_URL": "https://j/r.git", "BUILD_URL": "https://j/job/1/"},
            "https://j/r.git",
            "https://j/job/1/",
            id="jenkins",
        ),
    ],
)
def test_source_and_pipeline_come_from_the_ci_variables(
    environ: dict[str, str], repo: str, pipeline: str
) -> None:
    assert ci_vars.source_repo(environ) == repo
    assert ci_vars.pipeline_url(environ) == pipeline
