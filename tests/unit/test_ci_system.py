"""ci_system: what a Jenkins multibranch build says about its change request."""

from __future__ import annotations

import pytest

from ci_plugins.ci_system import ChangeRequest, jenkins_change_request


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://gitlab.example.com/ml/digits/-/merge_requests/7",
            ChangeRequest("gitlab", "https://gitlab.example.com", "ml/digits", 7),
        ),
        (
            "https://gitlab.example.com:8443/group/sub/project/merge_requests/7/",
            ChangeRequest("gitlab", "https://gitlab.example.com:8443", "group/sub/project", 7),
        ),
        (
            "https://github.com/acme/digits/pull/7",
            ChangeRequest("github", "https://api.github.com", "acme/digits", 7),
        ),
        (
            "https://github.acme.com/ml/digits/pull/7",
            ChangeRequest("github", "https://github.acme.com/api/v3", "ml/digits", 7),
        ),
    ],
)
def test_the_change_request_comes_from_change_id_and_change_url(
    url: str, expected: ChangeRequest
) -> None:
    assert jenkins_change_request({"CHANGE_ID": "7", "CHANGE_URL": url}) == expected


@pytest.mark.parametrize(
    "environ",
    [
        {},  # a branch build
        {"CHANGE_ID": "7"},  # no URL (an SCM that does not report one)
        {
            "CHANGE_ID": "7",
            "CHANGE_URL": "https://bitbucket.example.com/projects/X/repos/y/pull-requests/7",
        },
        {"CHANGE_ID": "abc", "CHANGE_URL": "https://github.com/acme/digits/pull/7"},
    ],
)
def test_no_change_request_of_a_known_forge_is_none(environ: dict[str, str]) -> None:
    assert jenkins_change_request(environ) is None
