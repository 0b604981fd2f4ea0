"""promote against real git remotes: layout, trailers, idempotency, guards, faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.cli import CliResult, CliRunner
from tests.support.envrepo import (
    HttpGitServer,
    commit_message,
    install_hook,
    make_bare_repo,
    remote_files,
    remote_head,
    remote_log,
    remote_yaml,
    seed_files,
)
from tests.support.forge_server import ForgeServer
from tests.support.promote import digest_of, promote_args, write_config, write_release_inputs

APP_DIR = "environments/staging/digits"


def promote(
    cli: CliRunner, manifest: Path, rendered: Path, *extra: str, env: str = "staging"
) -> CliResult:
    return cli(*promote_args(env, manifest, rendered), *extra)


def test_promote_writes_release_and_manifests_in_one_commit_with_trailers(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    seed_files(env_repo, {"environments/staging/other/release.yaml": "keep: me\n"})
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, version="3")
    outputs = tmp_path / "outputs.env"
    result = cli(
        *promote_args("staging", manifest, rendered),
        env={"CI_PLUGINS_OUTPUTS_FILE": str(outputs)},
    )
    assert result.exit_code == 0, result.stderr
    sha = result.json["commit"]
    assert sha == remote_head(env_repo)
    assert result.json["merge_request"] is None
    assert f"CI_PLUGINS_COMMIT={sha}" in outputs.read_text()
    files = remote_files(env_repo, under=APP_DIR)
    assert sorted(files) == [
        f"{APP_DIR}/manifests/configmap-digits-0.yaml",
        f"{APP_DIR}/manifests/configmap-digits-1.yaml",
        f"{APP_DIR}/release.yaml",
    ]
    assert (
        files[f"{APP_DIR}/manifests/configmap-digits-0.yaml"]
        == (rendered / "configmap-digits-0.yaml").read_text()
    )
    record = yaml.safe_load(files[f"{APP_DIR}/release.yaml"])
    assert record["model"]["version"] == "3"
    assert record["model"]["digest"] == digest_of("3")
    assert record["chart"] == {"name": "model-server", "version": "0.3.0"}
    assert record["values_digest"] == digest_of("values-staging")
    assert record["metrics"] == {"accuracy": pytest.approx(0.903)}
    assert record["source"]["commit"] == "c0ffee3"
    assert remote_yaml(env_repo, "environments/staging/other/release.yaml") == {"keep": "me"}
    message = commit_message(env_repo, sha)
    for trailer in (
        "Model-Version: 3",
        f"Model-Digest: {digest_of('3')}",
        "Source-Commit: c0ffee3",
        "Pipeline: https://ci.example.com/p/3",
        "Environment: staging",
        "App: digits",
    ):
        assert trailer in message.splitlines()


def test_promoting_the_same_release_again_makes_no_commit(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, version="3")
    first = promote(cli, manifest, rendered)
    assert first.exit_code == 0, first.stderr
    again = promote(cli, manifest, rendered)
    assert again.exit_code == 0, again.stderr
    assert again.json["commit"] is None
    assert "already runs 3" in again.stderr
    assert len(remote_log(env_repo)) == 1


def test_a_new_release_replaces_the_old_manifest_set(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, version="3", objects=3)
    assert promote(cli, manifest, rendered).exit_code == 0
    manifest, rendered = write_release_inputs(tmp_path, version="4", objects=1)
    result = promote(cli, manifest, rendered)
    assert result.exit_code == 0, result.stderr
    names = sorted(remote_files(env_repo, under=f"{APP_DIR}/manifests"))
    assert names == [f"{APP_DIR}/manifests/configmap-digits-0.yaml"]
    assert len(remote_log(env_repo)) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--env", "../x"], "invalid environment name", id="env-traversal"),
        pytest.param(["--env", "Prod"], "invalid environment name", id="env-upper"),
        pytest.param(["--env", "qa"], "unknown environment 'qa'", id="env-unknown"),
    ],
)
def test_bad_environment_names_are_exit_2_and_leave_the_repo_unchanged(
    tmp_path: Path, cli: CliRunner, env_repo: Path, args: list[str], message: str
) -> None:
    before = seed_files(env_repo, {"README.md": "env repo\n"})
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path)
    result = cli("promote", *args, "--rendered", rendered, "--manifest", manifest)
    assert result.exit_code == 2
    assert message in result.stderr
    assert remote_head(env_repo) == before


def test_a_manifest_for_another_app_is_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    before = seed_files(env_repo, {"README.md": "x\n"})
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, app="Bad_App")
    result = promote(cli, manifest, rendered)
    assert result.exit_code == 2
    assert remote_head(env_repo) == before


def test_an_empty_or_non_yaml_rendered_dir_is_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    before = seed_files(env_repo, {"README.md": "x\n"})
    write_config(tmp_path, str(env_repo))
    manifest, _ = write_release_inputs(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = promote(cli, manifest, empty)
    assert result.exit_code == 2
    assert "has no *.yaml files" in result.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.yaml").write_text("kind: [unclosed\n")
    (broken / "b.yaml").write_text("just a string\n")
    result = promote(cli, manifest, broken)
    assert result.exit_code == 2
    assert "a.yaml: not valid YAML" in result.stderr
    assert "b.yaml: is not a Kubernetes object" in result.stderr
    assert remote_head(env_repo) == before


def test_rendered_for_another_environment_is_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, env="dev")
    result = promote(cli, manifest, rendered, env="staging")
    assert result.exit_code == 2
    assert "environment 'dev', not 'staging'" in result.stderr
    assert remote_head(env_repo) == ""


def test_an_unreachable_remote_is_exit_3(tmp_path: Path, cli: CliRunner) -> None:
    write_config(tmp_path, "http://127.0.0.1:9/environments.git")
    manifest, rendered = write_release_inputs(tmp_path)
    result = promote(cli, manifest, rendered)
    assert result.exit_code == 3
    assert "git clone" in result.stderr
    assert "127.0.0.1:9" in result.stderr


def test_an_auth_failure_is_exit_3_without_the_token(tmp_path: Path, cli: CliRunner) -> None:
    root = tmp_path / "served"
    bare = make_bare_repo(root / "env.git")
    before = seed_files(bare, {"README.md": "x\n"})
    token = "glpat-NotTheRightToken42"
    with HttpGitServer(root, auth=("gitlab-ci-token", "the-right-one")) as server:
        write_config(tmp_path, server.url("env.git"))
        manifest, rendered = write_release_inputs(tmp_path)
        result = cli(
            *promote_args("staging", manifest, rendered),
            env={"CI_PLUGINS_GIT_TOKEN": token},
        )
    assert result.exit_code == 3
    assert token not in result.stderr + result.stdout
    assert "authentication" in result.stderr
    assert "CI_PLUGINS_GIT_TOKEN" in result.stderr
    assert remote_head(bare) == before


def test_promote_over_http_with_a_ci_job_token(tmp_path: Path, cli: CliRunner) -> None:
    root = tmp_path / "served"
    bare = make_bare_repo(root / "env.git")
    with HttpGitServer(root, auth=("gitlab-ci-token", "job-token-xyz")) as server:
        write_config(tmp_path, server.url("env.git"))
        manifest, rendered = write_release_inputs(tmp_path)
        result = cli(
            *promote_args("staging", manifest, rendered),
            env={"CI_JOB_TOKEN": "job-token-xyz"},
        )
    assert result.exit_code == 0, result.stderr
    assert result.json["commit"] == remote_head(bare)


def test_a_push_rejected_by_a_hook_is_exit_3_after_bounded_retries(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    before = seed_files(env_repo, {"README.md": "x\n"})
    counter = tmp_path / "pushes"
    install_hook(env_repo, "pre-receive", f"echo x >> {counter}; echo 'frozen' >&2; exit 1")
    write_config(tmp_path, str(env_repo))  # push_attempts: 3
    manifest, rendered = write_release_inputs(tmp_path)
    result = promote(cli, manifest, rendered)
    assert result.exit_code == 3
    assert "still rejected after 3 attempts" in result.stderr
    assert counter.read_text().count("x") == 3
    assert remote_head(env_repo) == before


def test_a_downgrade_is_refused_unless_allowed(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, version="10")
    assert promote(cli, manifest, rendered).exit_code == 0
    head = remote_head(env_repo)
    manifest, rendered = write_release_inputs(tmp_path, version="9")
    refused = promote(cli, manifest, rendered)
    assert refused.exit_code == 1
    assert "refusing to downgrade staging/digits" in refused.stderr
    assert "9 is older than 10" in refused.stderr
    assert remote_head(env_repo) == head
    allowed = promote(cli, manifest, rendered, "--allow-downgrade")
    assert allowed.exit_code == 0, allowed.stderr
    assert remote_yaml(env_repo, f"{APP_DIR}/release.yaml")["model"]["version"] == "9"


def test_downgrade_uses_creation_time_when_both_have_one(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, version="2", created="2026-05-02T00:00:00Z")
    assert promote(cli, manifest, rendered).exit_code == 0
    manifest, rendered = write_release_inputs(tmp_path, version="7", created="2026-05-01T00:00:00Z")
    result = promote(cli, manifest, rendered)
    assert result.exit_code == 1
    assert "was created 2026-05-01" in result.stderr


def test_the_same_release_from_a_new_pipeline_makes_no_commit(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, version="3")
    assert promote(cli, manifest, rendered).exit_code == 0
    data = json.loads(manifest.read_text())
    data["pipeline_url"] = "https://ci.example.com/p/retry"
    manifest.write_text(json.dumps(data))
    again = promote(cli, manifest, rendered)
    assert again.exit_code == 0, again.stderr
    assert again.json["commit"] is None


def test_rerunning_an_approval_promotion_keeps_the_branch_and_the_request(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    seed_files(env_repo, {"README.md": "x\n"})
    with ForgeServer(token="glpat-forge-token-0123456789") as forge:
        forge.add_gitlab_project("platform/environments")
        env_repo_config = {
            "url": str(env_repo),
            "forge": "gitlab",
            "api_url": forge.url,
            "project": "platform/environments",
        }
        write_config(tmp_path, str(env_repo), extra={"env_repo": env_repo_config})
        manifest, rendered = write_release_inputs(tmp_path, env="prod")
        token = {"CI_PLUGINS_GITLAB_TOKEN": "glpat-forge-token-0123456789"}
        first = cli(
            *promote_args("prod", manifest, rendered),
            env=token,
        )
        branch = "ci-plugins/promote/prod/digits"
        head = remote_head(env_repo, branch)
        again = cli(
            *promote_args("prod", manifest, rendered),
            env=token,
        )
        assert first.exit_code == 0, first.stderr
        assert again.exit_code == 0, again.stderr
        assert remote_head(env_repo, branch) == head, "no new commit on the request's branch"
        assert again.json["commit"] == head
        assert again.json["merge_request"] == first.json["merge_request"]
        assert len(forge.gitlab_mrs("platform/environments")) == 1
