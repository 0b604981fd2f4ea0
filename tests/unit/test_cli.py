"""The command line contract: help, exit codes for bugs and interruptions, lazy imports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest

from ci_plugins import cli
from ci_plugins.step import StepContext, StepResult
from tests.support.cli import CliRunner, clean_env, write_json


def test_help_lists_only_built_steps(cli: CliRunner) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for name in cli_steps():
        assert name in result.stdout
    assert "exit codes: 0 done/passed/healthy" in result.stdout


def cli_steps() -> list[str]:
    return list(cli.STEPS)


def test_every_registered_step_has_options_run_and_a_docstring() -> None:
    for name in cli.STEPS:
        module = cli.load_step(name)
        assert module.__doc__, name
        assert callable(module.run), name
        assert hasattr(module, "Options"), name


def test_commands_other_than_train_never_import_tensorflow(tmp_path: Path) -> None:
    metrics = write_json(tmp_path / "m.json", {"metrics": {"a": 1}})
    policy = tmp_path / "p.yaml"
    policy.write_text("metrics: {a: {min: 0}}\n")
    code = (
        "import sys; from ci_plugins.cli import main; "
        f"rc = main(['gate', '--metrics', {str(metrics)!r}, '--policy', {str(policy)!r}]); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def _fake_step(behaviour: object) -> types.ModuleType:
    module = types.ModuleType("fake_step", "A step used to prove the CLI's error handling.")

    def run(ctx: StepContext, options: object) -> StepResult:
        assert callable(behaviour)
        result = behaviour()
        assert isinstance(result, StepResult)
        return result

    module.run = run  # type: ignore[attr-defined]
    return module


@pytest.fixture
def fake_gate(monkeypatch: pytest.MonkeyPatch) -> object:
    """Replace the gate step module (our own code, not a library) with a scripted one."""

    def install(behaviour: object) -> None:
        module = _fake_step(behaviour)
        monkeypatch.setattr(cli, "load_step", lambda name: module)
        monkeypatch.setattr(cli, "_options", lambda module, args: object())

    return install


def test_an_unexpected_exception_is_a_bug_exit_4_with_traceback(
    fake_gate: object, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom() -> StepResult:
        raise ZeroDivisionError("division by zero")

    assert callable(fake_gate)
    fake_gate(boom)
    code = cli.main(["gate", "--metrics", "m.json", "--json"])
    captured = capsys.readouterr()
    assert code == 4
    assert "Traceback" in captured.err
    assert "hit a bug (ZeroDivisionError); please report it" in captured.err
    assert '"exit_code": 4' in captured.out


def test_sigterm_stops_cleanly_with_exit_130(
    fake_gate: object, capsys: pytest.CaptureFixture[str]
) -> None:
    def terminated() -> StepResult:
        os.kill(os.getpid(), signal.SIGTERM)
        return StepResult.passed("not reached")

    assert callable(fake_gate)
    fake_gate(terminated)
    try:
        code = cli.main(["gate", "--metrics", "m.json"])
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    assert code == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_failed_check_exits_1_and_prints_its_message(
    fake_gate: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(fake_gate)
    fake_gate(lambda: StepResult.failed("gate failed: accuracy 0.5 breaks min 0.9"))
    assert cli.main(["gate", "--metrics", "m.json"]) == 1
    assert "error: gate failed: accuracy 0.5 breaks min 0.9" in capsys.readouterr().err


def test_python_dash_m_and_version(cli: CliRunner) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("ci-plugins ")


def test_usage_errors_exit_2_and_still_print_json_when_asked(cli: CliRunner) -> None:
    result = cli("gate", "--json")
    assert result.exit_code == 2
    assert "the following arguments are required: --metrics" in result.stderr
    assert result.json == {
        "command": "gate",
        "ok": False,
        "exit_code": 2,
        "error": "the following arguments are required: --metrics",
    }
