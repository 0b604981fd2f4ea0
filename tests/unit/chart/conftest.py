"""Render the model-server chart with the real helm binary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "model-server"
TOOLS_BIN = REPO / ".tools" / "bin"

Objects = dict[str, dict[str, Any]]


def helm() -> str:
    found = shutil.which("helm", path=f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, "helm is missing: run scripts/install-tools"
    return found


def helm_template(
    tmp_path: Path, values: dict[str, Any] | None = None, *files: Path
) -> subprocess.CompletedProcess[str]:
    argv = [helm(), "template", "digits", str(CHART), "--namespace", "ml-test"]
    for file in files:
        argv += ["--values", str(file)]
    if values is not None:
        path = tmp_path / "values.json"
        path.write_text(json.dumps(values), encoding="utf-8")
        argv += ["--values", str(path)]
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


@pytest.fixture
def render(tmp_path: Path) -> Callable[..., Objects]:
    """values -> {'Kind/name': object} from a successful helm template."""

    def run(values: dict[str, Any] | None = None, *files: Path) -> Objects:
        proc = helm_template(tmp_path, values, *files)
        assert proc.returncode == 0, proc.stderr
        docs = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
        return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in docs}

    return run
