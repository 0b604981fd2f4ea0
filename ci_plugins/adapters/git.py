"""The one wrapper through which ci-plugins runs git.

Every call is an argv list with a timeout and a non-interactive environment
(`GIT_TERMINAL_PROMPT=0`); user-supplied refs and paths follow `--`. Errors name the
command, its exit status and the end of stderr, redacted. HTTPS credentials travel in
the environment and reach git through a credential helper defined in the environment
(`GIT_CONFIG_COUNT`), so they are never in argv, in logs or in a clone's `.git/config`.

Where the token comes from (first one set wins; only for http(s) remotes):

| variable | user name sent |
|---|---|
| `CI_PLUGINS_GIT_TOKEN` | `CI_PLUGINS_GIT_USERNAME`, default `oauth2` |
| `CI_JOB_TOKEN` (GitLab CI) | `gitlab-ci-token` |
| `GITHUB_TOKEN` (GitHub Actions) | `x-access-token` |

Credentials embedded in the URL (`https://user:token@host/...`) are taken out of the URL
and passed the same way. `CI_PLUGINS_GIT_TOKEN` and URL credentials come before any
credential helper the user configured; `CI_JOB_TOKEN` / `GITHUB_TOKEN` only after them.
SSH remotes use the user's `GIT_SSH_COMMAND` / ssh-agent.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from ci_plugins.errors import ExternalError, InputError, PushRejectedError
from ci_plugins.redact import Secret, redact, register_secret

DEFAULT_TIMEOUT = 300.0
# The helper reads the secret from the environment of the git process at call time.
_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'echo "username=$CI_PLUGINS_GIT_ASKPASS_USER"; '
    'echo "password=$CI_PLUGINS_GIT_ASKPASS_TOKEN"; }; f'
)
_REJECTED_MARKERS = ("[rejected]", "[remote rejected]", "non-fast-forward", "fetch first")
_UNREACHABLE_MARKERS = (
    "could not resolve host",
    "failed to connect",
    "connection refused",
    "could not read from remote repository",
    "does not appear to be a git repository",
    "repository not found",
    "not found",
)
_AUTH_MARKERS = ("authentication failed", "401", "403", "could not read username")


@dataclass(frozen=True)
class Credentials:
    """An HTTPS user name and token; the token prints as ****."""

    username: str
    token: Secret = field(repr=False)
    source: str = ""
    # Explicit credentials (CI_PLUGINS_GIT_TOKEN, the URL) win over the user's credential
    # helpers; the CI's ambient tokens only answer when no helper of the user does.
    explicit: bool = True


@dataclass(frozen=True)
class Remote:
    """A remote URL with any credentials taken out of it."""

    url: str
    credentials: Credentials | None = None

    @property
    def display(self) -> str:
        return redact(self.url)


def resolve_remote(url: str, *, environ: Mapping[str, str] | None = None) -> Remote:
    """Split credentials out of url and pick a token from the CI's variables (see module doc).

    A local path becomes a file:// URL so that clones are shallow like remote ones.
    """
    environ = os.environ if environ is None else environ
    parts = urlsplit(url)
    if not parts.scheme and not _looks_like_scp(url):
        return Remote(Path(url).resolve().as_uri())
    if parts.scheme not in ("http", "https"):
        return Remote(url)
    if parts.username is not None or parts.password is not None:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        clean = urlunsplit(parts._replace(netloc=netloc))
        user = unquote(parts.username or "")
        token = unquote(parts.password or "")
        if not token:  # https://token@host: the token is the user part
            user, token = "oauth2", user
        register_secret(token)
        return Remote(clean, Credentials(user, Secret(token), "the URL"))
    return Remote(url, credentials_from_env(environ))


def credentials_from_env(environ: Mapping[str, str]) -> Credentials | None:
    """The first token set among CI_PLUGINS_GIT_TOKEN, CI_JOB_TOKEN, GITHUB_TOKEN."""
    token = environ.get("CI_PLUGINS_GIT_TOKEN")
    if token:
        user = environ.get("CI_PLUGINS_GIT_USERNAME") or "oauth2"
        register_secret(token)
        return Credentials(user, Secret(token), "CI_PLUGINS_GIT_TOKEN")
    for variable, user in (("CI_JOB_TOKEN", "gitlab-ci-token"), ("GITHUB_TOKEN", "x-access-token")):
        token = environ.get(variable)
        if token:
            register_secret(token)
            return Credentials(user, Secret(token), variable, explicit=False)
    return None


def _looks_like_scp(url: str) -> bool:
    head = url.split(":", 1)[0]
    return ":" in url and "/" not in head and "@" in head


def tool_env(
    credentials: Credentials | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for a git process: no prompts, C locale, our credential helper."""
    env = dict(os.environ if base is None else base)
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_ASKPASS": "", "SSH_ASKPASS": ""})
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    if credentials is not None:
        count = int(env.get("GIT_CONFIG_COUNT", "0") or "0")
        # An empty value resets the helper list so the user's helpers cannot answer first.
        helpers = ("", _HELPER) if credentials.explicit else (_HELPER,)
        for offset, value in enumerate(helpers):
            env[f"GIT_CONFIG_KEY_{count + offset}"] = "credential.helper"
            env[f"GIT_CONFIG_VALUE_{count + offset}"] = value
        env["GIT_CONFIG_COUNT"] = str(count + len(helpers))
        env["CI_PLUGINS_GIT_ASKPASS_USER"] = credentials.username
        env["CI_PLUGINS_GIT_ASKPASS_TOKEN"] = credentials.token.value
    return env


