"""gate --env-repo URL --env ENV: the baseline is the release recorded in the environment."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import CliRunner
from tests.support.envrepo import remote_log
from tests.support.promote import promote_args, write_config, write_release_inputs

GATE = {"baseline": {"accuracy": {"max_drop": 0.01}}}


def _metrics(tmp_path: Path, accuracy: float) -> Path:
    path = tmp_path / "candidate" / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metrics": {"accuracy": accuracy}}))
    return path


def test_gate_compares_with_the_release_the_environment_runs(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo), extra={"gate": GATE})
    manifest, rendered = write_release_inputs(tmp_path, metrics={"accuracy": 0.95})
    promoted = cli(*promote_args("staging", manifest, rendered, json=False))
    assert promoted.exit_code == 0, promoted.stderr

    worse = cli("gate", "--metrics", _metrics(tmp_path, 0.90), "--env", "staging", "--json")
    assert worse.exit_code == 1
    assert "release 3 recorded in staging" in worse.json["baseline"]
    assert worse.json["checks"][0]["passed"] is False
    same = cli(
        "gate",
        "--metrics",
        _metrics(tmp_path, 0.945),
        "--env-repo",
        env_repo,
        "--env",
        "staging",
        "--json",
    )
    assert same.exit_code == 0, same.stderr


def test_gate_with_no_release_recorded_passes_baseline_rules(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo), extra={"gate": GATE})
    reports = tmp_path / "reports"
    result = cli(
        "gate", "--metrics", _metrics(tmp_path, 0.5), "--env", "prod", "--report-dir", reports
    )
    assert result.exit_code == 0, result.stderr
    report = (reports / "gate-report.md").read_text(encoding="utf-8")
    assert "Baseline: prod has no release of digits yet (first release)" in report
    # A first release is not the missing-baseline warning of a pipeline that asked for none.
    assert "no baseline requested" not in report + result.stderr
    data = json.loads((reports / "gate-report.json").read_text(encoding="utf-8"))
    assert data["baseline"] is None
    assert data["baseline_missing"] == "prod has no release of digits yet (first release)"


def test_gate_baseline_and_env_together_are_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo), extra={"gate": GATE})
    metrics = _metrics(tmp_path, 0.9)
    result = cli("gate", "--metrics", metrics, "--baseline", metrics, "--env", "staging")
    assert result.exit_code == 2
    assert "pass only one" in result.stderr


def test_gate_env_baseline_from_an_unreachable_repo_is_exit_3(
    tmp_path: Path, cli: CliRunner
) -> None:
    write_config(tmp_path, "http://127.0.0.1:9/env.git", extra={"gate": GATE})
    result = cli("gate", "--metrics", _metrics(tmp_path, 0.9), "--env", "staging")
    assert result.exit_code == 3


def test_gate_baseline_first_env_compares_with_the_configs_first_environment(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    # The pipeline templates pass --baseline-first-env: no environment name is hard-coded.
    environments = {"qa": {"namespace": "ml-qa"}, "staging": {"namespace": "ml-staging"}}
    write_config(tmp_path, str(env_repo), extra={"gate": GATE, "environments": environments})
    manifest, rendered = write_release_inputs(tmp_path, env="qa", metrics={"accuracy": 0.95})
    promoted = cli(*promote_args("qa", manifest, rendered, json=False))
    assert promoted.exit_code == 0, promoted.stderr

    worse = cli("gate", "--metrics", _metrics(tmp_path, 0.90), "--baseline-first-env", "--json")
    assert worse.exit_code == 1, worse.stderr
    assert "recorded in qa" in worse.json["baseline"]
    # An explicit --env still wins over the default.
    explicit = cli(
        "gate", "--metrics", _metrics(tmp_path, 0.90), "--baseline-first-env", "--env", "staging"
    )
    assert explicit.exit_code == 0, explicit.stderr
    assert "staging has no release of digits yet" in explicit.stderr + explicit.stdout


def test_gate_baseline_first_env_without_environments_is_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo), extra={"gate": GATE, "environments": {}})
    before = remote_log(env_repo)
    result = cli("gate", "--metrics", _metrics(tmp_path, 0.9), "--baseline-first-env")
    assert result.exit_code == 2
    assert "--baseline-first-env" in result.stderr
    assert "defines no environments" in result.stderr
    assert remote_log(env_repo) == before
