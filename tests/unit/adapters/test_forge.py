"""Which forge, API URL, project and token serve an environment repo (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from ci_plugins.adapters.forge import parse_project, resolve_target, url_host
from ci_plugins.adapters.forge_api import with_marker
from ci_plugins.config.models import EnvRepoConfig
from ci_plugins.errors import InputError

GL = {"GITLAB_TOKEN": "gl-token-123456"}
GH = {"GITHUB_TOKEN": "gh-token-123456"}


def config(**keys: Any) -> EnvRepoConfig:
    return EnvRepoConfig.model_validate(keys)


@pytest.mark.parametrize(
    ("url", "host", "project"),
    [
        ("https://gitlab.example.com/platform/envs.git", "gitlab.example.com", "platform/envs"),
        ("https://oauth2:tok@gitlab.example.com:8443/a/b/c", "gitlab.example.com:8443", "a/b/c"),
        ("ssh://git@github.com:22/acme/envs.git", "github.com", "acme/envs"),
        ("git@github.com:acme/envs.git", "github.com", "acme/envs"),
        ("/srv/git/envs.git", None, None),
        ("file:///srv/git/envs.git", None, None),
        ("https://git.example.com/envs.git", "git.example.com", None),
    ],
)
def test_git_urls_give_host_and_project(url: str, host: str | None, project: str | None) -> None:
    assert url_host(url) == host
    assert parse_project(url) == project


@pytest.mark.parametrize(
    ("url", "environ", "expected"),
    [
        pytest.param(
            "https://github.com/acme/envs.git", GH, ("github", "https://api.github.com"), id="gh"
        ),
        pytest.param(
            "https://gitlab.com/acme/envs.git", GL, ("gitlab", "https://gitlab.com"), id="gl"
        ),
        pytest.param(
            "https://git.corp/acme/envs.git",
            {**GL, "CI_SERVER_HOST": "git.corp", "CI_API_V4_URL": "https://git.corp/api/v4"},
            ("gitlab", "https://git.corp"),
            id="self-hosted-gitlab-from-ci",
        ),
        pytest.param(
            "https://ghe.corp/acme/envs.git",
            {
                **GH,
                "GITHUB_SERVER_URL": "https://ghe.corp",
                "GITHUB_API_URL": "https://ghe.corp/api/v3",
            },
            ("github", "https://ghe.corp/api/v3"),
            id="enterprise-github-from-ci",
        ),
        pytest.param(
            "https://github.example.org/acme/envs.git",
            GH,
            ("github", "https://github.example.org/api/v3"),
            id="enterprise-github-by-name",
        ),
        pytest.param(
            "https://gitlab.other.org/acme/envs.git",
            {**GL, "CI_SERVER_URL": "https://gitlab.corp"},
            ("gitlab", "https://gitlab.other.org"),
            id="ci-server-is-another-host",
        ),
    ],
)
def test_forge_and_api_are_inferred_from_the_url_and_ci(
    url: str, environ: dict[str, str], expected: tuple[str, str]
) -> None:
    target = resolve_target(url, config(url=url), environ)

    assert (target.kind, target.api_url) == expected
    assert target.project == "acme/envs"


def test_configured_keys_win_and_the_api_suffix_is_normalised() -> None:
    cfg = config(forge="gitlab", api_url="https://git.corp/api/v4/", project="platform/envs")

    target = resolve_target("/local/mirror.git", cfg, GL)

    assert (target.kind, target.api_url, target.project) == (
        "gitlab",
        "https://git.corp",
        "platform/envs",
    )


def test_the_token_is_never_shown_by_the_target() -> None:
    target = resolve_target("https://github.com/acme/envs.git", config(), GH)

    assert target.token_variable == "GITHUB_TOKEN"
    assert "gh-token-123456" not in f"{target!r} {target} {target.token}"


@pytest.mark.parametrize(
    ("url", "keys", "message", "key"),
    [
        pytest.param(
            "https://git.example.com/acme/envs.git",
            {},
            "is on GitLab or GitHub",
            "env_repo.forge",
            id="unknown-forge",
        ),
        pytest.param(
            "/srv/envs.git",
            {"forge": "github"},
            "cannot tell the GitHub project from the environment repo URL /srv/envs.git",
            "env_repo.project",
            id="local-path",
        ),
        pytest.param(
            "https://github.com/acme/sub/envs.git",
            {},
            "cannot tell the GitHub project",
            "(set owner/repo)",
            id="github-needs-owner-repo",
        ),
        pytest.param(
            "/srv/envs.git",
            {"forge": "gitlab", "project": "a/b"},
            "cannot tell the GitLab API URL for /srv/envs.git",
            "env_repo.api_url",
            id="gitlab-api-unknown",
        ),
    ],
)
def test_what_cannot_be_inferred_is_exit_2_with_the_key_to_set(
    url: str, keys: dict[str, str], message: str, key: str
) -> None:
    with pytest.raises(InputError) as caught:
        resolve_target(url, config(**keys), {**GL, **GH})

    assert message in str(caught.value)
    assert key in str(caught.value)
    assert "docs/approvals.md" in str(caught.value.hint)
    assert caught.value.exit_code == 2


def test_every_missing_approval_setting_is_reported_at_once() -> None:
    with pytest.raises(InputError) as caught:
        resolve_target("/srv/envs.git", config(), {})

    text = str(caught.value)
    assert "needs 3 more settings" in text
    assert "env_repo.forge: cannot tell whether /srv/envs.git is on GitLab or GitHub" in text
    assert "env_repo.project: cannot tell the GitLab/GitHub project" in text
    assert "set CI_PLUGINS_GITLAB_TOKEN or GITLAB_TOKEN" in text
    assert "set CI_PLUGINS_GITHUB_TOKEN or GITHUB_TOKEN" in text


def test_a_known_forge_without_api_url_project_or_token_lists_all_three() -> None:
    with pytest.raises(InputError) as caught:
        resolve_target("/srv/envs.git", config(forge="gitlab"), {})

    assert caught.value.problems == [
        "env_repo.project: cannot tell the GitLab project from the environment repo URL "
        "/srv/envs.git (set group/project)",
        "env_repo.api_url: cannot tell the GitLab API URL for /srv/envs.git",
        "no GitLab token to open a merge request: set CI_PLUGINS_GITLAB_TOKEN or GITLAB_TOKEN",
    ]


def test_unknown_forge_names_are_config_errors() -> None:
    with pytest.raises(ValueError, match="forge"):
        config(forge="bitbucket")


@pytest.mark.parametrize(
    ("marker", "body", "expected"),
    [
        (
            "<!-- ci-plugins:gate -->",
            "report",
            ("<!-- ci-plugins:gate -->", "<!-- ci-plugins:gate -->\nreport"),
        ),
        (
            "ci-plugins:gate",
            "report",
            ("<!-- ci-plugins:gate -->", "<!-- ci-plugins:gate -->\nreport"),
        ),
        ("<!-- m -->", "x\n<!-- m -->", ("<!-- m -->", "x\n<!-- m -->")),
    ],
)
def test_the_marker_is_a_hidden_comment_leading_the_body(
    marker: str, body: str, expected: tuple[str, str]
) -> None:
    assert with_marker(marker, body) == expected


def test_an_empty_marker_is_exit_2() -> None:
    with pytest.raises(InputError, match="non-empty marker"):
        with_marker("  ", "report")
