"""Start a pipeline on a CI system: GitLab's trigger API, GitHub's workflow_dispatch, Jenkins'
buildWithParameters.

- GitLab: `POST /api/v4/projects/:id/trigger/pipeline` with a pipeline trigger token, `ref`
  and `variables[KEY]=value` (https://docs.gitlab.com/ci/triggers/); answers 201 with the
  pipeline (its `web_url`).
- GitHub: `POST /repos/{owner}/{repo}/actions/workflows/{id}/dispatches` with `ref` and
  `inputs` (https://docs.github.com/rest/actions/workflows); answers 204 without the run.
- Jenkins: `POST /job/NAME/buildWithParameters` with the parameters as a form, basic auth
  with a user's API token, and a crumb from `/crumbIssuer/api/json` when the server issues
  them; answers 201 with the queue item in `Location`.

A refused credential (401/403) or an unknown project/job (404) is the user's to fix:
InputError (exit 2) naming the variable. 429 and 5xx are retried, then ExternalError (3).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ci_plugins.adapters import retry
from ci_plugins.config.models import TriggerConfig
from ci_plugins.errors import ExternalError, InputError
from ci_plugins.redact import Secret, redact, register_secret
from ci_plugins.step import REAL_CLOCK, Clock

TIMEOUT_SECONDS = 30
ATTEMPTS = 3  # 1 s, then 2 s apart
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})

# The variables each CI system's credential is read from, in order (docs/monitor.md).
TOKEN_VARIABLES: dict[str, tuple[str, ...]] = {
    "gitlab": ("CI_PLUGINS_GITLAB_TRIGGER_TOKEN",),
    "github": ("CI_PLUGINS_GITHUB_TOKEN", "GITHUB_TOKEN"),
    "jenkins": ("CI_PLUGINS_JENKINS_TOKEN",),
}
JENKINS_USER_VARIABLE = "CI_PLUGINS_JENKINS_USER"
TOKEN_HINTS = {
    "gitlab": "create a pipeline trigger token in the model project (Settings > CI/CD > "
    "Pipeline trigger tokens) and store it as a masked CI/CD variable",
    "github": "use a fine-grained token with 'Actions: write' on the model repository "
    "(GITHUB_TOKEN works when the workflow runs in that repository)",
    "jenkins": "use a Jenkins user's API token (user > Security > API Token) with Job/Build "
    "permission, and that user's id in CI_PLUGINS_JENKINS_USER",
}


@dataclass(frozen=True)
class Credentials:
    """The token to send (printed as ****), the variable it came from, and the Jenkins user."""

    token: Secret
    variable: str
    user: str = ""


@dataclass(frozen=True)
class Triggered:
    """What the CI system said: where to watch the pipeline (None when it does not say)."""

    url: str | None
    id: str | None = None


class _Retry(Exception):
    def __init__(self, error: ExternalError) -> None:
        super().__init__(str(error))
        self.error = error


def credentials(trigger: TriggerConfig, environ: Mapping[str, str]) -> Credentials:
    """The credential for trigger.forge from the environment; InputError naming the variables."""
    for variable in TOKEN_VARIABLES[trigger.forge]:
        value = environ.get(variable, "").strip()
        if value:
            register_secret(value)
            user = environ.get(JENKINS_USER_VARIABLE, "").strip()
            if trigger.forge == "jenkins" and not user:
                raise InputError(
                    f"no Jenkins user for the API token: set {JENKINS_USER_VARIABLE}",
                    hint=TOKEN_HINTS["jenkins"],
                )
            return Credentials(Secret(value), variable, user)
    names = " or ".join(TOKEN_VARIABLES[trigger.forge])
    raise InputError(
        f"no token to start the {trigger.forge} pipeline: set {names}",
        hint=TOKEN_HINTS[trigger.forge],
    )


def start_pipeline(
    trigger: TriggerConfig,
    creds: Credentials,
    variables: Mapping[str, str],
    *,
    environ: Mapping[str, str],
    clock: Clock = REAL_CLOCK,
) -> Triggered:
    """Start the pipeline trigger names with variables; see the module docstring for errors."""
    start: Callable[[], Triggered] = {
        "gitlab": lambda: _gitlab(trigger, creds, variables, environ),
        "github": lambda: _github(trigger, creds, variables, environ),
        "jenkins": lambda: _jenkins(trigger, creds, variables),
    }[trigger.forge]
    policy = retry.doubling(lambda error: isinstance(error, _Retry), clock=clock, attempts=ATTEMPTS)
    try:
        return retry.call(policy, lambda _attempt: start())
    except retry.GaveUp as exc:
        error = exc.last.error if isinstance(exc.last, _Retry) else exc.last
        raise ExternalError(f"{error} (gave up after {exc.attempts} attempts)") from None


def _gitlab(
    trigger: TriggerConfig,
    creds: Credentials,
    variables: Mapping[str, str],
    environ: Mapping[str, str],
) -> Triggered:
    base = (trigger.url or environ.get("CI_SERVER_URL") or "https://gitlab.com").rstrip("/")
    project = quote(str(trigger.project), safe="")
    form = {"token": creds.token.value, "ref": trigger.ref}
    form.update({f"variables[{key}]": value for key, value in variables.items()})
    url = f"{base}/api/v4/projects/{project}/trigger/pipeline"
    response = _send("POST", url, trigger, creds, data=form)
    body = _json(response)
    return Triggered(url=body.get("web_url"), id=str(body["id"]) if "id" in body else None)


def _github(
    trigger: TriggerConfig,
    creds: Credentials,
    variables: Mapping[str, str],
    environ: Mapping[str, str],
) -> Triggered:
    api = (trigger.url or environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
    workflow = quote(str(trigger.workflow), safe="")
    url = f"{api}/repos/{trigger.repo}/actions/workflows/{workflow}/dispatches"
    headers = {
        "Authorization": f"Bearer {creds.token.value}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    body = {"ref": trigger.ref, "inputs": dict(variables)}
    _send("POST", url, trigger, creds, json=body, headers=headers)
    # 204 names no run: point at the workflow's runs, filtered to dispatches.
    server = environ.get("GITHUB_SERVER_URL") or _github_web(api)
    runs = f"{server}/{trigger.repo}/actions/workflows/{workflow}?query=event%3Aworkflow_dispatch"
    return Triggered(url=runs)


def _jenkins(trigger: TriggerConfig, creds: Credentials, variables: Mapping[str, str]) -> Triggered:
    base = str(trigger.url).rstrip("/")
    auth = (creds.user, creds.token.value)
    session = requests.Session()  # the crumb is bound to the session's cookie
    headers: dict[str, str] = {}
    crumb = _send(
        "GET",
        f"{base}/crumbIssuer/api/json",
        trigger,
        creds,
        auth=auth,
        ok_404=True,
        session=session,
    )
    if crumb.status_code == 200:
        issued = _json(crumb)
        headers[str(issued["crumbRequestField"])] = str(issued["crumb"])
    job = "/".join(f"job/{quote(part, safe='')}" for part in str(trigger.job).split("/") if part)
    response = _send(
        "POST",
        f"{base}/{job}/buildWithParameters",
        trigger,
        creds,
        data=dict(variables),
        headers=headers,
        auth=auth,
        session=session,
    )
    queue = response.headers.get("Location")
    return Triggered(url=queue, id=queue.rstrip("/").rsplit("/", 1)[-1] if queue else None)


def _send(
    method: str,
    url: str,
    trigger: TriggerConfig,
    creds: Credentials,
    *,
    ok_404: bool = False,
    session: requests.Session | None = None,
    **kwargs: Any,
) -> requests.Response:
    doing = f"starting the {trigger.forge} pipeline ({method} {urlsplit(url).path})"
    try:
        response = (session or requests).request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
    except requests.RequestException as exc:
        error = ExternalError(f"cannot reach {_host(url)} while {doing}: {_reason(exc)}")
        raise _Retry(error) from None
    status = response.status_code
    if status < 400 or (ok_404 and status == 404):
        return response
    detail = redact(_message(response))
    if status in RETRIED_STATUSES:
        raise _Retry(ExternalError(f"{_host(url)} answered HTTP {status} while {doing}: {detail}"))
    if status in (401, 403):
        raise InputError(
            f"{_host(url)} refused the credential (HTTP {status}) while {doing}: {detail}; "
            f"check {creds.variable}",
            hint=TOKEN_HINTS[trigger.forge],
        )
    if status == 404:
        raise InputError(
            f"{_host(url)} has no {_what(trigger)} (HTTP 404) while {doing}, or "
            f"{creds.variable} may not see it: {detail}",
            hint="check monitor.trigger in ci-plugins.yaml",
        )
    raise InputError(f"{_host(url)} rejected the request (HTTP {status}) while {doing}: {detail}")


def _what(trigger: TriggerConfig) -> str:
    if trigger.forge == "gitlab":
        return f"project {trigger.project!r}"
    if trigger.forge == "github":
        return f"workflow {trigger.workflow!r} in {trigger.repo!r}"
    return f"job {trigger.job!r}"


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(response: requests.Response) -> str:
    body = _json(response)
    message = body.get("message") or body.get("error") or response.text[:200]
    return str(message).strip() or response.reason or "no message"


def _github_web(api: str) -> str:
    parts = urlsplit(api)
    if parts.netloc == "api.github.com":
        return "https://github.com"
    return f"{parts.scheme}://{parts.netloc}"  # GitHub Enterprise: https://host/api/v3


def _host(url: str) -> str:
    return urlsplit(url).netloc


def _reason(exc: Exception) -> str:
    match = re.search(r"\[Errno -?\d+\][^'\")]*", str(exc))
    if match:
        return match.group(0).strip()
    return "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__
