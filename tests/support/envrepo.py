"""Real environment repos for tests: bare repos on disk, and the same served over HTTP.

Import the helpers (`make_bare_repo`, `seed_files`, `remote_files`, ...) in any test; the
fixtures (`env_repo`, `http_git`) are registered for every test in tests/conftest.py.

`HttpGitServer` runs the real `git http-backend` (smart HTTP, push enabled) behind a small
threaded HTTP server on 127.0.0.1, optionally with basic auth, so clone/push over HTTPS-like
transport, credentials and auth failures are exercised for real.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
}
HTTP_BACKEND = Path("/usr/lib/git-core/git-http-backend")


def git(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    """Run git for test setup and inspection; returns stdout."""
    env = {**os.environ, **GIT_ENV}
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def make_bare_repo(path: Path, *, branch: str = "main") -> Path:
    """An empty bare repo at path (branch `branch` is created by the first push)."""
    git("init", "--quiet", "--bare", "--initial-branch", branch, str(path))
    git("config", "http.receivepack", "true", cwd=path)
    return path


def seed_files(
    bare: Path, files: Mapping[str, str], *, message: str = "seed", branch: str = "main"
) -> str:
    """Commit files (relpath -> text; "" deletes nothing, None-like not supported) to
    the bare repo's branch, on top of what is there; returns the new commit sha."""
    with tempfile.TemporaryDirectory(prefix="seed-") as tmp:
        work = Path(tmp) / "w"
        heads = git("ls-remote", "--heads", str(bare))
        if f"refs/heads/{branch}" in heads:
            git("clone", "--quiet", "--branch", branch, str(bare), str(work))
        else:
            git("init", "--quiet", "--initial-branch", branch, str(work))
            git("remote", "add", "origin", str(bare), cwd=work)
        for relpath, text in files.items():
            target = work / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=work)
        git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
        return git("rev-parse", "HEAD", cwd=work).strip()


def remote_head(bare: Path, branch: str = "main") -> str:
    """The branch's commit sha in the bare repo ("" when the branch does not exist)."""
    proc = git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", cwd=bare, check=False)
    return proc.strip()


def remote_files(bare: Path, branch: str = "main", *, under: str = "") -> dict[str, str]:
    """Every file (relpath -> text) on the branch, optionally only under a directory."""
    if not remote_head(bare, branch):
        return {}
    args = ["ls-tree", "-r", "--name-only", f"refs/heads/{branch}"]
    if under:
        args += ["--", under]
    names = git(*args, cwd=bare).splitlines()
    return {name: git("show", f"refs/heads/{branch}:{name}", cwd=bare) for name in names}


def remote_objects(bare: Path, under: str, kind: str, branch: str = "main") -> dict[str, Any]:
    """The committed Kubernetes objects of one kind under a directory, by name."""
    found = {}
    for text in remote_files(bare, branch, under=under).values():
        obj = yaml.safe_load(text)
        if isinstance(obj, dict) and obj.get("kind") == kind:
            found[obj["metadata"]["name"]] = obj
    return found


def remote_yaml(bare: Path, relpath: str, branch: str = "main") -> Any:
    """A YAML file on the branch, parsed (None when absent)."""
    proc = subprocess.run(
        ["git", "show", f"refs/heads/{branch}:{relpath}"],
        cwd=bare,
        capture_output=True,
        text=True,
        check=False,
    )
    return yaml.safe_load(proc.stdout) if proc.returncode == 0 else None


def remote_log(bare: Path, branch: str = "main", fmt: str = "%H %s") -> list[str]:
    """`git log --format=fmt` of the branch, newest first ([] when it does not exist)."""
    if not remote_head(bare, branch):
        return []
    return git("log", f"--format={fmt}", f"refs/heads/{branch}", cwd=bare).splitlines()


def commit_message(bare: Path, commit: str) -> str:
    return git("log", "-1", "--format=%B", commit, cwd=bare)


def is_linear(bare: Path, branch: str = "main") -> bool:
    """True when no commit on the branch has more than one parent."""
    merges = git("rev-list", "--merges", f"refs/heads/{branch}", cwd=bare)
    return merges.strip() == ""


def install_hook(bare: Path, name: str, script: str) -> Path:
    """Install a server-side hook (e.g. pre-receive) in the bare repo."""
    hook = bare / "hooks" / name
    hook.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    hook.chmod(0o755)
    return hook


# -- HTTP ----------------------------------------------------------------------------------
class HttpGitServer:
    """`git http-backend` for every bare repo under `root`, on http://127.0.0.1:<port>/.

    With `auth=(user, password)`, every request needs that basic auth (401 otherwise).
    `url(name)` is the clone URL of root/<name>; `requests` counts served requests.
    """

    def __init__(self, root: Path, *, auth: tuple[str, str] | None = None) -> None:
        self.root = root
        self.auth = auth
        self.requests = 0
        self.auth_headers: list[str] = []
        handler = _handler_for(self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> HttpGitServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _handler_for(server: HttpGitServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            server.requests += 1
            user = self._check_auth()
            if user is None:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = self._read_body()
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ.get("PATH", ""),
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": "127.0.0.1",
                "REMOTE_USER": user or "anonymous",
                "GIT_CONFIG_NOSYSTEM": "1",
            }
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            proc = subprocess.run(
                [str(HTTP_BACKEND)], input=body, env=env, capture_output=True, check=False
            )
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode("latin-1").split("\r\n"):
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.strip().split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _check_auth(self) -> str | None:
            if server.auth is None:
                return ""
            header = self.headers.get("Authorization", "")
            server.auth_headers.append(header)
            expected = base64.b64encode(":".join(server.auth).encode()).decode()
            return server.auth[0] if header == f"Basic {expected}" else None

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

    return Handler


# -- fixtures --------------------------------------------------------------------------
@pytest.fixture
def env_repo(tmp_path: Path) -> Path:
    """An empty bare environment repo (branch main not yet created)."""
    return make_bare_repo(tmp_path / "remotes" / "environments.git")


@pytest.fixture
def http_git(tmp_path: Path) -> Iterator[HttpGitServer]:
    """A git smart-HTTP server for the bare repos under tmp_path/remotes (no auth)."""
    root = tmp_path / "remotes"
    root.mkdir(exist_ok=True)
    with HttpGitServer(root) as server:
        yield server
