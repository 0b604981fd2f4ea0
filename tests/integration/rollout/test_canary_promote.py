"""promote into an environment with rollout.strategy: canary: the release starts as the
candidate track at the first step, next to the stable one (real helm, real git)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.cli import CliRunner
from tests.support.envrepo import commit_message, remote_head, remote_objects, remote_yaml
from tests.support.promote import digest_of, promote_args, write_config, write_release_inputs

RELEASE = "environments/prod/digits/release.yaml"
MANIFESTS = "environments/prod/digits/manifests"


def canary_config(tmp_path: Path, env_repo: Path, **rollout: Any) -> Path:
    return write_config(
        tmp_path,
        str(env_repo),
        extra={
            "environments": {
                "staging": {"namespace": "ml-staging"},
                "prod": {
                    "namespace": "ml-prod",
                    "values": {"replicaCount": 4},
                    "rollout": {"strategy": "canary", "steps": [25, 100], **rollout},
                },
            }
        },
    )


def promote_to_prod(tmp_path: Path, cli: CliRunner, version: str) -> dict[str, Any]:
    manifest, rendered = write_release_inputs(tmp_path, env="staging", version=version)
    staged = cli(*promote_args("staging", manifest, rendered, json=False))
    assert staged.exit_code == 0, staged.stderr
    result = cli("promote", "--from-env", "staging", "--to-env", "prod", "--json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = {**result.json, "stderr": result.stderr}
    return document


def deployments(env_repo: Path) -> dict[str, dict[str, Any]]:
    return remote_objects(env_repo, MANIFESTS, "Deployment")


def test_the_first_release_of_a_canary_environment_goes_in_whole(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    canary_config(tmp_path, env_repo)

    promote_to_prod(tmp_path, cli, "3")

    record = remote_yaml(env_repo, RELEASE)
    assert record["model"]["digest"] == digest_of("3")
    assert "canary" not in record
    assert set(deployments(env_repo)) == {"digits-model-server"}


def test_a_new_release_starts_as_the_candidate_at_the_first_step_next_to_stable(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    canary_config(tmp_path, env_repo)
    promote_to_prod(tmp_path, cli, "3")

    result = promote_to_prod(tmp_path, cli, "4")

    record = remote_yaml(env_repo, RELEASE)
    assert record["model"]["digest"] == digest_of("3")  # stable stays the release record
    assert record["canary"]["weight"] == 25
    assert record["canary"]["steps"] == [25, 100]
    assert record["canary"]["release"]["model"]["digest"] == digest_of("4")
    found = deployments(env_repo)
    stable, candidate = found["digits-model-server"], found["digits-model-server-canary"]
    assert (stable["spec"]["replicas"], candidate["spec"]["replicas"]) == (3, 1)  # 25% of 4
    pods = candidate["spec"]["template"]["metadata"]
    assert pods["labels"]["ci-plugins.dev/track"] == "candidate"
    assert pods["annotations"]["ci-plugins.dev/model-digest"] == digest_of("4")
    assert stable["spec"]["template"]["metadata"]["annotations"][
        "ci-plugins.dev/model-digest"
    ] == digest_of("3")
    message = commit_message(env_repo, result["commit"])
    assert message.startswith("canary digits 4 in prod: 25% of traffic next to 3")
    assert "Canary-Weight: 25" in message
    assert "prod/digits: 4 runs as the candidate at 25% in commit" in result["stderr"]

    head = remote_head(env_repo)
    again = cli("promote", "--from-env", "staging", "--to-env", "prod", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json["commit"] is None
    assert remote_head(env_repo) == head


def test_another_candidate_while_a_canary_runs_is_refused_and_changes_nothing(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    canary_config(tmp_path, env_repo)
    promote_to_prod(tmp_path, cli, "3")
    promote_to_prod(tmp_path, cli, "4")
    manifest, rendered = write_release_inputs(tmp_path, env="staging", version="5")
    assert cli(*promote_args("staging", manifest, rendered, json=False)).exit_code == 0
    head = remote_head(env_repo)

    result = cli("promote", "--from-env", "staging", "--to-env", "prod", "--json")

    assert result.exit_code == 1
    assert "a canary of digits 4 runs in prod (at 25%)" in result.stderr
    assert remote_head(env_repo) == head
