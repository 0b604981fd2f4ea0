"""A local GitLab v4 / GitHub REST server for the few calls ci-plugins makes.

Not a mock of the client libraries: python-gitlab and PyGithub talk real HTTP to it on
127.0.0.1. Responses follow the shapes of the public API docs (merge requests, notes,
pull requests, issue comments), errors use the bodies those APIs send, and every
request is recorded. `fail(status, ...)` makes the next matching request(s) answer with
an error (401/403/404/409/422/500...). Lists are paginated like the real APIs (`page`,
`per_page`, a `Link: <...>; rel="next"` header), 20 per page (GitLab) or 30 (GitHub).

Pipeline starts too: GitLab's trigger API (`POST /api/v4/projects/:id/trigger/pipeline`,
authenticated by the trigger token in the form, a wrong one answers 404 as GitLab does),
GitHub's `workflow_dispatch` (`POST /repos/o/r/actions/workflows/ID/dispatches`, 204; inputs
the workflow does not declare are 422) and Jenkins' `POST /job/NAME/buildWithParameters`
(basic auth user:API token, crumb from `/crumbIssuer/api/json`, 201 with the queue item in
`Location`).

    with ForgeServer(token="glpat-...") as server:
        server.add_gitlab_project("platform/environments")
        ...  server.url, server.requests, server.gitlab_mrs("platform/environments")
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

# The project, repository and token the forge tests use (tests/integration/forge/).
TOKEN = "s3cret-forge-token-0123456789"
GITLAB_PROJECT = "platform/environments"
GITHUB_REPO = "acme/environments"

NOW = "2026-11-22T04:00:00.000Z"
GITHUB_NOW = "2026-11-22T04:00:00Z"
DOCS = "https://docs.github.com/rest"

GITLAB_ERRORS: dict[int, Any] = {
    401: {"message": "401 Unauthorized"},
    403: {"message": "403 Forbidden"},
    404: {"message": "404 Project Not Found"},
    409: {"message": ["Another open merge request already exists for this source branch: !1"]},
    422: {"message": ["Source branch does not exist"]},
    500: {"message": "500 Internal Server Error"},
    502: {"message": "502 Bad Gateway"},
}
GITHUB_ERRORS: dict[int, Any] = {
    401: {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"},
    403: {
        "message": "Resource not accessible by integration",
        "documentation_url": f"{DOCS}/pulls/pulls#create-a-pull-request",
        "status": "403",
    },
    404: {"message": "Not Found", "documentation_url": DOCS, "status": "404"},
    422: {
        "message": "Validation Failed",
        "errors": [
            {
                "resource": "PullRequest",
                "code": "custom",
                "message": "No commits between main and promote/prod/digits",
            }
        ],
        "documentation_url": f"{DOCS}/pulls/pulls#create-a-pull-request",
        "status": "422",
    },
    500: {"message": "Server Error", "status": "500"},
    502: {"message": "Server Error", "status": "502"},
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent (percent-encoded), without the query
    segments: tuple[str, ...]  # the path's parts, each decoded
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    status: int
    method: str | None
    path_contains: str | None
    times: int
    body: Any


@dataclass
class _Project:
    id: int
    path: str
    mrs: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    trigger_tokens: set[str] = field(default_factory=set)
    pipelines: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Reply:
    """An answer that is not a JSON document: a body (maybe empty) and extra headers."""

    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


@dataclass
class _Repo:
    id: int
    full_name: str
    pulls: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    workflows: dict[str, list[str]] = field(default_factory=dict)  # file -> declared inputs
    dispatches: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _JenkinsJob:
    name: str
    user: str
    api_token: str
    builds: list[dict[str, str]] = field(default_factory=list)


class ForgeServer:
    """GitLab (/api/v4/...) and GitHub (/repos/...) on one local port."""

    def __init__(self, *, token: str) -> None:
        self.token = token
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.projects: dict[str, _Project] = {}
        self.repos: dict[str, _Repo] = {}
        self.jenkins_jobs: dict[str, _JenkinsJob] = {}
        self.jenkins_crumb = "5f0c1b2e9d6a4c3b8e7f6a5d4c3b2a19"
        self._ids = 100
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ForgeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- setup and inspection ----------------------------------------------------------
    def add_gitlab_project(self, path: str) -> int:
        project = _Project(id=self._next_id(), path=path)
        self.projects[path] = project
        return project.id

    def add_github_repo(self, full_name: str) -> None:
        self.repos[full_name] = _Repo(id=self._next_id(), full_name=full_name)

    def add_gitlab_trigger(self, path: str, token: str) -> None:
        """A pipeline trigger token of the project (Settings > CI/CD > Pipeline triggers)."""
        self.projects[path].trigger_tokens.add(token)

    def add_github_workflow(self, full_name: str, workflow: str, *, inputs: list[str]) -> None:
        """A workflow file with `on: workflow_dispatch` declaring these inputs."""
        self.repos[full_name].workflows[workflow] = list(inputs)

    def add_jenkins_job(self, name: str, *, user: str, api_token: str) -> None:
        """A parameterised job (folders with /) that user may build with that API token."""
        self.jenkins_jobs[name] = _JenkinsJob(name, user, api_token)

    def gitlab_pipelines(self, path: str) -> list[dict[str, Any]]:
        return self.projects[path].pipelines

    def github_dispatches(self, full_name: str) -> list[dict[str, Any]]:
        return self.repos[full_name].dispatches

    def jenkins_builds(self, name: str) -> list[dict[str, str]]:
        return self.jenkins_jobs[name].builds

    def pipelines_started(self) -> int:
        """Every pipeline, run or build started so far, on any of the three systems."""
        return (
            sum(len(p.pipelines) for p in self.projects.values())
            + sum(len(r.dispatches) for r in self.repos.values())
            + sum(len(j.builds) for j in self.jenkins_jobs.values())
        )

    def fail(
        self,
        status: int,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        times: int = 1,
        body: Any = None,
    ) -> None:
        """Answer the next `times` matching requests with status (default body per API)."""
        self.faults.append(Fault(status, method, path_contains, times, body))

    def open_gitlab_mr(self, path: str, *, source_branch: str, title: str = "Add a model") -> int:
        """An open MR as a developer would have opened it; returns its iid."""
        status, mr = self._gitlab_create_mr(
            self.projects[path],
            {"source_branch": source_branch, "target_branch": "main", "title": title},
        )
        assert status == 201, mr
        return int(mr["iid"])

    def add_gitlab_note(self, path: str, iid: int, body: str) -> None:
        project = self.projects[path]
        mr = next(m for m in project.mrs if m["iid"] == iid)
        note = gitlab_note(project, mr, id=self._next_id(), body=body)
        project.notes.setdefault(iid, []).append(note)

    def open_github_pull(self, full_name: str, *, head: str, title: str = "Add a model") -> int:
        """An open PR as a developer would have opened it; returns its number."""
        spec = {"head": head, "base": "main", "title": title, "body": None}
        status, pull = self._github_create_pull(self.repos[full_name], spec)
        assert status == 201, pull
        return int(pull["number"])

    def add_github_comment(self, full_name: str, number: int, body: str) -> None:
        repo = self.repos[full_name]
        comment = github_comment(self.url, repo, number, id=self._next_id(), body=body)
        repo.comments.setdefault(number, []).append(comment)

    def gitlab_mrs(self, path: str) -> list[dict[str, Any]]:
        return self.projects[path].mrs

    def gitlab_notes(self, path: str, iid: int) -> list[dict[str, Any]]:
        return self.projects[path].notes.get(iid, [])

    def github_pulls(self, full_name: str) -> list[dict[str, Any]]:
        return self.repos[full_name].pulls

    def github_comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        return self.repos[full_name].comments.get(number, [])

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH")]

    # -- dispatch ----------------------------------------------------------------------
    def handle(self, request: Request) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(request)
            github = not request.path.startswith("/api/v4/")
            jenkins = request.segments[0] in ("job", "crumbIssuer")
            fault = self._take_fault(request)
            if fault is not None and jenkins:
                return fault.status, Reply(b"<html><body>Error</body></html>", {}, "text/html")
            if fault is not None:
                defaults = GITHUB_ERRORS if github else GITLAB_ERRORS
                if fault.body is not None:
                    return fault.status, fault.body
                return fault.status, defaults.get(fault.status, {"message": "error"})
            if jenkins:
                return self._jenkins(request)
            if request.segments[-2:] == ("trigger", "pipeline") and not github:
                return self._gitlab_trigger(request)  # the trigger token is the credential
            if not self._authorized(request, github=github):
                return 401, (GITHUB_ERRORS if github else GITLAB_ERRORS)[401]
            if github:
                return self._github(request)
            return self._gitlab(request)

    def _take_fault(self, request: Request) -> Fault | None:
        for fault in self.faults:
            if fault.times <= 0:
                continue
            if fault.method and fault.method != request.method:
                continue
            if fault.path_contains and fault.path_contains not in request.path:
                continue
            fault.times -= 1
            return fault
        return None

    def _authorized(self, request: Request, *, github: bool) -> bool:
        if github:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            return scheme.lower() in ("token", "bearer") and value == self.token
        return request.headers.get("private-token") == self.token

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    # -- GitLab v4 ---------------------------------------------------------------------
    def _gitlab(self, request: Request) -> tuple[int, Any]:
        parts = list(request.segments[2:])
        if len(parts) < 3 or parts[0] != "projects" or parts[2] != "merge_requests":
            return 404, {"error": "404 Not Found"}
        project = self._project(parts[1])
        if project is None:
            return 404, GITLAB_ERRORS[404]
        rest, method = parts[3:], request.method
        if not rest and method == "GET":
            return 200, [mr for mr in project.mrs if _gitlab_matches(mr, request.query)]
        if not rest and method == "POST":
            return self._gitlab_create_mr(project, request.body)
        mr = next((m for m in project.mrs if rest and str(m["iid"]) == rest[0]), None)
        if mr is None:
            return 404, {"message": "404 Not found"}
        if len(rest) == 1 and method == "GET":
            return 200, mr
        if len(rest) == 1 and method == "PUT":
            mr.update({k: v for k, v in request.body.items() if k in ("title", "description")})
            mr["updated_at"] = NOW
            return 200, mr
        if len(rest) >= 2 and rest[1] == "notes":
            return self._gitlab_notes(project, mr, rest[2:], request)
        return 404, {"error": "404 Not Found"}

    def _project(self, ident: str) -> _Project | None:
        for project in self.projects.values():
            if ident in (project.path, str(project.id)):
                return project
        return None

    def _gitlab_create_mr(self, project: _Project, body: dict[str, Any]) -> tuple[int, Any]:
        for mr in project.mrs:
            same = (mr["source_branch"], mr["target_branch"]) == (
                body["source_branch"],
                body["target_branch"],
            )
            if mr["state"] == "opened" and same:
                message = "Another open merge request already exists for this source branch"
                return 409, {"message": [f"{message}: !{mr['iid']}"]}
        mr = gitlab_merge_request(self.url, project, iid=len(project.mrs) + 1, id=self._next_id())
        mr.update({k: body[k] for k in ("source_branch", "target_branch", "title")})
        mr["description"] = body.get("description")
        mr["force_remove_source_branch"] = body.get("remove_source_branch")
        project.mrs.append(mr)
        return 201, mr

    def _gitlab_notes(
        self, project: _Project, mr: dict[str, Any], rest: list[str], request: Request
    ) -> tuple[int, Any]:
        notes = project.notes.setdefault(mr["iid"], [])
        if not rest and request.method == "GET":  # GitLab's default: newest first
            return 200, notes if request.query.get("sort") == "asc" else notes[::-1]
        if not rest and request.method == "POST":
            created = gitlab_note(project, mr, id=self._next_id(), body=request.body["body"])
            notes.append(created)
            return 201, created
        found = [n for n in notes if rest and str(n["id"]) == rest[0]]
        if found and request.method == "PUT":
            found[0]["body"] = request.body["body"]
            found[0]["updated_at"] = NOW
            return 200, found[0]
        return 404, {"message": "404 Note Not Found"}

    def _gitlab_trigger(self, request: Request) -> tuple[int, Any]:
        project = self._project(request.segments[3]) if len(request.segments) > 3 else None
        form = request.body if isinstance(request.body, dict) else {}
        if request.method != "POST" or project is None:
            return 404, {"message": "404 Not Found"}
        if form.get("token") not in project.trigger_tokens:
            return 404, {"message": "404 Not Found"}  # GitLab hides the project from bad tokens
        if not form.get("ref"):
            return 400, {"error": "ref is missing"}
        variables = {
            key[len("variables[") : -1]: value
            for key, value in form.items()
            if key.startswith("variables[") and key.endswith("]")
        }
        number = self._next_id()
        pipeline = {
            "id": number,
            "iid": len(project.pipelines) + 1,
            "project_id": project.id,
            "sha": "a91957a858320c0e17f3a0eca7cfacbff50ea29a",
            "ref": form["ref"],
            "status": "created",
            "source": "trigger",
            "created_at": NOW,
            "updated_at": NOW,
            "web_url": f"{self.url}/{project.path}/-/pipelines/{number}",
            "variables": variables,
        }
        project.pipelines.append(pipeline)
        return 201, {k: v for k, v in pipeline.items() if k != "variables"}

    # -- Jenkins -------------------------------------------------------------------------
    def _jenkins(self, request: Request) -> tuple[int, Any]:
        parts = list(request.segments)
        if parts[0] == "crumbIssuer":
            if self._jenkins_user(request) is None:
                return 401, Reply(b"Invalid password/token for user", {}, "text/html")
            return 200, {
                "_class": "hudson.security.csrf.DefaultCrumbIssuer",
                "crumb": self.jenkins_crumb,
                "crumbRequestField": "Jenkins-Crumb",
            }
        if len(parts) < 3 or parts[-1] != "buildWithParameters" or request.method != "POST":
            return 404, Reply(b"<html><body>Not Found</body></html>", {}, "text/html")
        name = "/".join(parts[1:-1:2])
        job = self.jenkins_jobs.get(name)
        user = self._jenkins_user(request)
        if job is None:
            return 404, Reply(b"<html><body>Not Found</body></html>", {}, "text/html")
        if user is None:
            return 401, Reply(b"Invalid password/token for user", {}, "text/html")
        if user != job.user:
            denied = f"{user} is missing the Job/Build permission".encode()
            return 403, Reply(denied, {}, "text/html")
        if request.headers.get("jenkins-crumb") not in (None, self.jenkins_crumb):
            return 403, Reply(b"No valid crumb was included in the request", {}, "text/html")
        params = request.body if isinstance(request.body, dict) else {}
        job.builds.append(dict(params))
        queue = f"{self.url}/queue/item/{self._next_id()}/"
        return 201, Reply(b"", {"Location": queue})

    def _jenkins_user(self, request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, token = base64.b64decode(value).decode().partition(":")
        known = {(j.user, j.api_token) for j in self.jenkins_jobs.values()}
        return user if (user, token) in known else None

    # -- GitHub REST -------------------------------------------------------------------
    def _github(self, request: Request) -> tuple[int, Any]:
        parts = list(request.segments)
        if len(parts) < 4 or parts[0] != "repos":
            return 404, GITHUB_ERRORS[404]
        repo = self.repos.get(f"{parts[1]}/{parts[2]}")
        if repo is None:
            return 404, GITHUB_ERRORS[404]
        rest, method = parts[3:], request.method
        if len(rest) == 4 and rest[:2] == ["actions", "workflows"] and rest[3] == "dispatches":
            return self._github_dispatch(repo, rest[2], request)
        if rest == ["pulls"] and method == "GET":
            return 200, [p for p in repo.pulls if _github_matches(p, request.query)]
        if rest == ["pulls"] and method == "POST":
            return self._github_create_pull(repo, request.body)
        if len(rest) == 2 and rest[0] == "pulls" and method == "PATCH":
            pull = next((p for p in repo.pulls if str(p["number"]) == rest[1]), None)
            if pull is None:
                return 404, GITHUB_ERRORS[404]
            pull.update({k: v for k, v in request.body.items() if k in ("title", "body")})
            pull["updated_at"] = GITHUB_NOW
            return 200, pull
        if len(rest) == 3 and rest[0] == "issues" and rest[2] == "comments":
            return self._github_comments(repo, int(rest[1]), request)
        if len(rest) == 3 and rest[:2] == ["issues", "comments"] and method == "PATCH":
            for comments in repo.comments.values():
                for comment in comments:
                    if str(comment["id"]) == rest[2]:
                        comment["body"] = request.body["body"]
                        comment["updated_at"] = GITHUB_NOW
                        return 200, comment
        return 404, GITHUB_ERRORS[404]

    def _github_dispatch(self, repo: _Repo, workflow: str, request: Request) -> tuple[int, Any]:
        if request.method != "POST" or workflow not in repo.workflows:
            return 404, GITHUB_ERRORS[404]
        body = request.body if isinstance(request.body, dict) else {}
        docs = f"{DOCS}/actions/workflows#create-a-workflow-dispatch-event"
        if not body.get("ref"):
            return 422, {
                "message": 'Invalid request.\n\n"ref" wasn\'t supplied.',
                "documentation_url": docs,
                "status": "422",
            }
        inputs = body.get("inputs") or {}
        unexpected = sorted(set(inputs) - set(repo.workflows[workflow]))
        if unexpected:
            return 422, {
                "message": f"Unexpected inputs provided: {json.dumps(unexpected)}",
                "documentation_url": docs,
                "status": "422",
            }
        repo.dispatches.append({"workflow": workflow, "ref": body["ref"], "inputs": inputs})
        return 204, Reply(b"", {})

    def _github_create_pull(self, repo: _Repo, body: dict[str, Any]) -> tuple[int, Any]:
        owner = repo.full_name.split("/")[0]
        for pull in repo.pulls:
            if pull["state"] == "open" and pull["head"]["ref"] == body["head"]:
                error = GITHUB_ERRORS[422] | {
                    "errors": [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {owner}:{body['head']}.",
                        }
                    ]
                }
                return 422, error
        number = len(repo.pulls) + 1
        pull = github_pull(self.url, repo, number=number, id=self._next_id(), spec=body)
        repo.pulls.append(pull)
        return 201, pull

    def _github_comments(self, repo: _Repo, number: int, request: Request) -> tuple[int, Any]:
        if not any(p["number"] == number for p in repo.pulls):
            return 404, GITHUB_ERRORS[404]
        comments = repo.comments.setdefault(number, [])
        if request.method == "GET":
            return 200, comments
        comment = github_comment(
            self.url, repo, number, id=self._next_id(), body=request.body["body"]
        )
        comments.append(comment)
        return 201, comment


def _gitlab_matches(mr: dict[str, Any], query: dict[str, str]) -> bool:
    keys = ("state", "source_branch", "target_branch")
    return all(mr[k] == query[k] for k in keys if k in query)


def _github_matches(pull: dict[str, Any], query: dict[str, str]) -> bool:
    if query.get("state", "open") not in ("all", pull["state"]):
        return False
    if "head" in query and query["head"] != pull["head"]["label"]:
        return False
    return "base" not in query or query["base"] == pull["base"]["ref"]


# -- realistic documents (fields as in the GitLab and GitHub REST docs) ------------------
def _gitlab_user() -> dict[str, Any]:
    return {
        "id": 7,
        "username": "project_42_bot",
        "name": "ci-plugins bot",
        "state": "active",
        "locked": False,
        "avatar_url": None,
        "web_url": "https://gitlab.example.com/project_42_bot",
    }


def gitlab_merge_request(base: str, project: _Project, *, iid: int, id: int) -> dict[str, Any]:
    return {
        "id": id,
        "iid": iid,
        "project_id": project.id,
        "title": "",
        "description": None,
        "state": "opened",
        "created_at": NOW,
        "updated_at": NOW,
        "merged_by": None,
        "merge_user": None,
        "merged_at": None,
        "closed_by": None,
        "closed_at": None,
        "target_branch": "main",
        "source_branch": "",
        "user_notes_count": 0,
        "upvotes": 0,
        "downvotes": 0,
        "author": _gitlab_user(),
        "assignees": [],
        "assignee": None,
        "reviewers": [],
        "source_project_id": project.id,
        "target_project_id": project.id,
        "labels": [],
        "draft": False,
        "work_in_progress": False,
        "milestone": None,
        "merge_when_pipeline_succeeds": False,
        "merge_status": "checking",
        "detailed_merge_status": "checking",
        "sha": "8888888888888888888888888888888888888888",
        "merge_commit_sha": None,
        "squash_commit_sha": None,
        "discussion_locked": None,
        "should_remove_source_branch": None,
        "force_remove_source_branch": True,
        "reference": f"!{iid}",
        "references": {
            "short": f"!{iid}",
            "relative": f"!{iid}",
            "full": f"{project.path}!{iid}",
        },
        "web_url": f"{base}/{project.path}/-/merge_requests/{iid}",
        "time_stats": {
            "time_estimate": 0,
            "total_time_spent": 0,
            "human_time_estimate": None,
            "human_total_time_spent": None,
        },
        "squash": False,
        "squash_on_merge": False,
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": False,
        "blocking_discussions_resolved": True,
    }


def gitlab_note(project: _Project, mr: dict[str, Any], *, id: int, body: str) -> dict[str, Any]:
    return {
        "id": id,
        "type": None,
        "body": body,
        "attachment": None,
        "author": _gitlab_user(),
        "created_at": NOW,
        "updated_at": NOW,
        "system": False,
        "noteable_id": mr["id"],
        "noteable_type": "MergeRequest",
        "project_id": project.id,
        "resolvable": False,
        "confidential": False,
        "internal": False,
        "noteable_iid": mr["iid"],
        "commands_changes": {},
    }


def _github_user(base: str) -> dict[str, Any]:
    return {
        "login": "github-actions[bot]",
        "id": 41898282,
        "node_id": "MDM6Qm90NDE4OTgyODI=",
        "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4",
        "url": f"{base}/users/github-actions%5Bbot%5D",
        "html_url": "https://github.com/apps/github-actions",
        "type": "Bot",
        "site_admin": False,
    }


def _github_repo(base: str, repo: _Repo) -> dict[str, Any]:
    owner, name = repo.full_name.split("/")
    return {
        "id": repo.id,
        "node_id": "R_kgDOExample",
        "name": name,
        "full_name": repo.full_name,
        "private": True,
        "owner": _github_user(base) | {"login": owner, "type": "Organization"},
        "html_url": f"{base}/{repo.full_name}",
        "url": f"{base}/repos/{repo.full_name}",
        "default_branch": "main",
    }


def github_pull(
    base: str, repo: _Repo, *, number: int, id: int, spec: dict[str, Any]
) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    owner = repo.full_name.split("/")[0]
    repo_doc = _github_repo(base, repo)
    html = f"{base}/{repo.full_name}/pull/{number}"
    return {
        "url": f"{api}/pulls/{number}",
        "id": id,
        "node_id": "PR_kwDOExample",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{number}",
        "commits_url": f"{api}/pulls/{number}/commits",
        "review_comments_url": f"{api}/pulls/{number}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{number}/comments",
        "statuses_url": f"{api}/statuses/8888888888888888888888888888888888888888",
        "number": number,
        "state": "open",
        "locked": False,
        "title": spec["title"],
        "user": _github_user(base),
        "body": spec.get("body"),
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": GITHUB_NOW,
        "updated_at": GITHUB_NOW,
        "closed_at": None,
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {
            "label": f"{owner}:{spec['head']}",
            "ref": spec["head"],
            "sha": "8888888888888888888888888888888888888888",
            "user": repo_doc["owner"],
            "repo": repo_doc,
        },
        "base": {
            "label": f"{owner}:{spec['base']}",
            "ref": spec["base"],
            "sha": "7777777777777777777777777777777777777777",
            "user": repo_doc["owner"],
            "repo": repo_doc,
        },
        "_links": {
            "self": {"href": f"{api}/pulls/{number}"},
            "html": {"href": html},
            "issue": {"href": f"{api}/issues/{number}"},
            "comments": {"href": f"{api}/issues/{number}/comments"},
        },
        "author_association": "NONE",
        "auto_merge": None,
        "draft": bool(spec.get("draft", False)),
    }


def github_comment(base: str, repo: _Repo, number: int, *, id: int, body: str) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    return {
        "id": id,
        "node_id": "IC_kwDOExample",
        "url": f"{api}/issues/comments/{id}",
        "html_url": f"{base}/{repo.full_name}/pull/{number}#issuecomment-{id}",
        "body": body,
        "user": _github_user(base),
        "created_at": GITHUB_NOW,
        "updated_at": GITHUB_NOW,
        "issue_url": f"{api}/issues/{number}",
        "author_association": "NONE",
    }


def _paginate(
    url: str, query: dict[str, str], items: list[Any]
) -> tuple[list[Any], dict[str, str]]:
    """One page of a list and its headers: Link rel="next" (both APIs), X-* (GitLab)."""
    default = 20 if "/api/v4/" in url else 30
    page, per_page = int(query.get("page", 1)), int(query.get("per_page", default))
    start = (page - 1) * per_page
    headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items))}
    if start + per_page < len(items):
        following = urlencode(query | {"page": str(page + 1), "per_page": str(per_page)})
        headers["Link"] = f'<{url}?{following}>; rel="next"'
        headers["X-Next-Page"] = str(page + 1)
    return items[start : start + per_page], headers


def _handler_for(server: ForgeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

        def _serve(self) -> None:
            split = urlsplit(self.path)
            segments = tuple(unquote(part) for part in split.path.strip("/").split("/"))
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, document = server.handle(
                Request(self.command, split.path, segments, query, headers, body)
            )
            extra: dict[str, str] = {}
            content_type = "application/json; charset=utf-8"
            if self.command == "GET" and status == 200 and isinstance(document, list):
                document, extra = _paginate(server.url + split.path, query, document)
            if isinstance(document, Reply):
                data, extra, content_type = document.body, document.headers, document.content_type
            else:
                data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = _serve

    return Handler
