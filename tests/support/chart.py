"""The model-server chart rendered with the real helm binary (tests/unit/chart/)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.cli import REPO

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
