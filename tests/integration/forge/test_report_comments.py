"""upsert_report_comment over real HTTP: one gate report per MR/PR, edited in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_plugins.adapters.forge import upsert_report_comment
from ci_plugins.config.models import EnvRepoConfig
from ci_plugins.errors import ExternalError, InputError
from tests.support.clock import FakeClock
from tests.support.forge_server import GITHUB_REPO, GITLAB_PROJECT, TOKEN, ForgeServer

MARKER = "<!-- ci-plugins:gate -->"


def gitlab_ci(forge: ForgeServer, **extra: str) -> dict[str, str]:
    project_id = forge.projects[GITLAB_PROJECT].id
    return {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": f"{forge.url}/api/v4",
        "CI_PROJECT_ID": str(project_id),
        "CI_MERGE_REQUEST_IID": "1",
        "GITLAB_TOKEN": TOKEN,
        **extra,
    }


def github_actions(forge: ForgeServer, tmp_path: Path, event: object) -> dict[str, str]:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": forge.url,
        "GITHUB_REPOSITORY": GITHUB_REPO,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_TOKEN": TOKEN,
    }


def comment(
    environ: dict[str, str],
    clock: FakeClock,
    body: str,
    *,
    change_request: int | None = None,
    config: EnvRepoConfig | None = None,
) -> str:
    return upsert_report_comment(
        config=config,
        environ=environ,
        change_request=change_request,
        marker=MARKER,
        body=body,
        clock=clock,
    )


def test_gitlab_report_is_one_note_edited_in_place(forge: ForgeServer, clock: FakeClock) -> None:
    iid = forge.open_gitlab_mr(GITLAB_PROJECT, source_branch="better-model")
    forge.add_gitlab_note(GITLAB_PROJECT, iid, "Looks good to me")
    environ = gitlab_ci(forge)

    first = comment(environ, clock, "## Gate: passed\naccuracy 0.97")
    second = comment(environ, clock, "## Gate: failed\naccuracy 0.80")

    notes = forge.gitlab_notes(GITLAB_PROJECT, iid)
    assert [n["body"] for n in notes] == [
        "Looks good to me",
        f"{MARKER}\n## Gate: failed\naccuracy 0.80",
    ]
    assert (
        first == second == f"{forge.url}/{GITLAB_PROJECT}/-/merge_requests/1#note_{notes[1]['id']}"
    )
    assert [w.method for w in forge.writes()] == ["POST", "PUT"]


def test_github_report_is_one_comment_edited_in_place(
    forge: ForgeServer, clock: FakeClock, tmp_path: Path
) -> None:
    number = forge.open_github_pull(GITHUB_REPO, head="better-model")
    forge.add_github_comment(GITHUB_REPO, number, "Nice")
    environ = github_actions(
        forge, tmp_path, {"action": "synchronize", "pull_request": {"number": 1}}
    )

    first = comment(environ, clock, "## Gate: passed")
    second = comment(environ, clock, "## Gate: failed")

    comments = forge.github_comments(GITHUB_REPO, number)
    assert [c["body"] for c in comments] == ["Nice", f"{MARKER}\n## Gate: failed"]
    assert first == second == comments[1]["html_url"]
    assert [w.method for w in forge.writes()] == ["POST", "PATCH"]


@pytest.mark.parametrize("kind", ["gitlab", "github"])
def test_our_comment_is_found_behind_pages_of_discussion(
    forge: ForgeServer, clock: FakeClock, tmp_path: Path, kind: str
) -> None:
    if kind == "gitlab":
        iid = forge.open_gitlab_mr(GITLAB_PROJECT, source_branch="busy")
        environ = gitlab_ci(forge)
        comment(environ, clock, "first report")
        for index in range(45):
            forge.add_gitlab_note(GITLAB_PROJECT, iid, f"discussion {index}")
    else:
        iid = forge.open_github_pull(GITHUB_REPO, head="busy")
        environ = github_actions(forge, tmp_path, {"pull_request": {"number": iid}})
        for index in range(45):
            forge.add_github_comment(GITHUB_REPO, iid, f"discussion {index}")
        comment(environ, clock, "first report")  # the 46th: on page 2 of 30

    comment(environ, clock, "second report")

    notes = (
        forge.gitlab_notes(GITLAB_PROJECT, iid)
        if kind == "gitlab"
        else forge.github_comments(GITHUB_REPO, iid)
    )
    ours = [n["body"] for n in notes if MARKER in n["body"]]
    assert ours == [f"{MARKER}\nsecond report"]
    assert len(notes) == 46
    assert any(r.query.get("page") == "2" for r in forge.requests)


@pytest.mark.parametrize("kind", ["gitlab", "github"])
def test_an_unchanged_report_is_not_written_again(
    forge: ForgeServer, clock: FakeClock, tmp_path: Path, kind: str
) -> None:
    if kind == "gitlab":
        forge.open_gitlab_mr(GITLAB_PROJECT, source_branch="better-model")
        environ = gitlab_ci(forge)
    else:
        forge.open_github_pull(GITHUB_REPO, head="better-model")
        environ = github_actions(forge, tmp_path, {"pull_request": {"number": 1}})

    comment(environ, clock, "same")
    comment(environ, clock, "same")

    assert len(forge.writes()) == 1


def test_an_explicit_number_wins_over_the_ci_variables(
    forge: ForgeServer, clock: FakeClock
) -> None:
    forge.open_gitlab_mr(GITLAB_PROJECT, source_branch="one")
    second = forge.open_gitlab_mr(GITLAB_PROJECT, source_branch="two")

    comment(gitlab_ci(forge), clock, "report", change_request=second)

    assert forge.gitlab_notes(GITLAB_PROJECT, 1) == []
    assert len(forge.gitlab_notes(GITLAB_PROJECT, second)) == 1


def test_a_review_comment_event_on_a_pull_request_finds_its_number(
    forge: ForgeServer, clock: FakeClock, tmp_path: Path
) -> None:
    forge.open_github_pull(GITHUB_REPO, head="better-model")
    event = {"action": "created", "issue": {"number": 1, "pull_request": {"url": "x"}}}

    comment(github_actions(forge, tmp_path, event), clock, "report")

    assert len(forge.github_comments(GITHUB_REPO, 1)) == 1


def test_outside_a_merge_request_pipeline_is_exit_2_naming_the_variable(
    forge: ForgeServer, clock: FakeClock
) -> None:
    environ = gitlab_ci(forge)
    del environ["CI_MERGE_REQUEST_IID"]

    with pytest.raises(InputError) as caught:
        comment(environ, clock, "report")

    assert "CI_MERGE_REQUEST_IID is not set" in str(caught.value)
    assert caught.value.exit_code == 2
    assert forge.requests == []


def test_a_push_event_is_exit_2_not_a_pull_request(
    forge: ForgeServer, clock: FakeClock, tmp_path: Path
) -> None:
    environ = github_actions(forge, tmp_path, {"ref": "refs/heads/main", "commits": []})

    with pytest.raises(InputError) as caught:
        comment(environ, clock, "report")

    assert "is not about a pull request" in str(caught.value)
    assert caught.value.exit_code == 2


def test_outside_ci_without_a_configured_forge_is_exit_2(clock: FakeClock) -> None:
    with pytest.raises(InputError) as caught:
        comment({"GITLAB_TOKEN": TOKEN}, clock, "report")

    assert "cannot tell whether to comment on GitLab or GitHub" in str(caught.value)
    assert caught.value.hint == "set env_repo.forge in ci-plugins.yaml"


def test_a_missing_token_for_comments_is_exit_2(forge: ForgeServer, clock: FakeClock) -> None:
    environ = gitlab_ci(forge, CI_JOB_TOKEN="job-token-123456")
    del environ["GITLAB_TOKEN"]

    with pytest.raises(InputError) as caught:
        comment(environ, clock, "report")

    assert "no GitLab token to comment on merge requests" in str(caught.value)
    assert "CI_JOB_TOKEN cannot create merge requests or notes" in (caught.value.hint or "")
    assert forge.requests == []


def test_a_rejected_token_for_comments_is_exit_3_without_the_token(
    forge: ForgeServer, clock: FakeClock
) -> None:
    forge.open_gitlab_mr(GITLAB_PROJECT, source_branch="better-model")
    environ = gitlab_ci(forge, GITLAB_TOKEN="expired-token-98765")

    with pytest.raises(ExternalError) as caught:
        comment(environ, clock, "report")

    assert "authentication failed for" in str(caught.value)
    assert "(HTTP 401) while reading merge request !1; check GITLAB_TOKEN" in str(caught.value)
    assert "expired-token-98765" not in f"{caught.value}{caught.value!r}"
    assert caught.value.exit_code == 3


def test_a_comment_on_a_missing_merge_request_is_exit_3(
    forge: ForgeServer, clock: FakeClock
) -> None:
    with pytest.raises(ExternalError) as caught:
        comment(gitlab_ci(forge, CI_MERGE_REQUEST_IID="9"), clock, "report")

    assert "(HTTP 404) while reading merge request !9" in str(caught.value)
