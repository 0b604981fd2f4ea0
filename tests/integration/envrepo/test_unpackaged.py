"""An unpackaged model (no artifact, no serving image) never reaches an environment (#17).

render refuses it unless asked for a review-only --preview; promote refuses the manifest, a
preview render of a model packaged later, and a recorded release without model.artifact;
validate refuses such a release record. Each refusal is exit 2, says why, and leaves the
environment repo as it was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from tests.support.cli import REPO, CliRunner
from tests.support.envrepo import git, remote_head, seed_files
from tests.support.promote import digest_of, write_config, write_release_inputs

TOOLS_PATH = {"PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
NEVER_PACKAGED = "names neither a model artifact nor a serving image"


def unpackaged(manifest: Path) -> Path:
    """The manifest as train writes it: before `ci-plugins package`."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data.pop("artifact", None)
    data.pop("image", None)
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return manifest


def test_render_refuses_an_unpackaged_model_and_writes_nothing(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    manifest, _ = write_release_inputs(tmp_path, env="dev")
    unpackaged(manifest)
    result = cli("render", "--manifest", manifest, "--env", "dev", "--output-dir", "out")
    assert result.exit_code == 2, result.stderr
    assert NEVER_PACKAGED in result.stderr
    assert "TensorFlow Serving with no model" in result.stderr
    assert "ci-plugins package" in result.stderr
    assert not (tmp_path / "out").exists()


def test_render_preview_renders_an_unpackaged_model_that_promote_then_refuses(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    before = seed_files(env_repo, {"README.md": "env repo\n"})
    write_config(tmp_path, str(env_repo))
    manifest, _ = write_release_inputs(tmp_path, env="dev")
    artifact = json.loads(manifest.read_text(encoding="utf-8"))["artifact"]
    unpackaged(manifest)
    preview = cli(
        "render",
        "--manifest",
        manifest,
        "--env",
        "dev",
        "--output-dir",
        "preview",
        "--preview",
        env=TOOLS_PATH,
    )
    assert preview.exit_code == 0, preview.stderr
    assert (tmp_path / "preview" / "render-info.json").is_file()

    refused = cli("promote", "--env", "dev", "--rendered", "preview", "--manifest", manifest)
    assert refused.exit_code == 2
    assert NEVER_PACKAGED in refused.stderr
    # Packaged afterwards, the manifest is fine, but the preview does not pull the model.
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**data, "artifact": artifact}), encoding="utf-8")
    stale = cli("promote", "--env", "dev", "--rendered", "preview", "--manifest", manifest)
    assert stale.exit_code == 2
    assert "was rendered for model artifact (none)" in stale.stderr
    assert "render again with the packaged model manifest" in stale.stderr
    assert remote_head(env_repo) == before


def test_promote_from_an_environment_whose_release_was_never_packaged_is_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    record = {
        "apiVersion": "ci-plugins/v1",
        "kind": "Release",
        "app": "digits",
        "environment": "dev",
        "model": {"version": "4", "digest": digest_of("4")},
        "image": "tensorflow/serving@" + digest_of("serving"),
        "metrics": {"accuracy": 0.97},
    }
    before = seed_files(env_repo, {"environments/dev/digits/release.yaml": yaml.safe_dump(record)})
    write_config(tmp_path, str(env_repo))
    result = cli("promote", "--from-env", "dev", "--to-env", "staging")
    assert result.exit_code == 2
    assert "dev's release of digits (4) records no model.artifact" in result.stderr
    assert remote_head(env_repo) == before


def test_validate_refuses_a_release_record_without_a_model_artifact(
    tmp_path: Path, cli: CliRunner
) -> None:
    root = tmp_path / "environments-checkout"
    app = root / "environments" / "dev" / "digits"
    (app / "manifests").mkdir(parents=True)
    record = {
        "apiVersion": "ci-plugins/v1",
        "kind": "Release",
        "app": "digits",
        "environment": "dev",
        "model": {"version": "4", "digest": digest_of("4")},
        "metrics": {"accuracy": 0.97},
    }
    (app / "release.yaml").write_text(yaml.safe_dump(record), encoding="utf-8")
    deployment = {  # a Deployment Kubernetes accepts: only the missing artifact is wrong
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "digits"},
        "spec": {
            "selector": {"matchLabels": {"app": "digits"}},
            "template": {
                "metadata": {"labels": {"app": "digits"}},
                "spec": {"containers": [{"name": "server", "image": "tensorflow/serving:2.16.1"}]},
            },
        },
    }
    (app / "manifests" / "deployment-digits.yaml").write_text(yaml.safe_dump(deployment))
    git("init", "--quiet", "--initial-branch", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "--quiet", "-m", "unpackaged", cwd=root)
    head = git("rev-parse", "HEAD", cwd=root)
    result = cli("validate", "--repo", root)
    assert result.exit_code == 2, result.stderr
    assert "dev/digits/release.yaml: no model.artifact recorded" in result.stderr
    assert "never packaged" in result.stderr
    assert git("rev-parse", "HEAD", cwd=root) == head
    assert git("status", "--porcelain", cwd=root) == ""
