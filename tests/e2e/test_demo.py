"""The README's first command, end to end: the demo must keep working as the steps change."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.support.cli import REPO, clean_env


@pytest.mark.slow
def test_the_demo_runs_the_whole_loop_and_rolls_back_the_bad_release() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    log = proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "LOCAL CLUSTER EMULATOR" in log
    assert "gate passed" in log
    assert log.count("healthy: dev/digits") == 2, "before the bad release and after the rollback"
    assert "healthy: staging/digits" in log
    assert "CrashLoop" in log
    # the bad release is a real bad model: the loader's own error is in verify's log tail
    assert "Error parsing message with type 'tensorflow.SavedModel'" in log
    # the smoke request and the proxy return the trained SavedModel's own predictions
    assert "predictions through the Service proxy equal the SavedModel's own" in log
    assert "Prometheus: :tensorflow:serving:request_count = " in log
    assert "rolled digits back in dev" in log
    bare = REPO / "demo-output" / "environments.git"
    subjects = subprocess.run(
        ["git", "-C", str(bare), "log", "--format=%s", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert subjects[0].startswith("rollback digits in dev")
    assert len(subjects) == 5, subjects  # seed, dev, staging, bad dev, rollback: no rewrite
    release = subprocess.run(
        ["git", "-C", str(bare), "show", "main:environments/dev/digits/release.yaml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert yaml.safe_load(release)["app"] == "digits"
