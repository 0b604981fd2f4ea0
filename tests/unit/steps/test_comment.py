"""ci-plugins comment: one MR note / PR comment per marker, through the CLI over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import CliRunner, write_text
from tests.support.forge_server import ForgeServer

TOKEN = "glpat-abcdefghijklmnop0123"
PROJECT = "ml/digits"
REPO = "acme/digits"


@pytest.fixture
def forge() -> Iterator[ForgeServer]:
    with ForgeServer(token=TOKEN) as server:
        server.add_gitlab_project(PROJECT)
        server.add_github_repo(REPO)
        yield server


def gitlab_env(forge: ForgeServer, iid: int) -> dict[str, str]:
    return {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": f"{forge.url}/api/v4",
        "CI_PROJECT_ID": str(forge.projects[PROJECT].id),
        "CI_MERGE_REQUEST_IID": str(iid),
        "CI_PLUGINS_GITLAB_TOKEN": TOKEN,
    }


def test_gate_and_render_reports_become_one_gitlab_note_updated_in_place(
    tmp_path: Path, cli: CliRunner, forge: ForgeServer
) -> None:
    iid = forge.open_gitlab_mr(PROJECT, source_branch="better-model")
    gate = write_text(tmp_path / "gate-report.md", "### gate passed\n")
    diff = write_text(tmp_path / "render-diff.md", "### render: 1 image changes\n")
    env = gitlab_env(forge, iid)

    first = cli("comment", "--body-file", gate, "--body-file", diff, "--json", env=env)
    assert first.exit_code == 0, first.stderr
    write_text(gate, "### gate failed\n")
    second = cli("comment", "--body-file", gate, "--body-file", diff, env=env)
    assert second.exit_code == 0, second.stderr

    notes = forge.gitlab_notes(PROJECT, iid)
    assert [note["body"] for note in notes] == [
        "<!-- ci-plugins:report -->\n### gate failed\n\n### render: 1 image changes"
    ]
    assert first.json["url"].endswith(f"/merge_requests/{iid}#note_{notes[0]['id']}")
    assert (tmp_path / "ci-plugins.env").read_text().startswith("CI_PLUGINS_COMMENT_URL=")


def test_github_pull_request_comment_from_the_event_payload(
    tmp_path: Path, cli: CliRunner, forge: ForgeServer
) -> None:
    number = forge.open_github_pull(REPO, head="better-model")
    event = write_text(tmp_path / "event.json", json.dumps({"pull_request": {"number": number}}))
    report = write_text(tmp_path / "gate-report.md", "### gate passed\n")
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": forge.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_OUTPUT": str(tmp_path / "outputs"),
    }
    result = cli("comment", "--body-file", report, "--marker", "gate", env=env)
    assert result.exit_code == 0, result.stderr
    comments = forge.github_comments(REPO, number)
    assert [c["body"] for c in comments] == ["<!-- ci-plugins:gate -->\n### gate passed"]
    assert (tmp_path / "outputs").read_text().startswith("comment-url=")


def test_a_missing_report_file_is_bad_input(
    tmp_path: Path, cli: CliRunner, forge: ForgeServer
) -> None:
    iid = forge.open_gitlab_mr(PROJECT, source_branch="better-model")
    result = cli("comment", "--body-file", "gone.md", env=gitlab_env(forge, iid))
    assert result.exit_code == 2
    assert "report file gone.md does not exist" in result.stderr
    assert forge.writes() == []


def test_outside_a_merge_request_pipeline_it_says_what_is_missing(
    tmp_path: Path, cli: CliRunner, forge: ForgeServer
) -> None:
    report = write_text(tmp_path / "r.md", "x")
    env = gitlab_env(forge, 1)
    del env["CI_MERGE_REQUEST_IID"]
    result = cli("comment", "--body-file", report, env=env)
    assert result.exit_code == 2
    assert "CI_MERGE_REQUEST_IID" in result.stderr


def test_a_rejected_token_is_an_outside_failure_and_never_shown(
    tmp_path: Path, cli: CliRunner, forge: ForgeServer
) -> None:
    iid = forge.open_gitlab_mr(PROJECT, source_branch="better-model")
    report = write_text(tmp_path / "r.md", "x")
    env = gitlab_env(forge, iid) | {"CI_PLUGINS_GITLAB_TOKEN": "glpat-wrongwrongwrong0000"}
    result = cli("comment", "--body-file", report, "--json", env=env)
    assert result.exit_code == 3
    assert "HTTP 401" in result.stderr
    assert "wrongwrong" not in result.stderr + result.stdout
    assert forge.gitlab_notes(PROJECT, iid) == []


def test_an_environment_value_of_the_wrong_type_is_a_usage_error(cli: CliRunner) -> None:
    result = cli("comment", "--body-file", "r.md", env={"CI_PLUGINS_CHANGE_REQUEST": "abc"})
    assert result.exit_code == 2
    assert (
        "CI_PLUGINS_CHANGE_REQUEST='abc' is not a valid value for --change-request" in result.stderr
    )


def test_a_jenkins_change_request_build_comments_on_the_merge_request_of_change_url(
    tmp_path: Path, cli: CliRunner, forge: ForgeServer
) -> None:
    # Jenkins multibranch (GitLab Branch Source) sets CHANGE_ID and CHANGE_URL; ciPluginsComment
    # binds the forge token credential to CI_PLUGINS_GITLAB_TOKEN.
    iid = forge.open_gitlab_mr(PROJECT, source_branch="better-model")
    report = write_text(tmp_path / "train-report.md", "### Hyper-parameter search\n")
    env = {
        "CHANGE_ID": str(iid),
        "CHANGE_URL": f"{forge.url}/{PROJECT}/-/merge_requests/{iid}",
        "CI_PLUGINS_GITLAB_TOKEN": TOKEN,
    }
    for _ in range(2):  # updated in place
        result = cli("comment", "--body-file", report, env=env)
        assert result.exit_code == 0, result.stderr
    notes = forge.gitlab_notes(PROJECT, iid)
    assert [note["body"] for note in notes] == [
        "<!-- ci-plugins:report -->\n### Hyper-parameter search"
    ]
    assert TOKEN not in result.stdout + result.stderr


def test_a_jenkins_build_without_the_forge_token_names_the_variable(
    tmp_path: Path, cli: CliRunner, forge: ForgeServer
) -> None:
    iid = forge.open_gitlab_mr(PROJECT, source_branch="better-model")
    report = write_text(tmp_path / "r.md", "x")
    env = {"CHANGE_ID": str(iid), "CHANGE_URL": f"{forge.url}/{PROJECT}/-/merge_requests/{iid}"}
    result = cli("comment", "--body-file", report, env=env)
    assert result.exit_code == 2
    assert "CI_PLUGINS_GITLAB_TOKEN" in result.stderr
    assert forge.writes() == []
