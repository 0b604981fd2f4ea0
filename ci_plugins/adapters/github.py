"""GitHub pull requests and issue comments through PyGithub (REST API).

Every PyGithub or requests exception is translated into ApiError / ExternalError (exit 3)
naming the host, the HTTP status and what we were doing; the token never appears in a
message (it is a Secret and registered for redaction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ci_plugins.adapters.forge_api import TIMEOUT_SECONDS, ApiError, ForgeTarget, api_error
from ci_plugins.adapters.forge_api import unreachable as _unreachable
from ci_plugins.errors import ExternalError

T = TypeVar("T")


def open_or_update_pull_request(
    target: ForgeTarget, *, source_branch: str, target_branch: str, title: str, body: str
) -> str:
    """Update the open PR source_branch -> target_branch, or create it; return its web URL.

    Raises ApiError/ExternalError (exit 3) when the API fails.
    """
    with _repo(target) as repo:
        return _open_or_update(target, repo, source_branch, target_branch, title, body)


def check_pull_requests(target: ForgeTarget, *, source_branch: str, target_branch: str) -> None:
    """List the open PRs of the branch: proves API URL, repository and token before a push.

    Raises ApiError/ExternalError (exit 3) when the API fails.
    """
    with _repo(target) as repo:
        _find_open(target, repo, source_branch, target_branch)


def _open_or_update(
    target: ForgeTarget,
    repo: Any,
    source_branch: str,
    target_branch: str,
    title: str,
    body: str,
) -> str:
    existing = _find_open(target, repo, source_branch, target_branch)
    if existing is None:
        try:
            created = _call(
                target,
                "creating a pull request",
                repo.create_pull,
                base=target_branch,
                head=source_branch,
                title=title,
                body=body,
            )
            return str(created.html_url)
        except ApiError as exc:
            # GitHub answers 422 "A pull request already exists for owner:branch." when a
            # concurrent promotion opened it since we looked: update that one instead.
            if exc.status not in (409, 422) or "already exists" not in exc.api_message:
                raise
            existing = _find_open(target, repo, source_branch, target_branch)
            if existing is None:
                raise
    if existing.title != title or (existing.body or "") != body:
        _call(
            target,
            f"updating pull request #{existing.number}",
            existing.edit,
            title=title,
            body=body,
        )
    return str(existing.html_url)


def upsert_issue_comment(target: ForgeTarget, *, number: int, marker: str, body: str) -> str:
    """Edit our comment (found by marker) on PR #number in place, or add it; return its URL."""
    with _repo(target) as repo:
        return _upsert_comment(target, repo.get_issue(number), marker=marker, body=body)


def _upsert_comment(target: ForgeTarget, issue: Any, *, marker: str, body: str) -> str:
    number = issue.number
    comments = _call(target, f"listing comments of #{number}", lambda: list(issue.get_comments()))
    ours = next((c for c in comments if marker in (c.body or "")), None)
    if ours is None:
        ours = _call(target, f"commenting on #{number}", issue.create_comment, body)
    elif ours.body != body:
        _call(target, f"updating comment {ours.id} on #{number}", ours.edit, body)
    return str(ours.html_url)


@contextmanager
def _repo(target: ForgeTarget) -> Iterator[Any]:
    try:
        import github
    except ImportError as exc:  # pragma: no cover - the forge extra is part of the install
        raise ExternalError(
            "PyGithub is not installed", hint="pip install 'ci-plugins[forge]'"
        ) from exc
    client = github.Github(
        auth=github.Auth.Token(target.token.value),
        base_url=target.api_url,
        timeout=TIMEOUT_SECONDS,
        user_agent="ci-plugins",
        retry=None,  # forge_api.with_retries retries 5xx with the injected clock
        seconds_between_requests=None,  # a handful of calls per run: no throttling needed
        seconds_between_writes=None,
        lazy=True,
    )
    try:
        yield client.get_repo(target.project)  # lazy: no request until we list or create
    finally:
        client.close()


def _find_open(target: ForgeTarget, repo: Any, source_branch: str, target_branch: str) -> Any:
    owner = target.project.split("/")[0]
    pulls = _call(
        target,
        "looking for an open pull request",
        lambda: list(
            repo.get_pulls(state="open", head=f"{owner}:{source_branch}", base=target_branch)
        ),
    )
    return pulls[0] if pulls else None


def _call(target: ForgeTarget, doing: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    import github
    import requests

    try:
        return func(*args, **kwargs)
    except github.GithubException as exc:
        raise api_error(target, exc.status, _message(exc.data), doing=doing) from None
    except requests.RequestException as exc:
        raise _unreachable(target, exc, doing=doing) from None


def _message(data: Any) -> str:
    """GitHub's message plus the validation errors' messages (422 carries the reason there)."""
    if not isinstance(data, dict):
        return str(data or "")
    parts = [str(data.get("message") or "")]
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            parts.append(str(error.get("message") or error.get("code") or ""))
        else:
            parts.append(str(error))
    return ": ".join(part for part in parts if part)
