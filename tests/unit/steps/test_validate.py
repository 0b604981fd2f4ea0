"""ci-plugins validate, through the CLI, on real git checkouts of an environment repo."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import CliRunner
from tests.support.envrepo import git

LABELS = {"app.kubernetes.io/name": "digits"}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "digits"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": LABELS},
        "template": {
            "metadata": {"labels": LABELS},
            "spec": {"containers": [{"name": "model-server", "image": "tensorflow/serving"}]},
        },
    },
}


def release(env: str = "dev", version: str = "20", **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "apiVersion": "ci-plugins/v1",
        "kind": "Release",
        "app": "digits",
        "environment": env,
        # Each version its own model bytes: one model under two versions is no downgrade.
        "model": {
            "version": version,
            "digest": "sha256:" + hashlib.sha256(version.encode()).hexdigest(),
            "artifact": "oci://registry.example.com/ml/digits@sha256:" + "b" * 64,
        },
        "metrics": {"accuracy": 0.97},
    }
    record.update(extra)
    return record


def write_app(
    root: Path,
    env: str = "dev",
    *,
    record: dict[str, Any] | None = None,
    manifest: str | None = None,
) -> None:
    base = root / "environments" / env / "digits"
    (base / "manifests").mkdir(parents=True, exist_ok=True)
    (base / "release.yaml").write_text(yaml.safe_dump(record or release(env)), encoding="utf-8")
    text = manifest if manifest is not None else yaml.safe_dump(DEPLOYMENT)
    (base / "manifests" / "deployment-digits.yaml").write_text(text, encoding="utf-8")


def commit(root: Path, message: str = "change") -> None:
    git("add", "-A", cwd=root)
    git("commit", "--quiet", "-m", message, cwd=root)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An env repo checkout: main runs digits 20 in dev and staging; branch promote is out."""
    root = tmp_path / "environments"
    root.mkdir()
    git("init", "--quiet", "--initial-branch", "main", cwd=root)
    write_app(root, "dev")
    write_app(root, "staging")
    commit(root, "seed")
    git("checkout", "--quiet", "-b", "promote", cwd=root)
    return root


def test_a_complete_promotion_passes_and_names_the_changed_apps(repo: Path, cli: CliRunner) -> None:
    write_app(repo, "staging", record=release("staging", "21"))
    commit(repo)
    result = cli("validate", "--base", "main", "--json", "--report-dir", "reports", cwd=repo)
    assert result.exit_code == 0, result.stderr
    assert result.json["apps"] == ["staging/digits"]
    assert result.json["environments"] == ["staging"]
    assert "validate passed: 4 checks for 1 apps changed since main" in result.stderr
    junit = (repo / "reports" / "validate-junit.xml").read_text(encoding="utf-8")
    assert junit.count("<testcase") == 4


@pytest.mark.parametrize(
    ("record", "manifest", "problem"),
    [
        pytest.param(
            release("staging", "19"),
            None,
            "staging/digits: model version 19 is older than 20, which the target branch runs",
            id="downgrade",
        ),
        pytest.param(
            release("staging", "21", metrics={}),
            None,
            "staging/digits: the release record has no gate metrics",
            id="no-gate-evidence",
        ),
        pytest.param(
            release("dev", "21"),
            None,
            "staging/digits: release.yaml names dev/digits, but lives under staging/digits",
            id="wrong-environment",
        ),
        pytest.param(
            {k: v for k, v in release("staging", "21").items() if k != "model"},
            None,
            "staging/digits: release.yaml",
            id="incomplete-record",
        ),
        pytest.param(
            release("staging", "21"),
            "kind: Deployment\nmetadata: {name: [unclosed\n",
            "staging/digits: manifests/deployment-digits.yaml is not valid YAML",
            id="manifest-not-yaml",
        ),
        pytest.param(
            release("staging", "21"),
            "apiVersion: v1\nkind: Service\nmetadata: {}\n",
            "manifests/deployment-digits.yaml holds an object without kind or metadata.name",
            id="manifest-without-name",
        ),
    ],
)
def test_a_broken_promotion_fails_naming_the_problem(
    repo: Path, cli: CliRunner, record: dict[str, Any], manifest: str | None, problem: str
) -> None:
    write_app(repo, "staging", record=record, manifest=manifest)
    commit(repo)
    result = cli("validate", "--base", "main", "--json", cwd=repo)
    assert result.exit_code == 1
    assert result.json["verdict"] == "failed"
    assert problem in result.stderr


def test_a_rollback_commit_may_restore_an_older_version(repo: Path, cli: CliRunner) -> None:
    write_app(repo, "staging", record=release("staging", "19"))
    commit(repo, "rollback digits in staging to 19\n\nRollback-Of: 0123abcd")
    result = cli("validate", "--base", "main", cwd=repo)
    assert result.exit_code == 0, result.stderr


def test_allow_downgrade_accepts_an_older_version(repo: Path, cli: CliRunner) -> None:
    write_app(repo, "staging", record=release("staging", "19"))
    commit(repo)
    assert cli("validate", "--base", "main", "--allow-downgrade", cwd=repo).exit_code == 0


def test_without_a_base_every_app_is_checked(repo: Path, cli: CliRunner) -> None:
    result = cli("validate", "--json", cwd=repo)
    assert result.exit_code == 0, result.stderr
    assert result.json["apps"] == ["dev/digits", "staging/digits"]


def test_a_removed_app_is_listed_but_not_checked(repo: Path, cli: CliRunner) -> None:
    git("rm", "--quiet", "-r", "environments/staging/digits", cwd=repo)
    commit(repo)
    result = cli("validate", "--base", "main", "--json", cwd=repo)
    assert result.exit_code == 0, result.stderr
    assert result.json["apps"] == ["staging/digits"]
    assert result.json["checks"] == []


def test_outside_an_environment_repo_is_bad_input(tmp_path: Path, cli: CliRunner) -> None:
    result = cli("validate", "--repo", tmp_path)
    assert result.exit_code == 2
    assert "is not an environment repo checkout: it has no environments/ directory" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_an_unknown_base_is_an_outside_failure(repo: Path, cli: CliRunner) -> None:
    result = cli("validate", "--base", "no-such-branch", cwd=repo)
    assert result.exit_code == 3
    assert "no-such-branch" in result.stderr


def test_a_base_starting_with_a_dash_is_exit_2(repo: Path, cli: CliRunner) -> None:
    result = cli("validate", "--base=--output=/tmp/x", cwd=repo)
    assert result.exit_code == 2, result.stderr
    assert "is not a git revision" in result.stderr
