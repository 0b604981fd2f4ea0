"""render refuses values and chart output that would break it or the machine (#17)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.cli import CliRunner, write_text
from tests.unit.steps.test_render import CONFIG, project, render

__all__ = ["project"]

# 9 levels of 9 aliases: ~390 million nodes once expanded (about 2.7 GB as JSON).
ALIAS_BOMB = "".join(
    [
        "    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        *(
            f"    {name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


@pytest.mark.parametrize("override", ["a/b", "..", "x\\\\y"])
def test_an_object_name_that_is_not_one_path_segment_is_exit_2(
    project: Path, cli: CliRunner, override: str
) -> None:
    config = CONFIG.replace(
        "    podAnnotations: {team: ml}\n", f'    fullnameOverride: "{override}"\n'
    )
    write_text(project / "ci-plugins.yaml", config)
    result = render(cli, "--env", "dev", "--output-dir", "out")
    assert result.exit_code == 2, result.stderr
    assert "an object name must be one path segment" in result.stderr
    assert "fullnameOverride" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "out").exists()


def test_an_alias_bomb_in_the_chart_values_is_refused_quickly(
    project: Path, cli: CliRunner
) -> None:
    config = CONFIG.replace("    podAnnotations: {team: ml}\n", "    bomb:\n" + ALIAS_BOMB)
    write_text(project / "ci-plugins.yaml", config)
    started = time.monotonic()
    result = render(cli, "--env", "dev", "--output-dir", "out")
    assert time.monotonic() - started < 20
    assert result.exit_code == 2, result.stderr
    assert "ci-plugins.yaml is not valid YAML" in result.stderr
    assert "aliases expand to more than" in result.stderr
    assert not (project / "out").exists()
