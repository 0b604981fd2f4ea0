"""helm lint --strict on the chart with every ci/<scenario>-values.yaml."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.chart import CHART, helm

SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))


def test_every_scenario_is_listed() -> None:
    names = {path.name.removesuffix("-values.yaml") for path in SCENARIOS}
    assert {
        "default",
        "oci-artifact",
        "serving-image",
        "gpu",
        "autoscaling",
        "metrics",
        "canary",
    } <= names


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda path: path.name)
def test_chart_lints_strictly_with_scenario(scenario: Path) -> None:
    proc = subprocess.run(
        [helm(), "lint", "--strict", str(CHART), "--values", str(scenario)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout


def test_every_top_and_second_level_value_has_a_comment() -> None:
    lines = (CHART / "values.yaml").read_text(encoding="utf-8").splitlines()
    bare = [
        line
        for previous, line in itertools.pairwise(lines)
        if re.match(r"^ {0,2}[A-Za-z][\w.-]*:", line) and not previous.lstrip().startswith("#")
    ]
    assert bare == []
