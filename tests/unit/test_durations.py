"""One duration parser for the command line and the config: finite and bounded (#17 item 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_plugins.config.durations import MAX_SECONDS, parse_duration
from ci_plugins.config.models import load_config
from ci_plugins.errors import InputError
from tests.support.cli import CliRunner, write_text


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(30, 30.0), (1.5, 1.5), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0), ("2d", 172800.0)],
)
def test_durations_take_seconds_or_a_unit(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "nan",
        "inf",
        "-inf",
        "1e300",
        "1e400",
        float("nan"),
        float("inf"),
        1e300,
        -1,
        "-5s",
        "8d",
        "five",
        "",
        True,
        None,
    ],
)
def test_non_finite_negative_huge_or_garbled_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_the_bound_itself_is_accepted() -> None:
    assert parse_duration(MAX_SECONDS) == MAX_SECONDS


@pytest.mark.parametrize("text", [".nan", ".inf", "1.0e+300", "'forever'"])
def test_a_config_duration_that_never_ends_is_exit_2_with_its_key(
    tmp_path: Path, text: str
) -> None:
    path = write_text(tmp_path / "ci-plugins.yaml", f"app: digits\nverify: {{timeout: {text}}}\n")
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert "verify.timeout: " in str(caught.value)
    assert caught.value.exit_code == 2


def test_config_durations_accept_units(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "ci-plugins.yaml",
        "app: digits\nverify: {timeout: 5m, missing_grace: 90s}\nchart: {timeout: 2m}\n",
    )
    config = load_config(path)
    assert (config.verify.timeout, config.verify.missing_grace) == (300.0, 90.0)
    assert config.chart.timeout == 120.0


@pytest.mark.parametrize("value", ["nan", "inf", "1e300", "-3"])
def test_verify_timeout_that_never_ends_is_exit_2(
    tmp_path: Path, cli: CliRunner, value: str
) -> None:
    # An unreachable API and an env repo that does not exist: only the flag is judged.
    result = cli("verify", "--env", "dev", "--env-repo", tmp_path / "none", f"--timeout={value}")
    assert result.exit_code == 2, result.stderr
    assert "--timeout" in result.stderr
    assert "duration" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_timeout_variable_is_judged_alike(tmp_path: Path, cli: CliRunner) -> None:
    result = cli("verify", "--env", "dev", env={"CI_PLUGINS_TIMEOUT": "inf"})
    assert result.exit_code == 2, result.stderr
    assert "CI_PLUGINS_TIMEOUT='inf'" in result.stderr
