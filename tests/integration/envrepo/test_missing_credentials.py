"""No credential for an environment repo that asks for one: exit 2, not 3 (#17 item 5).

Templates retry exit 3; a missing token never appears by retrying. The read-only gate's
hint asks for read access, promote's for write access.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import CliRunner
from tests.support.envrepo import HttpGitServer, make_bare_repo, remote_log, seed_files
from tests.support.promote import write_config, write_release_inputs

GATE = {"baseline": {"accuracy": {"max_drop": 0.01}}}


def _served(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "served"
    bare = make_bare_repo(root / "env.git")
    seed_files(bare, {"README.md": "environments\n"})
    return root, bare


def test_gate_without_a_token_is_exit_2_and_asks_for_read_access(
    tmp_path: Path, cli: CliRunner
) -> None:
    root, _ = _served(tmp_path)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"metrics": {"accuracy": 0.9}}), encoding="utf-8")
    with HttpGitServer(root, auth=("ci", "secret-password")) as server:
        write_config(tmp_path, server.url("env.git"), extra={"gate": GATE})
        result = cli("gate", "--metrics", metrics, "--env", "staging", env={"HOME": str(tmp_path)})
    assert result.exit_code == 2, result.stderr
    assert "asks for credentials and none were given" in result.stderr
    assert "with read access" in result.stderr
    assert "write" not in result.stderr


def test_a_rejected_token_stays_exit_3(tmp_path: Path, cli: CliRunner) -> None:
    root, _ = _served(tmp_path)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"metrics": {"accuracy": 0.9}}), encoding="utf-8")
    with HttpGitServer(root, auth=("ci", "secret-password")) as server:
        write_config(tmp_path, server.url("env.git"), extra={"gate": GATE})
        env = {"HOME": str(tmp_path), "CI_PLUGINS_GIT_TOKEN": "wrong-token"}
        result = cli("gate", "--metrics", metrics, "--env", "staging", env=env)
    assert result.exit_code == 3, result.stderr
    assert "wrong-token" not in result.stderr


def test_promote_without_a_token_is_exit_2_and_leaves_the_repo_alone(
    tmp_path: Path, cli: CliRunner
) -> None:
    root, bare = _served(tmp_path)
    before = remote_log(bare)
    manifest, rendered = write_release_inputs(tmp_path)
    with HttpGitServer(root, auth=("ci", "secret-password")) as server:
        write_config(tmp_path, server.url("env.git"))
        result = cli(
            "promote",
            "--env",
            "staging",
            "--rendered",
            rendered,
            "--manifest",
            manifest,
            env={"HOME": str(tmp_path)},
        )
    assert result.exit_code == 2, result.stderr
    assert "asks for credentials and none were given" in result.stderr
    assert remote_log(bare) == before
