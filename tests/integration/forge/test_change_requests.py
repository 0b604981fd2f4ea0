"""open_or_update_change_request over real HTTP: python-gitlab and PyGithub vs the local forge."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from ci_plugins.adapters.forge import open_or_update_change_request
from ci_plugins.config.models import EnvRepoConfig
from ci_plugins.errors import CiPluginsError, ExternalError, InputError
from tests.support.clock import FakeClock
from tests.support.forge_server import GITHUB_REPO, GITLAB_PROJECT, TOKEN, ForgeServer

SOURCE = "ci-plugins/promote/prod/digits"
GITLAB_VARS = {"CI_PLUGINS_GITLAB_TOKEN": TOKEN}
GITHUB_VARS = {"GITHUB_TOKEN": TOKEN}


def config_for(forge: ForgeServer, kind: str) -> EnvRepoConfig:
    project = GITLAB_PROJECT if kind == "gitlab" else GITHUB_REPO
    return EnvRepoConfig.model_validate(
        {
            "url": f"{forge.url}/{project}.git",
            "forge": kind,
            "api_url": forge.url,
            "project": project,
        }
    )


def change(
    forge: ForgeServer,
    clock: FakeClock,
    kind: str,
    *,
    body: str = "Promote digits 3 from staging.",
    environ: dict[str, str] | None = None,
    api_url: str | None = None,
) -> str:
    config = config_for(forge, kind)
    if api_url:
        config = config.model_copy(update={"api_url": api_url})
    return open_or_update_change_request(
        repo_url=config.url or "",
        source_branch=SOURCE,
        target_branch="main",
        title="Promote digits 3 to prod",
        body=body,
        config=config,
        environ=(GITLAB_VARS if kind == "gitlab" else GITHUB_VARS) if environ is None else environ,
        clock=clock,
    )


def created(forge: ForgeServer, kind: str) -> list[dict[str, Any]]:
    return forge.gitlab_mrs(GITLAB_PROJECT) if kind == "gitlab" else forge.github_pulls(GITHUB_REPO)


def description(item: dict[str, Any]) -> str:
    return str(item.get("description", item.get("body")))


def assert_secret_free(exc: CiPluginsError, *secrets: str) -> None:
    text = f"{exc} {exc!r} {exc.hint or ''}"
    for secret in secrets:
        assert secret not in text


BOTH = pytest.mark.parametrize("kind", ["gitlab", "github"])


@BOTH
def test_first_promotion_opens_a_change_request_with_title_body_and_branches(
    forge: ForgeServer, clock: FakeClock, kind: str
) -> None:
    url = change(forge, clock, kind)

    [item] = created(forge, kind)
    assert item["title"] == "Promote digits 3 to prod"
    assert description(item) == "Promote digits 3 from staging."
    if kind == "gitlab":
        assert (item["source_branch"], item["target_branch"]) == (SOURCE, "main")
        assert url == f"{forge.url}/{GITLAB_PROJECT}/-/merge_requests/1"
        assert forge.writes()[0].headers["private-token"] == TOKEN
    else:
        assert (item["head"]["ref"], item["base"]["ref"]) == (SOURCE, "main")
        assert url == f"{forge.url}/{GITHUB_REPO}/pull/1"
        assert forge.writes()[0].headers["authorization"] == f"token {TOKEN}"


@BOTH
def test_running_the_same_promotion_again_changes_nothing(
    forge: ForgeServer, clock: FakeClock, kind: str
) -> None:
    first = change(forge, clock, kind)
    second = change(forge, clock, kind)

    assert second == first
    assert len(created(forge, kind)) == 1
    assert len(forge.writes()) == 1  # the create; the rerun only looked


@BOTH
def test_a_new_release_updates_the_open_change_request_in_place(
    forge: ForgeServer, clock: FakeClock, kind: str
) -> None:
    first = change(forge, clock, kind)
    second = change(forge, clock, kind, body="Promote digits 4 from staging.")

    assert second == first
    [item] = created(forge, kind)
    assert description(item) == "Promote digits 4 from staging."
    assert [w.method for w in forge.writes()] == ["POST", "PUT" if kind == "gitlab" else "PATCH"]


@pytest.mark.parametrize(
    ("kind", "path"),
    [("gitlab", "merge_requests"), ("github", "pulls")],
)
def test_a_concurrently_opened_change_request_is_updated_not_duplicated(
    forge: ForgeServer, clock: FakeClock, kind: str, path: str
) -> None:
    url = change(forge, clock, kind)
    # Another promotion opens the MR/PR between our look-up and our create: the list
    # answers empty once, the create is refused (GitLab 409, GitHub 422 "already exists").
    forge.fail(200, method="GET", path_contains=path, body=[])

    again = change(forge, clock, kind, body="newer body")

    assert again == url
    [item] = created(forge, kind)
    assert description(item) == "newer body"
    statuses = [r.method for r in forge.requests[-4:]]
    assert statuses == ["GET", "POST", "GET", "PUT" if kind == "gitlab" else "PATCH"]


@pytest.mark.parametrize(
    ("kind", "variable"),
    [("gitlab", "CI_PLUGINS_GITLAB_TOKEN"), ("github", "GITHUB_TOKEN")],
)
def test_a_rejected_token_is_exit_3_naming_the_variable_never_the_token(
    forge: ForgeServer, clock: FakeClock, kind: str, variable: str
) -> None:
    wrong = "wrong-token-abcdef123456"
    with pytest.raises(ExternalError) as caught:
        change(forge, clock, kind, environ={variable: wrong})

    host = forge.url.removeprefix("http://")
    assert str(caught.value).startswith(f"authentication failed for {host} (HTTP 401)")
    assert f"check {variable}" in str(caught.value)
    assert caught.value.exit_code == 3
    assert_secret_free(caught.value, wrong, TOKEN)
    assert created(forge, kind) == []


@pytest.mark.parametrize(
    ("kind", "api_message"),
    [("gitlab", "403 Forbidden"), ("github", "Resource not accessible by integration")],
)
def test_a_token_without_permission_is_exit_3_with_the_api_reason(
    forge: ForgeServer, clock: FakeClock, kind: str, api_message: str
) -> None:
    forge.fail(403, method="POST")
    with pytest.raises(ExternalError) as caught:
        change(forge, clock, kind)

    message = str(caught.value)
    assert "denied access (HTTP 403) while creating a" in message
    assert api_message in message
    assert "and its scopes" in message
    assert "docs/approvals.md" in (caught.value.hint or "")
    assert caught.value.exit_code == 3
    assert_secret_free(caught.value, TOKEN)


@pytest.mark.parametrize(
    ("kind", "api_message"),
    [
        ("gitlab", "Source branch does not exist"),
        ("github", "Validation Failed: No commits between main and promote/prod/digits"),
    ],
)
def test_a_validation_error_is_exit_3_with_the_api_message(
    forge: ForgeServer, clock: FakeClock, kind: str, api_message: str
) -> None:
    forge.fail(422, method="POST")
    with pytest.raises(ExternalError) as caught:
        change(forge, clock, kind)

    assert "answered HTTP 422 while creating a" in str(caught.value)
    assert api_message in str(caught.value)
    assert caught.value.exit_code == 3
    assert created(forge, kind) == []


@pytest.mark.parametrize(
    ("kind", "status", "body", "api_message"),
    [
        ("gitlab", 409, None, "Another open merge request already exists"),
        (
            "github",
            422,
            {
                "message": "Validation Failed",
                "errors": [{"code": "custom", "message": "A pull request already exists for x."}],
            },
            "A pull request already exists for x.",
        ),
    ],
)
def test_already_exists_without_a_matching_open_request_is_exit_3(
    forge: ForgeServer,
    clock: FakeClock,
    kind: str,
    status: int,
    body: dict[str, object] | None,
    api_message: str,
) -> None:
    # e.g. the open MR/PR from this branch targets another base branch
    forge.fail(status, method="POST", body=body)
    with pytest.raises(ExternalError) as caught:
        change(forge, clock, kind)

    assert f"answered HTTP {status} while creating a" in str(caught.value)
    assert api_message in str(caught.value)
    assert created(forge, kind) == []


@BOTH
def test_server_errors_are_retried_with_backoff_then_succeed(
    forge: ForgeServer, clock: FakeClock, kind: str
) -> None:
    forge.fail(502, times=2)

    change(forge, clock, kind)

    assert clock.sleeps == [1.0, 2.0]
    assert len(created(forge, kind)) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"message": "API rate limit exceeded", "status": "429"}, id="429"),
        pytest.param(
            {
                "message": "You have exceeded a secondary rate limit. Please wait a few "
                "minutes before you try again.",
                "status": "403",
            },
            id="secondary-403",
        ),
    ],
)
def test_github_rate_limits_are_waited_out(
    forge: ForgeServer, clock: FakeClock, body: dict[str, str]
) -> None:
    forge.fail(int(body["status"]), method="POST", body=body)

    change(forge, clock, "github")

    assert clock.sleeps == [1.0]
    assert len(forge.github_pulls(GITHUB_REPO)) == 1


@BOTH
def test_persistent_server_errors_give_up_after_bounded_attempts(
    forge: ForgeServer, clock: FakeClock, kind: str
) -> None:
    forge.fail(500, times=100)
    with pytest.raises(ExternalError) as caught:
        change(forge, clock, kind)

    assert "answered HTTP 500" in str(caught.value)
    assert "(gave up after 4 attempts)" in str(caught.value)
    assert caught.value.exit_code == 3
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert len(forge.requests) == 4


@BOTH
def test_an_unreachable_api_is_exit_3_saying_where(
    forge: ForgeServer, clock: FakeClock, kind: str
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ExternalError) as caught:
        change(forge, clock, kind, api_url=f"http://127.0.0.1:{port}")

    assert f"API at http://127.0.0.1:{port} while looking for an open" in str(caught.value)
    assert "Connection refused" in str(caught.value)
    assert caught.value.exit_code == 3
    assert clock.sleeps == []


@BOTH
def test_an_unknown_project_is_exit_3_naming_it(
    forge: ForgeServer, clock: FakeClock, kind: str
) -> None:
    config = config_for(forge, kind).model_copy(update={"project": "nobody/nothing"})
    with pytest.raises(ExternalError) as caught:
        open_or_update_change_request(
            repo_url=config.url or "",
            source_branch=SOURCE,
            target_branch="main",
            title="t",
            body="b",
            config=config,
            environ=GITLAB_VARS if kind == "gitlab" else GITHUB_VARS,
            clock=clock,
        )

    assert "project 'nobody/nothing'" in str(caught.value)
    assert "(HTTP 404)" in str(caught.value)
    assert caught.value.exit_code == 3


@pytest.mark.parametrize(
    ("kind", "variables"),
    [
        ("gitlab", "set CI_PLUGINS_GITLAB_TOKEN or GITLAB_TOKEN"),
        ("github", "set CI_PLUGINS_GITHUB_TOKEN or GITHUB_TOKEN"),
    ],
)
def test_a_missing_token_is_exit_2_naming_the_variables_before_any_request(
    forge: ForgeServer, clock: FakeClock, kind: str, variables: str
) -> None:
    with pytest.raises(InputError) as caught:
        change(forge, clock, kind, environ={"CI_JOB_TOKEN": "job-token-123456"})

    assert variables in str(caught.value)
    assert caught.value.exit_code == 2
    assert forge.requests == []


def test_the_ci_plugins_token_wins_over_the_generic_one(
    forge: ForgeServer, clock: FakeClock
) -> None:
    change(forge, clock, "github", environ={"CI_PLUGINS_GITHUB_TOKEN": TOKEN, "GITHUB_TOKEN": "x"})

    assert forge.requests[0].headers["authorization"] == f"token {TOKEN}"
