"""What the CI system says about this job: source repository, pipeline URL, who runs it.

One place that knows GitLab CI, GitHub Actions and Jenkins variables for provenance; the
train step stamps them into the model manifest, promote into the release record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# Jenkins multibranch CHANGE_URL of a GitLab merge request / GitHub pull request.
_GITLAB_MR_URL = re.compile(
    r"^(?P<root>https?://[^/]+)/(?P<project>[^/]+(?:/[^/]+)+?)/(?:-/)?merge_requests/(?P<n>\d+)/?$"
)
_GITHUB_PR_URL = re.compile(r"^(?P<root>https?://[^/]+)/(?P<repo>[^/]+/[^/]+)/pull/(?P<n>\d+)/?$")


@dataclass(frozen=True)
class ChangeRequest:
    """The merge/pull request a Jenkins multibranch build is for (CHANGE_ID, CHANGE_URL)."""

    forge: Literal["gitlab", "github"]
    api_url: str  # GitLab: the instance URL; GitHub: the REST API root
    project: str  # group/project or owner/repo
    number: int


def source_repo(environ: Mapping[str, str]) -> str:
    """The project's repository URL as the CI system names it."""
    if environ.get("CI_PROJECT_URL"):
        return environ["CI_PROJECT_URL"]
    if environ.get("GITHUB_REPOSITORY"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{environ['GITHUB_REPOSITORY']}"
    return environ.get("GIT_URL", "")


def pipeline_url(environ: Mapping[str, str]) -> str:
    """This pipeline's URL (GitLab CI_PIPELINE_URL, GitHub run URL, Jenkins BUILD_URL)."""
    if environ.get("CI_PIPELINE_URL"):
        return environ["CI_PIPELINE_URL"]
    if environ.get("GITHUB_RUN_ID") and environ.get("GITHUB_REPOSITORY"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{environ['GITHUB_REPOSITORY']}/actions/runs/{environ['GITHUB_RUN_ID']}"
    return environ.get("BUILD_URL", "")


def actor(environ: Mapping[str, str]) -> str:
    """Who runs this job, as the CI system names them."""
    for name in ("GITLAB_USER_LOGIN", "GITHUB_ACTOR", "BUILD_USER_ID", "USER"):
        if environ.get(name):
            return environ[name]
    return "ci-plugins"


def trigger_cause(environ: Mapping[str, str]) -> dict[str, str] | None:
    """Why this pipeline runs when `ci-plugins monitor` started it (CI_PLUGINS_TRIGGER_*
    variables, GitHub inputs mapped to the same names), else None."""
    by = environ.get("CI_PLUGINS_TRIGGERED_BY", "").strip()
    if not by:
        return None
    return {
        "by": by,
        "reason": environ.get("CI_PLUGINS_TRIGGER_REASON", "").strip(),
        "environment": environ.get("CI_PLUGINS_TRIGGER_ENV", "").strip(),
        "record": environ.get("CI_PLUGINS_TRIGGER_RECORD", "").strip(),
    }


def jenkins_change_request(environ: Mapping[str, str]) -> ChangeRequest | None:
    """The change request of a Jenkins multibranch build, from CHANGE_ID and CHANGE_URL
    (https://host/group/project/-/merge_requests/N or https://host/owner/repo/pull/N); None
    when the build is not for one, or its URL is of neither forge."""
    change_id, url = environ.get("CHANGE_ID", ""), environ.get("CHANGE_URL", "")
    if not change_id.isdigit() or not url:
        return None
    gitlab = _GITLAB_MR_URL.match(url)
    if gitlab:
        return ChangeRequest("gitlab", gitlab["root"], gitlab["project"], int(change_id))
    github = _GITHUB_PR_URL.match(url)
    if github:
        root = github["root"]
        api = "https://api.github.com" if root == "https://github.com" else f"{root}/api/v3"
        return ChangeRequest("github", api, github["repo"], int(change_id))
    return None
