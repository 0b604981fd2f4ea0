"""What the GitLab and GitHub adapters share: the resolved target, tokens, errors, retries.

`forge.py` resolves a `ForgeTarget` from the config and the CI variables; `gitlab.py` and
`github.py` speak to the API and translate its failures with `api_error`/`unreachable`
into our error family, so that no caller ever sees a client library's exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from ci_plugins.adapters import retry
from ci_plugins.errors import ExternalError, InputError
from ci_plugins.redact import Secret, redact, register_secret
from ci_plugins.step import REAL_CLOCK, Clock

T = TypeVar("T")
ForgeKind = Literal["gitlab", "github"]

# CI_PLUGINS_* first: a token made for ci-plugins beats the generic one the CI provides.
TOKEN_VARIABLES: dict[ForgeKind, tuple[str, str]] = {
    "gitlab": ("CI_PLUGINS_GITLAB_TOKEN", "GITLAB_TOKEN"),
    "github": ("CI_PLUGINS_GITHUB_TOKEN", "GITHUB_TOKEN"),
}
TOKEN_HINTS: dict[ForgeKind, str] = {
    "gitlab": "use a project access token with the api scope and the Developer role "
    "(CI_JOB_TOKEN cannot create merge requests or notes); see docs/approvals.md",
    "github": "use a token with 'Pull requests: write' on the repository (GITHUB_TOKEN "
    "works for the workflow's own repository); see docs/approvals.md",
}
NAMES: dict[ForgeKind, str] = {"gitlab": "GitLab", "github": "GitHub"}
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 4  # first try + 3 retries, 1s/2s/4s apart: under 10 s before giving up
TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class ForgeTarget:
    """One forge API endpoint, the project on it and the token to use (printed as ****)."""

    kind: ForgeKind
    api_url: str
    project: str
    token: Secret
    token_variable: str

    @property
    def host(self) -> str:
        return urlsplit(self.api_url).netloc or self.api_url


class ApiError(ExternalError):
    """The forge API answered with an error status (exit 3); `.status` and `.api_message`."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        api_message: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.api_message = redact(api_message)


class TransientApiError(ApiError):
    """A 5xx or rate-limit answer: `with_retries` tries again before giving up."""


def find_token(kind: ForgeKind, environ: Mapping[str, str], *, purpose: str) -> tuple[Secret, str]:
    """The first non-empty token variable for this forge; InputError (exit 2) naming them."""
    for variable in TOKEN_VARIABLES[kind]:
        value = environ.get(variable, "").strip()
        if value:
            register_secret(value)
            return Secret(value), variable
    first, second = TOKEN_VARIABLES[kind]
    raise InputError(
        f"no {NAMES[kind]} token to {purpose}: set {first} or {second}", hint=TOKEN_HINTS[kind]
    )


def api_error(target: ForgeTarget, status: int | None, api_message: str, *, doing: str) -> ApiError:
    """Our words for an error answer from the forge API (never containing the token)."""
    detail = redact(api_message.strip()) or "no message"
    name = NAMES[target.kind]
    if status == 401:
        message = (
            f"authentication failed for {target.host} (HTTP 401) while {doing}; "
            f"check {target.token_variable}"
        )
        hint = "the token is wrong, expired or revoked; " + TOKEN_HINTS[target.kind]
        return ApiError(message, status=status, api_message=detail, hint=hint)
    if status == 403 and "rate limit" in detail.lower():  # GitHub's secondary rate limit
        return TransientApiError(
            f"{target.host} is rate limiting (HTTP 403) while {doing}: {detail}",
            status=status,
            api_message=detail,
        )
    if status == 403:
        message = (
            f"{target.host} denied access (HTTP 403) while {doing}: {detail}; "
            f"check {target.token_variable} and its scopes"
        )
        return ApiError(message, status=status, api_message=detail, hint=TOKEN_HINTS[target.kind])
    if status == 404:
        message = (
            f"{name} project {target.project!r} or the object asked for was not found on "
            f"{target.host} (HTTP 404) while {doing}; check env_repo.project and that "
            f"{target.token_variable} can see it"
        )
        return ApiError(message, status=status, api_message=detail)
    kind = TransientApiError if status in TRANSIENT_STATUSES else ApiError
    return kind(
        f"{target.host} answered HTTP {status} while {doing}: {detail}",
        status=status,
        api_message=detail,
    )


def unreachable(target: ForgeTarget, exc: Exception, *, doing: str) -> ExternalError:
    """Connection refused, DNS failure, TLS or timeout: exit 3 with the short reason."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    reason = match.group(0).strip() if match else type(exc).__name__
    return ExternalError(
        f"cannot reach the {NAMES[target.kind]} API at {target.api_url} while {doing}: {reason}",
        hint="check env_repo.api_url and the network between the runner and the forge",
    )


def with_retries(call: Callable[[], T], *, clock: Clock = REAL_CLOCK) -> T:
    """Run call, retrying 5xx answers a bounded number of times with backoff (1s, 2s, 4s)."""
    policy = retry.Policy(
        retry_if=lambda exc: isinstance(exc, TransientApiError),
        wait=lambda attempt, _exc: 2.0 ** (attempt - 1),
        clock=clock,
        attempts=ATTEMPTS,
    )
    try:
        return retry.call(policy, lambda _attempt: call())
    except retry.GaveUp as exc:
        raise ExternalError(f"{exc.last} (gave up after {exc.attempts} attempts)") from exc.last


def with_marker(marker: str, body: str) -> tuple[str, str]:
    """The hidden marker as an HTML comment, and the body starting with it."""
    marker = marker.strip()
    if not marker:
        raise InputError("the report comment needs a non-empty marker")
    if not marker.startswith("<!--"):
        marker = f"<!-- {marker} -->"
    if marker not in body:
        body = f"{marker}\n{body}"
    return marker, body
