"""Commits are signed when the user's git config asks for it (SSH signing here)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.cli import CliRunner
from tests.support.envrepo import git, remote_head
from tests.support.promote import promote_args, write_config, write_release_inputs


def test_promote_signs_its_commit_when_git_config_says_so(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    key = home / "signing-key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci@example.com", "-f", str(key)],
        check=True,
    )
    (home / ".gitconfig").write_text(
        "[user]\n  name = CI\n  email = ci@example.com\n"
        f"  signingkey = {key}.pub\n"
        "[gpg]\n  format = ssh\n[commit]\n  gpgsign = true\n"
    )
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path)
    result = cli(
        *promote_args("staging", manifest, rendered, json=False),
        env={"HOME": str(home)},
    )
    assert result.exit_code == 0, result.stderr
    raw = git("cat-file", "commit", remote_head(env_repo), cwd=env_repo)
    assert "-----BEGIN SSH SIGNATURE-----" in raw
    assert "author CI <ci@example.com>" in raw
