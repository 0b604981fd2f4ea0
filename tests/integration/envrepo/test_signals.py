"""SIGTERM from the first line to the last: 130 means "nothing was pushed" (#17 item 21)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.cli import REPO, clean_env
from tests.support.envrepo import install_hook, remote_head, remote_yaml, seed_files
from tests.support.promote import write_config, write_release_inputs

# Sends SIGTERM to itself the moment the CLI module starts importing: the "first
# milliseconds" of a run, before main() exists.
EARLY = textwrap.dedent(
    """
    import os, runpy, signal, sys

    class TermAtCliImport:
        def find_spec(self, name, path=None, target=None):
            if name == "ci_plugins.cli":
                os.kill(os.getpid(), signal.SIGTERM)
            return None

    sys.meta_path.insert(0, TermAtCliImport())
    sys.argv = ["ci_plugins", "status", "--env-repo", sys.argv[1]]
    runpy.run_module("ci_plugins", run_name="__main__", alter_sys=True)
    """
)

# After the server updated the branch, SIGTERM the ci-plugins process that pushed.
KILL_PUSHER = textwrap.dedent(
    """
    pid=$$
    while [ "$pid" -gt 1 ]; do
      pid=$(awk '{print $4}' /proc/$pid/stat)
      if tr '\\0' ' ' < /proc/$pid/cmdline | grep -q 'ci_plugins promote'; then
        kill -TERM "$pid"; exit 0
      fi
    done
    exit 0
    """
)


def _python(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=clean_env({"PYTHONPATH": str(REPO)}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sigterm_before_the_cli_is_imported_exits_130(tmp_path: Path, env_repo: Path) -> None:
    script = tmp_path / "early.py"
    script.write_text(EARLY, encoding="utf-8")
    proc = _python(script, env_repo, cwd=tmp_path)
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr


def test_sigterm_after_a_successful_push_reports_the_promotion_exit_0(
    tmp_path: Path, env_repo: Path
) -> None:
    seed_files(env_repo, {"README.md": "x\n"})
    install_hook(env_repo, "post-receive", KILL_PUSHER)
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path)

    proc = _python(
        "-m", "ci_plugins", "promote", "--env", "staging", "--rendered", rendered,
        "--manifest", manifest, cwd=tmp_path,
    )  # fmt: skip

    record = remote_yaml(env_repo, "environments/staging/digits/release.yaml")
    assert record["model"]["version"] == "3", "the push landed"
    assert proc.returncode == 0, proc.stderr
    assert "SIGTERM arrived after the change was pushed" in proc.stderr
    assert f"promoted 3 in commit {remote_head(env_repo)}" in proc.stderr
    assert "interrupted" not in proc.stderr
