"""The chart tests' fixture: render the model-server chart with the real helm binary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.chart import Objects, helm_template


@pytest.fixture
def render(tmp_path: Path) -> Callable[..., Objects]:
    """values -> {'Kind/name': object} from a successful helm template."""

    def run(values: dict[str, Any] | None = None, *files: Path) -> Objects:
        proc = helm_template(tmp_path, values, *files)
        assert proc.returncode == 0, proc.stderr
        docs = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
        return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in docs}

    return run
