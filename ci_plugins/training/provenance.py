"""Where a model came from: source commit, pipeline URL, the entrypoint module's bytes."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Mapping
from pathlib import Path


def source_commit(environ: Mapping[str, str], project: Path) -> str:
    """The CI system's commit SHA, else `git rev-parse HEAD` in project, else ""."""
    for name in ("CI_COMMIT_SHA", "GITHUB_SHA", "GIT_COMMIT"):
        if environ.get(name):
            return environ[name]
    try:
        proc = subprocess.run(
            ["git", "-C", str(project), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env={**environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def module_digest(project: Path, entrypoint: str) -> str:
    """sha256 of the entrypoint's module file: edited code never resumes an old checkpoint,
    even outside git and CI, where the source commit is unknown."""
    module = entrypoint.partition(":")[0].replace(".", "/")
    for candidate in (project / f"{module}.py", project / module / "__init__.py"):
        if candidate.is_file():
            return hashlib.sha256(candidate.read_bytes()).hexdigest()
    return ""
