"""Merge requests (GitLab) and pull requests (GitHub): one entry point for each use.

- `open_or_update_change_request`: promote calls it after pushing a branch for an
  environment with `approval: merge-request`; it updates the open MR/PR for that branch
  instead of opening another.
- `upsert_report_comment`: the gate report on the pipeline's own MR/PR, one comment
  edited in place (found by a hidden marker) instead of a new one per pipeline.

Which forge, API and project come from `env_repo` in ci-plugins.yaml, else from the repo
URL and the CI variables; tokens from CI_PLUGINS_GITLAB_TOKEN / GITLAB_TOKEN or
CI_PLUGINS_GITHUB_TOKEN / GITHUB_TOKEN (docs/approvals.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from ci_plugins import ci_system
from ci_plugins.adapters.forge_api import (
    NAMES,
    ForgeKind,
    ForgeTarget,
    find_token,
    with_marker,
    with_retries,
)
from ci_plugins.config.models import EnvRepoConfig
from ci_plugins.errors import InputError
from ci_plugins.redact import Secret
from ci_plugins.step import REAL_CLOCK, Clock

_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>[^/\s].*)$")


def open_or_update_change_request(
    *,
    repo_url: str,
    source_branch: str,
    target_branch: str,
    title: str,
    body: str,
    config: EnvRepoConfig,
    environ: Mapping[str, str],
    clock: Clock = REAL_CLOCK,
) -> str:
    """Open the MR/PR source_branch -> target_branch, or update the open one; return its URL.

    Raises InputError (exit 2) when the forge, project or token cannot be determined, and
    ExternalError (exit 3) when the API fails (5xx answers are retried a few times first).
    """
    target = resolve_target(repo_url, config, environ)
    if target.kind == "gitlab":
        from ci_plugins.adapters import gitlab

        def call() -> str:
            return gitlab.open_or_update_merge_request(
                target,
                source_branch=source_branch,
                target_branch=target_branch,
                title=title,
                body=body,
            )

    else:
        from ci_plugins.adapters import github

        def call() -> str:
            return github.open_or_update_pull_request(
                target,
                source_branch=source_branch,
                target_branch=target_branch,
                title=title,
                body=body,
            )

    return with_retries(call, clock=clock)


def check_change_requests(
    target: ForgeTarget, *, source_branch: str, target_branch: str, clock: Clock = REAL_CLOCK
) -> None:
    """One read call (the open MR/PR of the branch), before promote pushes anything.

    A wrong API URL, project or token then fails (exit 3) with nothing pushed.
    """
    if target.kind == "gitlab":
        from ci_plugins.adapters import gitlab

        def call() -> None:
            gitlab.check_merge_requests(
                target, source_branch=source_branch, target_branch=target_branch
            )

    else:
        from ci_plugins.adapters import github

        def call() -> None:
            github.check_pull_requests(
                target, source_branch=source_branch, target_branch=target_branch
            )

    with_retries(call, clock=clock)


def upsert_report_comment(
    *,
    config: EnvRepoConfig | None,
    environ: Mapping[str, str],
    change_request: int | None,
    marker: str,
    body: str,
    clock: Clock = REAL_CLOCK,
) -> str:
    """Post or edit in place our one comment (found by marker) on the pipeline's MR/PR.

    The MR/PR is change_request, else the one the CI variables name (GitLab:
    CI_MERGE_REQUEST_IID in CI_MERGE_REQUEST_PROJECT_ID/CI_PROJECT_ID; GitHub: the
    pull request number in GITHUB_EVENT_PATH of GITHUB_REPOSITORY; a Jenkins multibranch
    build: CHANGE_ID of the project in CHANGE_URL, on that URL's host). Returns the comment's
    URL. Raises InputError (exit 2) when those are missing, ExternalError (exit 3) when
    the API fails.
    """
    marker, body = with_marker(marker, body)
    kind = _ci_forge(environ)
    jenkins = None if kind else ci_system.jenkins_change_request(environ)
    kind = kind or (jenkins.forge if jenkins else None) or (config.forge if config else None)
    if kind is None:
        raise InputError(
            "cannot tell whether to comment on GitLab or GitHub: not running in GitLab CI "
            "or GitHub Actions, nor in a Jenkins build of a change request (CHANGE_URL)",
            hint="set env_repo.forge in ci-plugins.yaml",
        )
    if jenkins is not None:
        token, variable = find_token(kind, environ, purpose="comment on the change request")
        target = ForgeTarget(kind, jenkins.api_url, jenkins.project, token, variable)
        number = change_request or jenkins.number
        return _upsert(target, number, marker=marker, body=body, clock=clock)
    api_url = _comment_api_url(kind, config, environ)
    if kind == "gitlab":
        project = _required(environ, "CI_MERGE_REQUEST_PROJECT_ID", "CI_PROJECT_ID")
        number = change_request or _number(environ, "CI_MERGE_REQUEST_IID")
        token, variable = find_token(kind, environ, purpose="comment on merge requests")
    else:
        project = _required(environ, "GITHUB_REPOSITORY")
        number = change_request or _pull_request_number(environ)
        token, variable = find_token(kind, environ, purpose="comment on pull requests")
    target = ForgeTarget(kind, api_url, project, token, variable)
    return _upsert(target, number, marker=marker, body=body, clock=clock)


def _upsert(target: ForgeTarget, number: int, *, marker: str, body: str, clock: Clock) -> str:
    """Our one note/comment on MR !number or PR #number of target's project."""
    if target.kind == "gitlab":
        from ci_plugins.adapters import gitlab

        return with_retries(
            lambda: gitlab.upsert_note(target, iid=number, marker=marker, body=body), clock=clock
        )
    from ci_plugins.adapters import github

    return with_retries(
        lambda: github.upsert_issue_comment(target, number=number, marker=marker, body=body),
        clock=clock,
    )


def resolve_target(repo_url: str, config: EnvRepoConfig, environ: Mapping[str, str]) -> ForgeTarget:
    """Which forge, API URL, project and token serve the environment repo at repo_url.

    InputError (exit 2) listing every missing setting at once (forge, project, API URL,
    token), so that one run tells the user all they must fix (#17).
    """
    host = url_host(repo_url)
    kind = config.forge or _infer_forge(host, environ)
    problems: list[str] = []
    if kind is None:
        problems.append(
            f"env_repo.forge: cannot tell whether {repo_url} is on GitLab or GitHub "
            "(set gitlab or github)"
        )
    project = config.project or parse_project(repo_url)
    if not project or (kind == "github" and project.count("/") != 1):
        expected = "owner/repo" if kind == "github" else "group/project"
        name = NAMES[kind] if kind else "GitLab/GitHub"
        problems.append(
            f"env_repo.project: cannot tell the {name} project from the environment repo URL "
            f"{repo_url} (set {expected})"
        )
    api_url = (config.api_url or _default_api_url(kind, host, environ)) if kind else None
    if kind is not None and api_url is None:
        problems.append(f"env_repo.api_url: cannot tell the {NAMES[kind]} API URL for {repo_url}")
    token: tuple[Secret, str] | None = None
    try:
        kinds: tuple[ForgeKind, ...] = (kind,) if kind else ("gitlab", "github")
        token = _any_token(kinds, environ)
    except InputError as exc:
        problems.append(str(exc))
    if problems or kind is None or project is None or api_url is None or token is None:
        count = len(problems)
        raise InputError(
            f"promotion with approval: merge-request needs {count} more setting"
            + ("s" if count != 1 else ""),
            problems=problems,
            hint="set them in ci-plugins.yaml / the job's variables, or promote without "
            "approval and merge by hand (docs/approvals.md, 'Without a forge API')",
        )
    return ForgeTarget(kind, _api_root(kind, api_url), project, token[0], token[1])


def _any_token(kinds: tuple[ForgeKind, ...], environ: Mapping[str, str]) -> tuple[Secret, str]:
    """The token of the (only possible) forge; InputError naming every variable otherwise."""
    errors = []
    for kind in kinds:
        try:
            return find_token(kind, environ, purpose=f"open a {_change_request_name(kind)}")
        except InputError as exc:
            errors.append(str(exc))
    raise InputError("; ".join(errors))


def url_host(repo_url: str) -> str | None:
    """The host[:port] of an https/ssh/scp-like git URL; None for local paths."""
    parts = urlsplit(repo_url)
    if parts.scheme in ("http", "https"):
        return (parts.hostname or "") + (f":{parts.port}" if parts.port else "") or None
    if parts.scheme in ("ssh", "git", "git+ssh", "ssh+git"):
        return parts.hostname or None
    match = _SCP_LIKE.match(repo_url)
    if not parts.scheme and match and not Path(repo_url).exists():
        return match.group("host")
    return None


def parse_project(repo_url: str) -> str | None:
    """group/sub/project (GitLab) or owner/repo (GitHub) from a git URL; None if none."""
    if url_host(repo_url) is None:
        return None
    parts = urlsplit(repo_url)
    path = parts.path if parts.scheme else _SCP_LIKE.match(repo_url).group("path")  # type: ignore[union-attr]
    project = path.strip("/").removesuffix(".git").strip("/")
    return project if "/" in project else None


def _infer_forge(host: str | None, environ: Mapping[str, str]) -> ForgeKind | None:
    hostname = (host or "").split(":")[0].lower()
    if hostname == "github.com" or hostname.startswith("github."):
        return "github"
    if "gitlab" in hostname:
        return "gitlab"
    if hostname and hostname == environ.get("CI_SERVER_HOST", "").lower():
        return "gitlab"
    if hostname and hostname == _hostname(environ.get("GITHUB_SERVER_URL", "")):
        return "github"
    return _ci_forge(environ)


def _ci_forge(environ: Mapping[str, str]) -> ForgeKind | None:
    if environ.get("GITLAB_CI") == "true":
        return "gitlab"
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    return None


def _default_api_url(kind: ForgeKind, host: str | None, environ: Mapping[str, str]) -> str | None:
    hostname = (host or "").split(":")[0].lower()
    if kind == "gitlab":
        ci_url = environ.get("CI_API_V4_URL") or environ.get("CI_SERVER_URL")
        if ci_url and (not host or hostname == _hostname(ci_url)):
            return ci_url
        return f"https://{host}" if host else None
    ci_api = environ.get("GITHUB_API_URL")
    server = _hostname(environ.get("GITHUB_SERVER_URL", "")) or "github.com"
    if ci_api and (not host or hostname == server):
        return ci_api
    if not host or hostname == "github.com":
        return "https://api.github.com"
    return f"https://{host}/api/v3"  # GitHub Enterprise Server


def _comment_api_url(
    kind: ForgeKind, config: EnvRepoConfig | None, environ: Mapping[str, str]
) -> str:
    ci_url = (
        environ.get("CI_API_V4_URL") or environ.get("CI_SERVER_URL")
        if kind == "gitlab"
        else environ.get("GITHUB_API_URL")
    )
    configured = config.api_url if config and config.forge in (None, kind) else None
    fallback = None if kind == "gitlab" else "https://api.github.com"
    api_url = ci_url or configured or fallback
    if api_url is None:
        raise InputError(
            "cannot tell the GitLab API URL: CI_API_V4_URL and CI_SERVER_URL are not set",
            hint="run in GitLab CI or set env_repo.api_url in ci-plugins.yaml",
        )
    return _api_root(kind, api_url)


def _api_root(kind: ForgeKind, api_url: str) -> str:
    """python-gitlab wants the instance URL and adds /api/v4 itself."""
    url = api_url.rstrip("/")
    return url.removesuffix("/api/v4") if kind == "gitlab" else url


def _hostname(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _change_request_name(kind: ForgeKind) -> str:
    return "merge request" if kind == "gitlab" else "pull request"


def _required(environ: Mapping[str, str], *names: str) -> str:
    for name in names:
        if environ.get(name):
            return environ[name]
    raise InputError(
        f"{' or '.join(names)} is not set: not a merge request pipeline?",
        hint="comment only from merge/pull request pipelines, or pass the number explicitly",
    )


def _number(environ: Mapping[str, str], name: str) -> int:
    value = _required(environ, name)
    if not value.isdigit():
        raise InputError(f"{name} must be a number, got {value!r}")
    return int(value)


def _pull_request_number(environ: Mapping[str, str]) -> int:
    """The PR number from the workflow's event payload (pull_request or issue_comment)."""
    path = _required(environ, "GITHUB_EVENT_PATH")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the GitHub event payload {path}: {exc}") from None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    issue = event.get("issue") if isinstance(event, dict) else None
    if isinstance(pull, dict) and isinstance(pull.get("number"), int):
        return int(pull["number"])
    if (
        isinstance(issue, dict)
        and issue.get("pull_request")
        and isinstance(issue.get("number"), int)
    ):
        return int(issue["number"])
    raise InputError(
        f"the GitHub event in {path} is not about a pull request",
        hint="run the report comment on pull_request events, or pass the number explicitly",
    )
