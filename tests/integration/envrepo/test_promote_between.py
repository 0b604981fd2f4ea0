"""promote --from-env A --to-env B: the exact release of A, re-rendered for B with helm."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.cli import CliRunner
from tests.support.envrepo import commit_message, remote_files, remote_head, remote_yaml
from tests.support.promote import digest_of, promote_args, write_config, write_release_inputs


def test_promote_between_environments_rerenders_the_same_release(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, env="staging", version="5")
    first = cli(*promote_args("staging", manifest, rendered, json=False))
    assert first.exit_code == 0, first.stderr

    result = cli("promote", "--from-env", "staging", "--to-env", "dev", "--json")

    assert result.exit_code == 0, result.stderr
    record = remote_yaml(env_repo, "environments/dev/digits/release.yaml")
    staging = remote_yaml(env_repo, "environments/staging/digits/release.yaml")
    assert record["promoted_from"] == "staging"
    assert record["model"] == staging["model"]
    assert record["model"]["digest"] == digest_of("5")
    assert record["metrics"] == staging["metrics"]
    assert record["source"] == staging["source"]
    manifests = remote_files(env_repo, under="environments/dev/digits/manifests")
    deployment = yaml.safe_load(
        manifests["environments/dev/digits/manifests/deployment-digits-model-server.yaml"]
    )
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["ci-plugins.dev/model-digest"] == digest_of("5")
    namespaces = {
        (yaml.safe_load(text).get("metadata") or {}).get("namespace") for text in manifests.values()
    }
    assert namespaces <= {"ml-dev", None}
    assert "Promoted-From: staging" in commit_message(env_repo, result.json["commit"])
    head = remote_head(env_repo)
    again = cli("promote", "--from-env", "staging", "--to-env", "dev", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json["commit"] is None
    assert remote_head(env_repo) == head


def test_promote_from_an_environment_without_a_release_is_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    result = cli("promote", "--from-env", "staging", "--to-env", "dev")
    assert result.exit_code == 2
    assert "staging has no release of digits" in result.stderr
    assert remote_head(env_repo) == ""


def test_from_env_with_a_contradicting_env_is_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    result = cli("promote", "--from-env", "staging", "--to-env", "dev", "--env", "prod")
    assert result.exit_code == 2
    assert "--env prod contradicts --to-env dev" in result.stderr
    half = cli("promote", "--from-env", "staging")
    assert half.exit_code == 2
    assert "needs both --from-env A and --to-env B" in half.stderr
