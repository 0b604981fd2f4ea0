"""The git wrapper: credentials from the CI's variables, redaction, rejected pushes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_plugins.adapters import git
from ci_plugins.errors import ExternalError, PushRejectedError
from ci_plugins.redact import Secret
from tests.support.envrepo import make_bare_repo, seed_files


@pytest.mark.parametrize(
    ("environ", "user", "source"),
    [
        pytest.param(
            {"CI_PLUGINS_GIT_TOKEN": "tok-1"}, "oauth2", "CI_PLUGINS_GIT_TOKEN", id="ours"
        ),
        pytest.param(
            {"CI_PLUGINS_GIT_TOKEN": "tok-1", "CI_PLUGINS_GIT_USERNAME": "bot"},
            "bot",
            "CI_PLUGINS_GIT_TOKEN",
            id="ours-with-user",
        ),
        pytest.param({"CI_JOB_TOKEN": "tok-2"}, "gitlab-ci-token", "CI_JOB_TOKEN", id="gitlab"),
        pytest.param({"GITHUB_TOKEN": "tok-3"}, "x-access-token", "GITHUB_TOKEN", id="github"),
    ],
)
def test_tokens_come_from_the_ci_variables(environ: dict[str, str], user: str, source: str) -> None:
    remote = git.resolve_remote("https://git.example.com/env.git", environ=environ)
    assert remote.credentials is not None
    assert remote.credentials.username == user
    assert remote.credentials.source == source
    assert str(remote.credentials.token) == "****"


def test_no_token_no_credentials_and_ssh_untouched() -> None:
    assert git.resolve_remote("https://h/env.git", environ={}).credentials is None
    ssh = git.resolve_remote("git@host:group/env.git", environ={"GITHUB_TOKEN": "x" * 8})
    assert ssh.url == "git@host:group/env.git"
    assert ssh.credentials is None


def test_url_credentials_are_split_out_and_redacted() -> None:
    remote = git.resolve_remote("https://bot:glpat-abcdefghijklmn@host/env.git", environ={})
    assert remote.url == "https://host/env.git"
    assert remote.credentials is not None
    assert remote.credentials.token.value == "glpat-abcdefghijklmn"


def test_tokens_never_reach_argv_but_only_the_environment() -> None:
    creds = git.Credentials("u", Secret("tok-secret"), "x")
    env = git.tool_env(creds, base={})
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["CI_PLUGINS_GIT_ASKPASS_TOKEN"] == "tok-secret"
    assert all("tok-secret" not in v for k, v in env.items() if k.startswith("GIT_CONFIG"))


def test_a_local_path_becomes_a_file_url(tmp_path: Path) -> None:
    assert git.resolve_remote(str(tmp_path), environ={}).url == tmp_path.as_uri()


def test_failures_name_the_command_and_status(tmp_path: Path) -> None:
    with pytest.raises(ExternalError) as info:
        git.Git(tmp_path).run("rev-parse", "--verify", "--", "no-such-ref")
    assert "git rev-parse" in str(info.value)
    assert "exit status" in str(info.value)


def test_a_non_fast_forward_push_is_push_rejected(tmp_path: Path) -> None:
    bare = make_bare_repo(tmp_path / "r.git")
    seed_files(bare, {"a": "1"})
    work = tmp_path / "w"
    clone = git.Git(tmp_path)
    clone.run("clone", "--quiet", "--", str(bare), str(work))
    seed_files(bare, {"b": "2"})  # someone else pushes
    repo = git.Git(
        work,
        environ={
            "GIT_AUTHOR_NAME": "a",
            "GIT_AUTHOR_EMAIL": "a@b",
            "GIT_COMMITTER_NAME": "a",
            "GIT_COMMITTER_EMAIL": "a@b",
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
        },
    )
    (work / "c").write_text("3")
    repo.run("add", "--", "c")
    repo.run("commit", "--quiet", "-m", "c")
    with pytest.raises(PushRejectedError):
        repo.push("HEAD:refs/heads/main")


def test_ambient_ci_tokens_come_after_the_users_credential_helpers() -> None:
    ambient = git.resolve_remote("https://h/env.git", environ={"CI_JOB_TOKEN": "tok-9"})
    assert ambient.credentials is not None
    env = git.tool_env(ambient.credentials, base={})
    values = [env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))]
    assert "" not in values, "the user's helpers are not reset"
    explicit = git.resolve_remote("https://h/env.git", environ={"CI_PLUGINS_GIT_TOKEN": "t-1"})
    assert explicit.credentials is not None
    env = git.tool_env(explicit.credentials, base={})
    assert env["GIT_CONFIG_VALUE_0"] == "", "explicit tokens reset the helper list first"
