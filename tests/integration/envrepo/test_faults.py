"""Concurrent writers and interruptions: nothing lost, nothing half-pushed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.cli import REPO, CliResult, CliRunner, clean_env
from tests.support.envrepo import (
    install_hook,
    is_linear,
    remote_files,
    remote_head,
    remote_yaml,
    seed_files,
)
from tests.support.promote import promote_args, write_config, write_release_inputs

WRITERS = 16


def _promote_app(project: Path, env_repo: Path, app: str) -> CliResult:
    write_config(project, str(env_repo), app=app, extra={})
    config = project / "ci-plugins.yaml"
    text = config.read_text().replace("push_attempts: 3", "push_attempts: 30")
    config.write_text(text)
    manifest, rendered = write_release_inputs(project, app=app, version="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ci_plugins",
            *promote_args("staging", manifest, rendered),
        ],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def test_sixteen_concurrent_writers_all_land_with_linear_history(
    tmp_path: Path, env_repo: Path
) -> None:
    seed_files(env_repo, {"environments/prod/keep/release.yaml": "untouched: true\n"})
    apps = [f"app-{index:02d}" for index in range(WRITERS)]
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(pool.map(lambda app: _promote_app(tmp_path / app, env_repo, app), apps))
    for app, result in zip(apps, results, strict=True):
        assert result.exit_code == 0, f"{app}: {result.stderr}"
        assert result.json["commit"]
    for app in apps:
        record = remote_yaml(env_repo, f"environments/staging/{app}/release.yaml")
        assert record["app"] == app
    assert remote_yaml(env_repo, "environments/prod/keep/release.yaml") == {"untouched": True}
    assert is_linear(env_repo)
    commits = {result.json["commit"] for result in results}
    log = subprocess.run(
        ["git", "rev-list", "refs/heads/main"],
        cwd=env_repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert commits <= set(log), "every writer's commit is on the branch"
    assert len(log) == WRITERS + 1


def test_sigterm_during_the_push_leaves_the_remote_unchanged(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    before = seed_files(env_repo, {"README.md": "x\n"})
    started = tmp_path / "push-started"
    install_hook(env_repo, "pre-receive", f"touch {started}; sleep 5; exit 1")
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ci_plugins",
            *promote_args("staging", manifest, rendered, json=False),
        ],
        cwd=tmp_path,
        env=clean_env({"TMPDIR": str(scratch), "PYTHONPATH": str(REPO)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), "the push reached the server"
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert remote_head(env_repo) == before
    assert remote_files(env_repo, under="environments") == {}
    assert not [p for p in scratch.iterdir() if p.name.startswith("ci-plugins-")], (
        "the temporary clone is removed"
    )
