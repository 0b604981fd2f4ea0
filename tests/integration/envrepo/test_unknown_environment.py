"""Every command that takes --env refuses an unknown environment alike (#17 item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import CliRunner
from tests.support.envrepo import remote_log
from tests.support.promote import write_config, write_release_inputs


def _args(command: str, tmp_path: Path) -> list[str | Path]:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"metrics": {"accuracy": 0.9}}), encoding="utf-8")
    manifest, rendered = write_release_inputs(tmp_path)
    return {
        "gate": ["gate", "--metrics", metrics, "--env", "prd"],
        "status": ["status", "--env", "prd"],
        "render": ["render", "--manifest", manifest, "--env", "prd", "--output-dir", "out"],
        "promote": ["promote", "--env", "prd", "--rendered", rendered, "--manifest", manifest],
        "promote-from": ["promote", "--from-env", "prd", "--to-env", "staging"],
        "promote-to": ["promote", "--from-env", "staging", "--to-env", "prd"],
        "verify": ["verify", "--env", "prd", "--timeout", "5"],
        "rollback": ["rollback", "--env", "prd"],
        "unpin": ["unpin", "--env", "prd"],
    }[command]


@pytest.mark.parametrize(
    "command",
    [
        "gate",
        "status",
        "render",
        "promote",
        "promote-from",
        "promote-to",
        "verify",
        "rollback",
        "unpin",
    ],
)
def test_an_unknown_environment_is_exit_2_with_a_suggestion(
    tmp_path: Path, cli: CliRunner, env_repo: Path, command: str
) -> None:
    write_config(tmp_path, str(env_repo), extra={"gate": {"metrics": {"accuracy": {"min": 0}}}})
    before = remote_log(env_repo)
    result = cli(*_args(command, tmp_path))
    assert result.exit_code == 2, result.stderr
    assert "unknown environment 'prd': ci-plugins.yaml defines dev, prod, staging" in result.stderr
    assert "did you mean 'prod'?" in result.stderr
    assert remote_log(env_repo) == before
