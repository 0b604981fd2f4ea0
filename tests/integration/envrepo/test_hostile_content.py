"""Corrupt or hostile content, in the environment repo or in what promote is given: exit 2
naming the file (never a traceback), and the environment repo stays as it was (#17)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from tests.support.cli import CliResult, CliRunner, clean_env
from tests.support.envrepo import git, make_bare_repo, remote_head, seed_files
from tests.support.promote import write_config, write_release_inputs

APP_DIR = "environments/staging/digits"
RELEASE = f"{APP_DIR}/release.yaml"
PIN = f"{APP_DIR}/pin.yaml"
NOT_UTF8 = b"app: digits\nenvironment: staging\nmodel: {version: '\xff\xfe', digest: x}\n"
NOT_YAML = b"app: digits\npinned_by: [unclosed\n"
# 9 levels of 9 aliases: ~390 million nodes once expanded, a few hundred bytes as text.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def seed_bytes(bare: Path, files: Mapping[str, bytes], *, message: str = "seed") -> str:
    """Commit files with exact bytes (not necessarily UTF-8) on top of main."""
    with tempfile.TemporaryDirectory(prefix="seed-") as tmp:
        work = Path(tmp) / "w"
        if remote_head(bare):
            git("clone", "--quiet", "--branch", "main", str(bare), str(work))
        else:
            git("init", "--quiet", "--initial-branch", "main", str(work))
            git("remote", "add", "origin", str(bare), cwd=work)
        for relpath, data in files.items():
            (work / relpath).parent.mkdir(parents=True, exist_ok=True)
            (work / relpath).write_bytes(data)
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", message, cwd=work)
        git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=work)
        return git("rev-parse", "HEAD", cwd=work).strip()


def promote(
    cli: CliRunner,
    project: Path,
    version: str = "3",
    *,
    rendered: Path | None = None,
    manifest: Path | None = None,
) -> CliResult:
    if rendered is None or manifest is None:
        manifest, rendered = write_release_inputs(project, version=version)
    return cli(
        "promote", "--env", "staging", "--rendered", rendered, "--manifest", manifest, "--json"
    )


def assert_bad_input(result: CliResult, *names: str) -> None:
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    for name in names:
        assert name in result.stderr


# -- #17 item 14: corrupt content already in the environment repo --------------------------
def test_promote_over_a_non_utf8_release_record_is_exit_2_naming_it(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    before = seed_bytes(env_repo, {RELEASE: NOT_UTF8})
    write_config(tmp_path, str(env_repo))
    result = promote(cli, tmp_path)
    assert_bad_input(result, f"{RELEASE} is not UTF-8 text")
    assert remote_head(env_repo) == before


def test_promote_from_an_env_with_a_non_utf8_record_is_exit_2_naming_it(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    before = seed_bytes(env_repo, {RELEASE: NOT_UTF8})
    write_config(tmp_path, str(env_repo))
    result = cli("promote", "--from-env", "staging", "--to-env", "dev", "--json")
    assert_bad_input(result, f"{RELEASE} is not UTF-8 text")
    assert remote_head(env_repo) == before


def test_status_with_a_non_utf8_record_is_exit_2_naming_it(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    seed_bytes(env_repo, {RELEASE: NOT_UTF8})
    write_config(tmp_path, str(env_repo))
    assert_bad_input(cli("status", "--json"), f"{RELEASE} is not UTF-8 text")


def test_rollback_over_an_older_non_utf8_record_is_exit_2_naming_it(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    assert promote(cli, tmp_path, "1").exit_code == 0
    seed_bytes(env_repo, {RELEASE: NOT_UTF8}, message="corrupt")
    record = {"app": "digits", "environment": "staging", "model": {"version": "2", "digest": "x"}}
    before = seed_files(env_repo, {RELEASE: yaml.safe_dump(record)}, message="repair")
    result = cli("rollback", "--env", "staging", "--json")
    assert_bad_input(result, f"{RELEASE} at ", "is not UTF-8 text")
    assert remote_head(env_repo) == before


@pytest.mark.parametrize("command", ["promote", "status", "unpin"])
def test_a_pin_that_is_not_yaml_is_exit_2_naming_it(
    tmp_path: Path, cli: CliRunner, env_repo: Path, command: str
) -> None:
    write_config(tmp_path, str(env_repo))
    assert promote(cli, tmp_path, "2").exit_code == 0
    before = seed_bytes(env_repo, {PIN: NOT_YAML})
    if command == "promote":
        result = promote(cli, tmp_path, "3")
    elif command == "status":
        result = cli("status", "--json")
    else:
        result = cli("unpin", "--env", "staging", "--json")
    assert_bad_input(result, f"{PIN} is not valid YAML")
    assert remote_head(env_repo) == before


# -- #17 items 15 and 17: unreadable files and links in what promote is given ---------------
@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink"])
def test_a_rendered_file_that_is_not_a_regular_file_is_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path, kind: str
) -> None:
    before = seed_files(env_repo, {"README.md": "x\n"})
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path)
    outside = tmp_path / "secret.yaml"
    outside.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: leaked}\n")
    target = rendered / "configmap-extra.yaml"
    if kind == "fifo":
        os.mkfifo(target)  # reading it would block forever
    elif kind == "directory":
        target.mkdir()
    else:
        target.symlink_to(outside)
    started = time.monotonic()
    result = promote(cli, tmp_path, rendered=rendered, manifest=manifest)
    reason = "is a symbolic link" if kind == "symlink" else "is not a regular file"
    assert_bad_input(result, f"configmap-extra.yaml {reason}")
    assert time.monotonic() - started < 60
    assert remote_head(env_repo) == before


@pytest.mark.parametrize("name", ["render-info.json", "metrics.json"])
def test_an_unreadable_render_info_or_metrics_file_is_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path, name: str
) -> None:
    before = seed_files(env_repo, {"README.md": "x\n"})
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path)
    path = (rendered if name == "render-info.json" else manifest.parent) / name
    path.unlink()
    path.mkdir()  # as unreadable as a file without permissions, even for root
    result = promote(cli, tmp_path, rendered=rendered, manifest=manifest)
    assert_bad_input(result, f"{path} is not a regular file")
    assert remote_head(env_repo) == before


def test_a_manifest_without_read_permission_is_exit_2() -> None:
    """As an unprivileged user (tests run as root, who reads mode 000 anyway)."""
    base = Path(tempfile.mkdtemp(prefix="ci-plugins-unreadable-"))
    try:
        bare = make_bare_repo(base / "environments.git")
        project = base / "project"
        write_config(project, str(bare))
        manifest, rendered = write_release_inputs(project)
        subprocess.run(["chmod", "-R", "a+rwX", str(base)], check=True)
        (rendered / "configmap-digits-0.yaml").chmod(0)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        proc = subprocess.run(
            [
                *nobody,
                *(sys.executable, "-m", "ci_plugins", "promote", "--env", "staging"),
                *("--rendered", str(rendered), "--manifest", str(manifest)),
            ],
            cwd=project,
            env=clean_env({"HOME": str(base)}),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert "configmap-digits-0.yaml cannot be read: Permission denied" in proc.stderr
        assert remote_head(bare) == ""
    finally:
        shutil.rmtree(base)


# -- #17 item 18: alias bombs ---------------------------------------------------------------
def test_an_alias_bomb_in_a_rendered_manifest_is_refused_quickly(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    before = seed_files(env_repo, {"README.md": "x\n"})
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path)
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "".join(
        f"  {line}" for line in ALIAS_BOMB.splitlines(keepends=True)
    )
    (rendered / "configmap-bomb.yaml").write_text(bomb)
    started = time.monotonic()
    result = promote(cli, tmp_path, rendered=rendered, manifest=manifest)
    assert_bad_input(result, "configmap-bomb.yaml", "aliases expand to more than")
    assert time.monotonic() - started < 30
    assert remote_head(env_repo) == before


def test_validate_fails_an_alias_bomb_and_a_broken_pin(tmp_path: Path, cli: CliRunner) -> None:
    root = tmp_path / "repo"
    git("init", "--quiet", "--initial-branch", "main", str(root))
    record = {
        "app": "digits",
        "environment": "staging",
        "model": {
            "version": "3",
            "digest": "sha256:" + "3" * 64,
            "artifact": "oci://registry.example.com/ml/digits@sha256:" + "4" * 64,
        },
        "metrics": {"accuracy": 0.9},
    }
    app = root / APP_DIR
    (app / "manifests").mkdir(parents=True)
    (app / "release.yaml").write_text(yaml.safe_dump(record))
    (app / "manifests" / "configmap-bomb.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nbomb:\n"
        + "".join(f"  {line}" for line in ALIAS_BOMB.splitlines(keepends=True))
    )
    (app / "pin.yaml").write_bytes(NOT_YAML)
    git("add", "-A", cwd=root)
    git("commit", "--quiet", "-m", "seed", cwd=root)
    started = time.monotonic()
    result = cli("validate", "--json", cwd=root)
    assert time.monotonic() - started < 30
    assert result.exit_code == 1, result.stderr
    failed = {c["check"]: c["problem"] for c in result.json["checks"] if c["problem"]}
    assert "aliases expand to more than" in failed["manifests parse"]
    assert "pin.yaml is not valid YAML" in failed["pin readable"]


def test_validate_fails_a_non_utf8_record_and_a_broken_base_record(
    tmp_path: Path, cli: CliRunner
) -> None:
    root = tmp_path / "repo"
    git("init", "--quiet", "--initial-branch", "main", str(root))
    app = root / APP_DIR
    (app / "manifests").mkdir(parents=True)
    (app / "manifests" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
    )
    (app / "release.yaml").write_bytes(NOT_UTF8)
    git("add", "-A", cwd=root)
    git("commit", "--quiet", "-m", "seed", cwd=root)
    git("checkout", "--quiet", "-b", "promote", cwd=root)
    record = {
        "app": "digits",
        "environment": "staging",
        "model": {
            "version": "3",
            "digest": "sha256:" + "3" * 64,
            "artifact": "oci://registry.example.com/ml/digits@sha256:" + "4" * 64,
        },
        "metrics": {"accuracy": 0.9},
    }
    (app / "release.yaml").write_text(yaml.safe_dump(record))
    git("commit", "--quiet", "-am", "promote", cwd=root)

    result = cli("validate", "--base", "main", "--json", cwd=root)

    assert result.exit_code == 1, result.stderr
    failed = {c["check"]: c["problem"] for c in result.json["checks"] if c["problem"]}
    assert (
        "main:environments/staging/digits/release.yaml is not UTF-8"
        in failed["base release readable"]
    )
    (app / "release.yaml").write_bytes(NOT_UTF8)
    git("commit", "--quiet", "-am", "corrupt", cwd=root)
    result = cli("validate", "--json", cwd=root)
    assert result.exit_code == 1, result.stderr
    failed = {c["check"]: c["problem"] for c in result.json["checks"] if c["problem"]}
    assert "release.yaml is not UTF-8 text" in failed["release record complete"]


def test_promote_never_writes_through_a_link_in_the_environment_repo(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with tempfile.TemporaryDirectory(prefix="seed-") as tmp:
        work = Path(tmp) / "w"
        git("init", "--quiet", "--initial-branch", "main", str(work))
        (work / APP_DIR).mkdir(parents=True)
        (work / APP_DIR / "manifests").symlink_to(outside)
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", "a link", cwd=work)
        git("push", "--quiet", str(env_repo), "HEAD:refs/heads/main", cwd=work)
    before = remote_head(env_repo)
    write_config(tmp_path, str(env_repo))
    result = promote(cli, tmp_path)
    assert_bad_input(result, f"{APP_DIR}/manifests is a symbolic link")
    assert list(outside.iterdir()) == []
    assert remote_head(env_repo) == before
