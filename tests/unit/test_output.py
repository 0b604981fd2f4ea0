"""CI-aware output: sections, step outputs, summaries and masking for each CI system."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ci_plugins.output import CiSystem, Output, detect_ci


@pytest.mark.parametrize(
    ("environ", "system"),
    [
        ({"GITLAB_CI": "true"}, CiSystem.GITLAB),
        ({"GITHUB_ACTIONS": "true"}, CiSystem.GITHUB),
        ({"JENKINS_URL": "https://jenkins.example.com/"}, CiSystem.JENKINS),
        ({}, CiSystem.NONE),
    ],
)
def test_detects_the_ci_system(environ: dict[str, str], system: CiSystem) -> None:
    assert detect_ci(environ) is system


def run_group(environ: dict[str, str]) -> str:
    stream = io.StringIO()
    out = Output(environ=environ, stream=stream)
    with out.group("Training"):
        out.info("epoch 1/3")
    return stream.getvalue()


def test_gitlab_sections_are_collapsible() -> None:
    text = run_group({"GITLAB_CI": "true"})
    assert "section_start:" in text
    assert "[collapsed=true]\r\x1b[0KTraining" in text
    assert "section_end:" in text
    assert "epoch 1/3" in text


def test_github_groups_use_workflow_commands() -> None:
    assert run_group({"GITHUB_ACTIONS": "true"}).splitlines() == [
        "::group::Training",
        "epoch 1/3",
        "::endgroup::",
    ]


def test_gitlab_outputs_go_to_a_dotenv_file_that_accumulates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = Output(environ={"GITLAB_CI": "true"}, stream=io.StringIO())
    out.set_outputs({"gate_verdict": "passed"})
    out.set_outputs({"commit": "abc\ndef", "gate_verdict": "failed"})
    assert (tmp_path / "ci-plugins.env").read_text().splitlines() == [
        "CI_PLUGINS_GATE_VERDICT=failed",
        "CI_PLUGINS_COMMIT=abc def",
    ]


def test_github_outputs_and_summary_go_to_the_runner_files(tmp_path: Path) -> None:
    outputs, summary = tmp_path / "out", tmp_path / "summary"
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    out = Output(environ=environ, stream=io.StringIO())
    out.set_outputs({"gate_verdict": "passed"})
    out.add_summary("### gate passed")
    assert outputs.read_text() == "gate-verdict=passed\n"
    assert summary.read_text() == "### gate passed\n\n"


def test_jenkins_outputs_go_to_a_properties_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = Output(environ={"JENKINS_URL": "http://j/"}, stream=io.StringIO())
    out.set_outputs({"commit": "abc"})
    assert (tmp_path / "ci-plugins.properties").read_text() == "CI_PLUGINS_COMMIT=abc\n"


def test_too_many_dotenv_keys_warn_about_gitlab_limits(tmp_path: Path) -> None:
    stream = io.StringIO()
    target = tmp_path / "vars.env"
    out = Output(environ={"CI_PLUGINS_OUTPUTS_FILE": str(target)}, stream=stream)
    out.set_outputs({f"key{i}": "v" for i in range(21)})
    assert "over GitLab's dotenv limits" in stream.getvalue()
    assert len(target.read_text().splitlines()) == 21


def test_masked_secrets_never_appear_in_logs_or_outputs(tmp_path: Path) -> None:
    stream = io.StringIO()
    target = tmp_path / "vars.env"
    out = Output(
        environ={"GITHUB_ACTIONS": "true", "CI_PLUGINS_OUTPUTS_FILE": str(target)}, stream=stream
    )
    out.mask("s3cr3t-token-value")
    out.info("cloning https://oauth2:s3cr3t-token-value@git.example.com/env.git")
    out.error("push failed for s3cr3t-token-value")
    out.set_outputs({"url": "https://x:s3cr3t-token-value@h/r"})
    logged = stream.getvalue()
    assert logged.startswith("::add-mask::s3cr3t-token-value\n")
    shown = logged.split("\n", 1)[1]
    assert "s3cr3t" not in shown
    assert "https://****@git.example.com/env.git" in shown
    assert "s3cr3t" not in target.read_text()