def remote_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The server's own words in a push's output (`remote: ...`), e.g. a hook's reason."""
    lines = []
    for line in (proc.stderr or "").splitlines():
        if line.startswith("remote:") and line.removeprefix("remote:").strip():
            lines.append(line.rstrip())
    return lines


class Git:
    """git in one working directory, with one remote's credentials."""

    def __init__(
        self,
        cwd: Path,
        *,
        remote: Remote | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.cwd = cwd
        self.remote = remote
        self.timeout = timeout
        self.env = tool_env(remote.credentials if remote else None, base=environ)

    def run(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `git ARGS`; ExternalError (exit 3) on failure when check, with redacted stderr.

        Output that is not UTF-8 (a corrupt file's bytes) is decoded with replacements."""
        argv = ["git", *args]
        raw = self._spawn(argv, input=input.encode() if input is not None else None)
        proc = subprocess.CompletedProcess(
            argv,
            raw.returncode,
            raw.stdout.decode("utf-8", errors="replace"),
            raw.stderr.decode("utf-8", errors="replace"),
        )
        if check and proc.returncode != 0:
            raise self._error(argv, proc)
        return proc

    def blob(self, spec: str) -> bytes | None:
        """The exact bytes of the object SPEC ("<commit>:<path>"), None when there is none.

        Bytes, not text: what an environment repo holds may not be UTF-8 (the caller
        decides, naming the file)."""
        proc = self._spawn(["git", "cat-file", "blob", spec], input=None)
        return proc.stdout if proc.returncode == 0 else None

    def _spawn(self, argv: list[str], *, input: bytes | None) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                argv,
                cwd=self.cwd,
                env=self.env,
                input=input,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise ExternalError(
                "git is not installed or not on PATH", hint="install git (2.34 or newer)"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise ExternalError(
                f"{redact(' '.join(argv))} did not finish within {self.timeout:.0f}s"
            ) from exc

    def out(self, *args: str) -> str:
        """stdout of `git ARGS`, stripped."""
        return self.run(*args).stdout.strip()

    def clone(self, *args: str, url: str, into: Path, branch: str) -> bool:
        """`git clone ARGS --branch BRANCH -- URL INTO`; False when the remote has no
        branch BRANCH (an empty repo, or one where the branch is yet to be created).

        ExternalError (exit 3) for any other failure (unreachable, authentication...)."""
        argv = ["clone", *args, "--branch", branch, "--", url, str(into)]
        proc = self.run(*argv, check=False)
        if proc.returncode == 0:
            return True
        if f"remote branch {branch.lower()} not found" in proc.stderr.lower():
            return False
        raise self._error(["git", *argv], proc)

    def push(self, refspec: str, *, lease: str | None = None) -> None:
        """Push refspec to origin; PushRejectedError when the remote refuses it.

        Never forced, except with `lease` ("<ref>:<expected sha>", for our own merge-request
        branch), which only replaces the ref if it still holds the expected sha.
        """
        argv = ["push", "--porcelain"]
        if lease is not None:
            argv.append(f"--force-with-lease={lease}")
        argv += ["origin", "--", refspec]
        proc = self.run(*argv, check=False)
        if proc.returncode == 0:
            return
        text = (proc.stdout + proc.stderr).lower()
        if any(marker in text for marker in _REJECTED_MARKERS):
            error = ExternalError.from_process(["git", *argv], proc)
            raise PushRejectedError(str(error), hint=error.hint, remote_lines=remote_lines(proc))
        raise self._error(["git", *argv], proc)

    def _error(
        self, argv: Sequence[str], proc: subprocess.CompletedProcess[str]
    ) -> ExternalError | InputError:
        """Our words for a failed git command.

        No credential at all for an HTTPS remote that asks for one is bad input (exit 2: a
        retry cannot help, #17); a refused credential or an unreachable remote is exit 3.
        The hint asks for write access only for a push.
        """
        text = (proc.stderr or "").lower()
        hint = None
        where = self.remote.display if self.remote else "the remote"
        access = "write" if "push" in argv[1:2] else "read"
        if any(marker in text for marker in _AUTH_MARKERS):
            hint = (
                f"authentication to {where} failed: set CI_PLUGINS_GIT_TOKEN (and "
                f"CI_PLUGINS_GIT_USERNAME), or CI_JOB_TOKEN / GITHUB_TOKEN, with {access} access"
            )
            if "could not read username" in text and not (self.remote and self.remote.credentials):
                return InputError(
                    f"{where} asks for credentials and none were given "
                    f"(git {argv[1] if len(argv) > 1 else ''} needs {access} access)",
                    hint=hint,
                )
        elif any(marker in text for marker in _UNREACHABLE_MARKERS):
            hint = f"check that {where} exists and is reachable from this runner"
        return ExternalError.from_process(argv, proc, hint=hint)
