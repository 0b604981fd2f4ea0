"""rollback, pins, unpin, status and verification records against a real bare repo."""

from __future__ import annotations

import json
from pathlib import Path

from ci_plugins.envrepo.checkout import mark_verified
from tests.support.cli import CliRunner
from tests.support.envrepo import commit_message, remote_head, remote_log, remote_yaml
from tests.support.promote import digest_of, promote_args, write_config, write_release_inputs

RELEASE = "environments/staging/digits/release.yaml"
PIN = "environments/staging/digits/pin.yaml"


def promote_versions(cli: CliRunner, project: Path, *versions: str) -> list[str]:
    shas = []
    for version in versions:
        manifest, rendered = write_release_inputs(project, version=version)
        result = cli(
            *promote_args("staging", manifest, rendered),
        )
        assert result.exit_code == 0, result.stderr
        shas.append(result.json["commit"])
    return shas


def test_rollback_restores_the_previous_release_and_pins(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    _, bad = promote_versions(cli, tmp_path, "1", "2")
    result = cli("rollback", "--env", "staging", "--json", env={"GITLAB_USER_LOGIN": "alice"})
    assert result.exit_code == 0, result.stderr
    assert result.json["restored"] == "1"
    assert result.json["reason"] == "previous release"
    assert remote_yaml(env_repo, RELEASE)["model"]["version"] == "1"
    manifest = remote_yaml(
        env_repo, "environments/staging/digits/manifests/configmap-digits-0.yaml"
    )
    assert manifest["data"]["model_version"] == "1"
    pin = remote_yaml(env_repo, PIN)
    assert pin["pinned_by"] == "alice"
    assert "rolled back from 2" in pin["reason"]
    assert f"Rollback-Of: {bad}" in commit_message(env_repo, result.json["commit"])
    assert len(remote_log(env_repo)) == 3, "a new commit; history is not rewritten"


def test_rollback_prefers_the_last_release_verified_healthy(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    first, _second, _third = promote_versions(cli, tmp_path, "1", "2", "3")
    mark_verified(str(env_repo), branch="main", env="staging", app="digits", commit=first)
    mark_verified(str(env_repo), branch="main", env="staging", app="digits", commit=first)
    result = cli("rollback", "--env", "staging", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["restored"] == "1"
    assert result.json["reason"] == "last verified healthy"


def test_a_bad_release_of_the_same_model_rolls_back_to_the_healthy_values(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    """Same model, other values (e.g. a value that crash-loops the server): still a release."""
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, version="1")
    good = cli(*promote_args("staging", manifest, rendered))
    assert good.exit_code == 0, good.stderr
    mark_verified(
        str(env_repo), branch="main", env="staging", app="digits", commit=good.json["commit"]
    )
    info = json.loads((rendered / "render-info.json").read_text())
    info["values_digest"] = digest_of("broken-values")
    (rendered / "render-info.json").write_text(json.dumps(info))
    (rendered / "configmap-digits-0.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: digits-0, namespace: ml-staging}\n"
        "data: {model_version: '1', broken: 'yes'}\n"
    )
    bad = cli(*promote_args("staging", manifest, rendered))
    assert bad.exit_code == 0, bad.stderr
    assert bad.json["commit"] is not None

    result = cli("rollback", "--env", "staging", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json["restored_from_commit"] == good.json["commit"]
    assert result.json["reason"] == "last verified healthy"
    manifest_now = remote_yaml(
        env_repo, "environments/staging/digits/manifests/configmap-digits-0.yaml"
    )
    assert "broken" not in manifest_now["data"]
    assert remote_yaml(env_repo, RELEASE)["values_digest"] == digest_of("values-staging")
    assert f"({good.json['commit'][:12]})" in result.stderr


def test_a_pinned_app_refuses_promotion_until_unpinned(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    promote_versions(cli, tmp_path, "1", "2")
    assert cli("rollback", "--env", "staging").exit_code == 0
    head = remote_head(env_repo)
    manifest, rendered = write_release_inputs(tmp_path, version="3")
    refused = cli(*promote_args("staging", manifest, rendered, json=False))
    assert refused.exit_code == 1
    assert "digits is pinned in staging by" in refused.stderr
    assert "ci-plugins unpin --env staging --app digits" in refused.stderr
    assert remote_head(env_repo) == head
    unpinned = cli("unpin", "--env", "staging", "--json")
    assert unpinned.exit_code == 0, unpinned.stderr
    assert remote_yaml(env_repo, PIN) is None
    again = cli("unpin", "--env", "staging", "--json")
    assert again.exit_code == 0
    assert again.json["commit"] is None
    promoted = cli(*promote_args("staging", manifest, rendered, json=False))
    assert promoted.exit_code == 0, promoted.stderr


def test_rollback_with_a_single_release_is_exit_1(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    promote_versions(cli, tmp_path, "1")
    head = remote_head(env_repo)
    result = cli("rollback", "--env", "staging")
    assert result.exit_code == 1
    assert "nothing to roll back to" in result.stderr
    assert remote_head(env_repo) == head


def test_rollback_of_an_unknown_app_is_exit_1_and_bad_names_exit_2(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    promote_versions(cli, tmp_path, "1")
    missing = cli("rollback", "--env", "staging", "--app", "nope")
    assert missing.exit_code == 1
    assert "staging has no release of nope" in missing.stderr
    bad = cli("rollback", "--env", "../etc", "--app", "digits")
    assert bad.exit_code == 2
    assert "invalid environment name" in bad.stderr


def test_status_shows_what_runs_where_and_the_history(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    promote_versions(cli, tmp_path, "1", "2")
    assert cli("rollback", "--env", "staging").exit_code == 0
    result = cli("status", "--json", "--history")
    assert result.exit_code == 0, result.stderr
    (row,) = result.json["releases"]
    assert row["environment"] == "staging"
    assert row["model_version"] == "1"
    assert row["pinned"] is True
    assert row["metrics"] == {"accuracy": 0.901}
    assert [h["model_version"] for h in result.json["history"]] == ["1", "2", "1"]
    assert result.json["history"][0]["rollback_of"]
    table = cli("status", "--env", "staging")
    assert table.exit_code == 0
    assert "staging" in table.stderr
    assert "yes (" in table.stderr


def test_status_of_an_empty_repo(tmp_path: Path, cli: CliRunner, env_repo: Path) -> None:
    result = cli("status", "--env-repo", env_repo, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["releases"] == []


def test_bad_app_names_are_exit_2_for_every_command(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    promote_versions(cli, tmp_path, "1")
    head = remote_head(env_repo)
    for command in ("rollback", "unpin", "status"):
        for app in ("../x", "a/b", "Digits"):
            result = cli(command, "--env", "staging", "--app", app)
            assert result.exit_code == 2, (command, app, result.stderr)
            assert "invalid app name" in result.stderr
    assert remote_head(env_repo) == head


def test_status_history_says_what_changed_for_the_same_model_and_what_was_verified(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    write_config(tmp_path, str(env_repo))
    (first,) = promote_versions(cli, tmp_path, "1")
    mark_verified(str(env_repo), branch="main", env="staging", app="digits", commit=first)
    # The same model again, rendered with other values and another serving image.
    manifest, rendered = write_release_inputs(tmp_path, version="1")
    info = json.loads((rendered / "render-info.json").read_text())
    info.update(
        values_digest=digest_of("more-replicas"),
        image="registry.example.com/s@" + (digest_of("other-image")),
    )
    (rendered / "render-info.json").write_text(json.dumps(info))
    (rendered / "configmap-digits-0.yaml").write_text(
        "kind: ConfigMap\napiVersion: v1\nmetadata: {name: digits-0}\n"
    )
    args = ("promote", "--env", "staging", "--rendered", rendered, "--manifest", manifest)
    assert cli(*args).exit_code == 0

    result = cli("status", "--json", "--history")

    assert result.exit_code == 0, result.stderr
    newest, oldest = result.json["history"]
    assert newest["model_version"] == oldest["model_version"] == "1"
    assert newest["changes"] == ["image", "values"]
    assert newest["verified"] is False
    assert oldest["changes"] == ["first release"]
    assert oldest["verified"] is True
    table = cli("status", "--history").stderr
    assert "image, values" in table
    assert "healthy" in table
