"""values.schema.json: wrong types are rejected by helm itself, naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.chart import helm_template


@pytest.mark.parametrize(
    ("values", "pointer"),
    [
        pytest.param({"replicaCount": "three"}, "/replicaCount", id="string-for-integer"),
        pytest.param({"gpu": {"enabled": "yes"}}, "/gpu/enabled", id="string-for-boolean"),
        pytest.param({"service": {"port": 70000}}, "/service/port", id="port-out-of-range"),
        pytest.param(
            {"model": {"artifact": "oci://x:latest"}}, "/model/artifact", id="unpinned-artifact"
        ),
        pytest.param({"replicaCont": 2}, "replicaCont", id="unknown-key"),
    ],
)
def test_schema_rejects_bad_values(tmp_path: Path, values: dict[str, Any], pointer: str) -> None:
    proc = helm_template(tmp_path, values)
    assert proc.returncode != 0
    assert "don't meet the specifications of the schema" in proc.stderr
    assert pointer in proc.stderr
