"""What the server says when it refuses a push, and pushes that race (#17 items 19, 20)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ci_plugins.envrepo import checkout as envrepo
from ci_plugins.envrepo.checkout import verified_tag
from ci_plugins.errors import CiPluginsError, ExternalError
from tests.support.cli import CliRunner
from tests.support.envrepo import git, install_hook, remote_head, seed_files
from tests.support.promote import write_config, write_release_inputs

HOOK_REASON = "GL-HOOK-ERR: environments/staging is frozen until Monday (CHANGE-42)"


def test_a_pre_receive_hook_rejection_shows_the_servers_reason(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    before = seed_files(env_repo, {"README.md": "x\n"})
    install_hook(env_repo, "pre-receive", f"echo '{HOOK_REASON}' >&2; exit 1")
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path)

    result = cli("promote", "--env", "staging", "--rendered", rendered, "--manifest", manifest)

    assert result.exit_code == 3, result.stderr
    assert f"remote: {HOOK_REASON}" in result.stderr
    assert "the server said:" in result.stderr
    assert remote_head(env_repo) == before


def test_marking_a_commit_another_verify_just_marked_is_no_error(env_repo: Path) -> None:
    sha = seed_files(env_repo, {"README.md": "x\n"})
    tag = verified_tag("staging", "digits", sha)
    # The concurrent winner: its tag lands between our check and our push. The hook
    # creates the same tag on the server while our push is being received.
    install_hook(
        env_repo,
        "pre-receive",
        'while read old new ref; do env -u GIT_QUARANTINE_PATH git update-ref "$ref" "$new"; '
        "done; exit 0",
    )
    envrepo.mark_verified(str(env_repo), branch="main", env="staging", app="digits", commit=sha)
    assert git("rev-parse", tag, cwd=env_repo).strip() == sha


def test_a_tag_of_the_same_name_at_another_commit_still_fails(env_repo: Path) -> None:
    first = seed_files(env_repo, {"README.md": "x\n"})
    second = seed_files(env_repo, {"README.md": "y\n"})
    tag = verified_tag("staging", "digits", second)
    install_hook(
        env_repo,
        "pre-receive",
        f'while read old new ref; do env -u GIT_QUARANTINE_PATH git update-ref "$ref" {first}; '
        "done; exit 0",
    )
    with pytest.raises(ExternalError):
        envrepo.mark_verified(
            str(env_repo), branch="main", env="staging", app="digits", commit=second
        )
    assert git("rev-parse", tag, cwd=env_repo).strip() == first


def test_concurrent_marks_of_one_commit_all_succeed(env_repo: Path) -> None:
    sha = seed_files(env_repo, {"README.md": "x\n"})
    errors: list[CiPluginsError] = []
    start = threading.Barrier(6)

    def mark() -> None:
        start.wait()
        try:
            envrepo.mark_verified(
                str(env_repo), branch="main", env="staging", app="digits", commit=sha
            )
        except CiPluginsError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=mark) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    tags = git("tag", "--list", "ci-plugins/verified/*", cwd=env_repo).split()
    assert tags == [verified_tag("staging", "digits", sha).removeprefix("refs/tags/")]
