"""GitLab merge requests and notes through python-gitlab (API v4).

Every python-gitlab or requests exception is translated into ApiError / ExternalError
(exit 3) naming the host, the HTTP status and what we were doing; the token never
appears in a message (it is a Secret and registered for redaction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ci_plugins.adapters.forge_api import TIMEOUT_SECONDS, ApiError, ForgeTarget, api_error
from ci_plugins.adapters.forge_api import unreachable as _unreachable
from ci_plugins.errors import ExternalError

T = TypeVar("T")


def open_or_update_merge_request(
    target: ForgeTarget, *, source_branch: str, target_branch: str, title: str, body: str
) -> str:
    """Update the open MR source_branch -> target_branch, or create it; return its web URL.

    Raises ApiError/ExternalError (exit 3) when the API fails.
    """
    with _project(target) as project:
        return _open_or_update(target, project, source_branch, target_branch, title, body)


def check_merge_requests(target: ForgeTarget, *, source_branch: str, target_branch: str) -> None:
    """List the open MRs of the branch: proves API URL, project and token before a push.

    Raises ApiError/ExternalError (exit 3) when the API fails.
    """
    with _project(target) as project:
        _find_open(target, project, source_branch, target_branch)


def _open_or_update(
    target: ForgeTarget,
    project: Any,
    source_branch: str,
    target_branch: str,
    title: str,
    body: str,
) -> str:
    existing = _find_open(target, project, source_branch, target_branch)
    if existing is None:
        data = {
            "source_branch": source_branch,
            "target_branch": target_branch,
            "title": title,
            "description": body,
            "remove_source_branch": True,
        }
        try:
            created = _call(target, "creating a merge request", project.mergerequests.create, data)
            return str(created.web_url)
        except ApiError as exc:
            # 409: another open MR for this source branch appeared since we looked (a
            # concurrent promotion); update that one instead.
            if exc.status != 409:
                raise
            existing = _find_open(target, project, source_branch, target_branch)
            if existing is None:
                raise
    if existing.title != title or (existing.description or "") != body:
        existing.title = title
        existing.description = body
        _call(target, f"updating merge request !{existing.iid}", existing.save)
    return str(existing.web_url)


def upsert_note(target: ForgeTarget, *, iid: int, marker: str, body: str) -> str:
    """Edit our note (found by marker) on MR !iid in place, or add it; return its web URL."""
    with _project(target) as project:
        mr = _call(target, f"reading merge request !{iid}", project.mergerequests.get, iid)
        return _upsert_note(target, mr, iid=iid, marker=marker, body=body)


def _upsert_note(target: ForgeTarget, mr: Any, *, iid: int, marker: str, body: str) -> str:
    notes = _call(target, f"listing notes of !{iid}", mr.notes.list, get_all=True)
    ours = next((note for note in notes if marker in (note.body or "")), None)
    if ours is None:
        ours = _call(target, f"adding a note to !{iid}", mr.notes.create, {"body": body})
    elif ours.body != body:
        ours.body = body
        _call(target, f"updating note {ours.id} on !{iid}", ours.save)
    return f"{mr.web_url}#note_{ours.id}"


@contextmanager
def _project(target: ForgeTarget) -> Iterator[Any]:
    try:
        import gitlab
    except ImportError as exc:  # pragma: no cover - the forge extra is part of the install
        raise ExternalError(
            "python-gitlab is not installed", hint="pip install 'ci-plugins[forge]'"
        ) from exc
    client = gitlab.Gitlab(
        target.api_url,
        private_token=target.token.value,
        timeout=TIMEOUT_SECONDS,
        user_agent="ci-plugins",
    )
    try:
        # lazy: no request until we list or create; a missing project is a 404 there.
        yield client.projects.get(target.project, lazy=True)
    finally:
        client.session.close()


def _find_open(target: ForgeTarget, project: Any, source_branch: str, target_branch: str) -> Any:
    found = _call(
        target,
        "looking for an open merge request",
        project.mergerequests.list,
        state="opened",
        source_branch=source_branch,
        target_branch=target_branch,
        get_all=True,
    )
    return found[0] if found else None


def _call(target: ForgeTarget, doing: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    import gitlab.exceptions
    import requests

    try:
        return func(*args, **kwargs)
    except gitlab.exceptions.GitlabError as exc:
        message = exc.error_message
        if isinstance(message, list):
            message = "; ".join(str(part) for part in message)
        elif isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        error = api_error(target, exc.response_code, str(message), doing=doing)
        if exc.response_code == 429:  # python-gitlab already waited out Retry-After 10 times
            error = ApiError(str(error), status=429, api_message=error.api_message)
        raise error from None
    except requests.RequestException as exc:
        raise _unreachable(target, exc, doing=doing) from None
