"""The pipeline the monitor starts gates against the deployed release, as every merge does,
and its gate report says that the monitor started it and why."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.monitor.conftest import MODEL_PROJECT, Deploy, monitor
from tests.support.cli import CliRunner, write_json
from tests.support.forge_server import ForgeServer

POLICY = "metrics:\n  accuracy: {min: 0.9}\nbaseline:\n  accuracy: {max_drop: 0.01}\n"


def test_the_triggered_pipelines_gate_report_names_the_monitor_and_the_reason(
    tmp_path: Path, cli: CliRunner, env_repo: Path, forge: ForgeServer, deployed: Deploy
) -> None:
    deployed("degraded")
    assert monitor(cli).exit_code == 0
    [pipeline] = forge.gitlab_pipelines(MODEL_PROJECT)
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    metrics = write_json(tmp_path / "metrics.json", {"metrics": {"accuracy": 0.975}})

    # What the retraining pipeline's gate job runs, with the variables the trigger passed.
    gate = cli(
        "gate",
        "--metrics",
        metrics,
        "--policy",
        "policy.yaml",
        "--env-repo",
        str(env_repo),
        "--env",
        "prod",
        "--report-dir",
        "gate",
        "--json",
        env=pipeline["variables"],
    )

    assert gate.exit_code == 0, gate.stderr
    report = (tmp_path / "gate" / "gate-report.md").read_text()
    assert "Triggered by the monitor: digits in prod: 2 of the last 3 windows" in report
    assert "live_accuracy 0.82 < min 0.9" in report
    assert "ci-plugins/retrain/prod/digits/1" in report
    document = json.loads((tmp_path / "gate" / "gate-report.json").read_text())
    assert document["triggered_by"]["by"] == "monitor"
    assert document["triggered_by"]["environment"] == "prod"
    # The baseline is the release that runs in prod (accuracy 0.97 there).
    [baseline_check] = [c for c in document["checks"] if c["rule"] == "max_drop"]
    assert baseline_check["baseline"] == 0.97
