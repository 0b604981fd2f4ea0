"""ciPluginsAnalyze: only builds the environment and calls `ci-plugins analyze`."""

from __future__ import annotations

from pathlib import Path

from tests.support.pipelines import calls, jenkins


def test_analyze_passes_its_keys_as_environment_variables(tmp_path: Path) -> None:
    script = tmp_path / "Jenkinsfile"
    script.write_text(
        "node { ciPluginsAnalyze(env: 'staging', duration: 30, projectDir: 'app') }\n",
        encoding="utf-8",
    )
    record = jenkins(tmp_path / "run", script)
    runs = [c for c in calls(record, "sh") if c["args"]["script"] == "ci-plugins analyze"]
    assert len(runs) == 1
    env = runs[0]["context"]["env"]
    assert "CI_PLUGINS_ENV=staging" in env
    assert "CI_PLUGINS_DURATION=30" in env
    assert "CI_PLUGINS_REPORT_DIR=analysis-report" in env
