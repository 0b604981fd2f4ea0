"""`ci-plugins promote` into an environment with approval: a real git remote plus the forge."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.cli import CliResult, CliRunner
from tests.support.envrepo import git, remote_files, remote_head, remote_yaml, seed_files
from tests.support.forge_server import GITHUB_REPO, GITLAB_PROJECT, TOKEN, ForgeServer
from tests.support.promote import promote_args, write_config, write_release_inputs

BRANCH = "ci-plugins/promote/prod/digits"
TOKEN_VARIABLE = {"gitlab": "CI_PLUGINS_GITLAB_TOKEN", "github": "CI_PLUGINS_GITHUB_TOKEN"}


def promote_to_prod(
    cli: CliRunner,
    project: Path,
    env_repo: Path,
    forge: ForgeServer,
    kind: str,
    *,
    version: str = "3",
    token: str | None = TOKEN,
) -> CliResult:
    path = GITLAB_PROJECT if kind == "gitlab" else GITHUB_REPO
    write_config(
        project,
        str(env_repo),
        extra={
            "env_repo": {
                "url": str(env_repo),
                "branch": "main",
                "forge": kind,
                "api_url": forge.url,
                "project": path,
            }
        },
    )
    manifest, rendered = write_release_inputs(project, env="prod", version=version)
    env = {TOKEN_VARIABLE[kind]: token} if token else {}
    return cli(
        *promote_args("prod", manifest, rendered),
        env=env,
    )


def requests_made(forge: ForgeServer, kind: str) -> list[dict[str, object]]:
    return forge.gitlab_mrs(GITLAB_PROJECT) if kind == "gitlab" else forge.github_pulls(GITHUB_REPO)


@pytest.mark.parametrize("kind", ["gitlab", "github"])
def test_promote_to_an_approval_environment_pushes_a_branch_and_opens_one_request(
    tmp_path: Path, cli: CliRunner, env_repo: Path, forge: ForgeServer, kind: str
) -> None:
    main = seed_files(env_repo, {"README.md": "environments\n"})

    first = promote_to_prod(cli, tmp_path, env_repo, forge, kind)
    assert first.exit_code == 0, first.stderr
    assert first.json["commit"] == remote_head(env_repo, BRANCH)
    again = promote_to_prod(cli, tmp_path, env_repo, forge, kind)

    assert again.exit_code == 0, again.stderr
    web = {"gitlab": f"{GITLAB_PROJECT}/-/merge_requests/1", "github": f"{GITHUB_REPO}/pull/1"}
    url = f"{forge.url}/{web[kind]}"
    assert first.json["merge_request"] == url
    assert again.json["merge_request"] == url
    assert remote_head(env_repo) == main  # prod changes only once the request is merged
    assert "environments/prod/digits/release.yaml" in remote_files(env_repo, BRANCH)
    [request] = requests_made(forge, kind)
    assert request["title"] == "Promote digits 3 to prod"
    body = str(request.get("description") or request.get("body"))
    assert "Promotes **digits** `3` to **prod**" in body
    assert TOKEN not in first.stdout + first.stderr + again.stdout + again.stderr


def test_a_newer_release_updates_the_open_merge_request(
    tmp_path: Path, cli: CliRunner, env_repo: Path, forge: ForgeServer
) -> None:
    seed_files(env_repo, {"README.md": "environments\n"})

    first = promote_to_prod(cli, tmp_path, env_repo, forge, "gitlab", version="3")
    second = promote_to_prod(cli, tmp_path, env_repo, forge, "gitlab", version="4")

    assert second.exit_code == 0, second.stderr
    assert second.json["merge_request"] == first.json["merge_request"]
    [mr] = forge.gitlab_mrs(GITLAB_PROJECT)
    assert mr["title"] == "Promote digits 4 to prod"
    assert "`4`" in mr["description"]


def test_a_rejected_token_is_exit_3_and_never_printed(
    tmp_path: Path, cli: CliRunner, env_repo: Path, forge: ForgeServer
) -> None:
    seed_files(env_repo, {"README.md": "environments\n"})
    wrong = "wrong-token-0123456789"

    result = promote_to_prod(cli, tmp_path, env_repo, forge, "gitlab", token=wrong)

    assert result.exit_code == 3
    assert "authentication failed for 127.0.0.1" in result.stderr
    assert "check CI_PLUGINS_GITLAB_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert forge.gitlab_mrs(GITLAB_PROJECT) == []


@pytest.mark.parametrize("kind", ["gitlab", "github"])
def test_a_missing_token_is_exit_2_naming_the_variables(
    tmp_path: Path, cli: CliRunner, env_repo: Path, forge: ForgeServer, kind: str
) -> None:
    seed_files(env_repo, {"README.md": "environments\n"})

    before = remote_head(env_repo)

    result = promote_to_prod(cli, tmp_path, env_repo, forge, kind, token=None)

    assert result.exit_code == 2
    variable = TOKEN_VARIABLE[kind]
    assert f"set {variable} or {variable.removeprefix('CI_PLUGINS_')}" in result.stderr
    assert forge.requests == []
    refs = subprocess.run(
        ["git", "--git-dir", str(env_repo), "for-each-ref", "--format=%(refname)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert refs == ["refs/heads/main"], "nothing is pushed before the token is known"
    assert remote_head(env_repo) == before


def _refs(env_repo: Path) -> list[str]:
    return subprocess.run(
        ["git", "--git-dir", str(env_repo), "for-each-ref", "--format=%(refname)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


@pytest.mark.parametrize("kind", ["gitlab", "github"])
@pytest.mark.parametrize("wrong", ["token", "project"])
def test_a_wrong_token_or_project_fails_before_the_branch_is_pushed(
    tmp_path: Path, cli: CliRunner, env_repo: Path, forge: ForgeServer, kind: str, wrong: str
) -> None:
    seed_files(env_repo, {"README.md": "environments\n"})
    path = {"gitlab": "platform/missing", "github": "acme/missing"}[kind]
    if wrong == "project":
        write_config(
            tmp_path,
            str(env_repo),
            extra={
                "env_repo": {
                    "url": str(env_repo),
                    "forge": kind,
                    "api_url": forge.url,
                    "project": path,
                }
            },
        )
        manifest, rendered = write_release_inputs(tmp_path, env="prod")
        result = cli(
            "promote",
            "--env",
            "prod",
            "--rendered",
            rendered,
            "--manifest",
            manifest,
            env={TOKEN_VARIABLE[kind]: TOKEN},
        )
    else:
        result = promote_to_prod(cli, tmp_path, env_repo, forge, kind, token="wrong-token-42")

    assert result.exit_code == 3, result.stderr
    assert ("HTTP 404" if wrong == "project" else "HTTP 401") in result.stderr
    assert _refs(env_repo) == ["refs/heads/main"], "nothing is pushed before the API answers"
    assert forge.writes() == []


def test_every_missing_approval_setting_is_reported_in_one_run(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    seed_files(env_repo, {"README.md": "environments\n"})
    write_config(tmp_path, str(env_repo))
    manifest, rendered = write_release_inputs(tmp_path, env="prod")

    result = cli("promote", "--env", "prod", "--rendered", rendered, "--manifest", manifest)

    assert result.exit_code == 2, result.stderr
    assert "needs 3 more settings" in result.stderr
    for key in ("env_repo.forge", "env_repo.project", "GITLAB_TOKEN", "GITHUB_TOKEN"):
        assert key in result.stderr
    assert "docs/approvals.md" in result.stderr
    assert _refs(env_repo) == ["refs/heads/main"]


def test_a_canary_in_an_approval_environment_starts_only_when_its_request_is_merged(
    tmp_path: Path, cli: CliRunner, env_repo: Path, forge: ForgeServer
) -> None:
    seed_files(env_repo, {"README.md": "environments\n"})
    prod = {
        "namespace": "ml-prod",
        "approval": "merge-request",
        "values": {"replicaCount": 2},
        "rollout": {"strategy": "canary", "steps": [50, 100]},
    }
    forge_keys = {"forge": "gitlab", "api_url": forge.url, "project": GITLAB_PROJECT}
    write_config(
        tmp_path,
        str(env_repo),
        extra={
            "env_repo": {"url": str(env_repo), "branch": "main", **forge_keys},
            "environments": {"prod": prod},
        },
    )
    token = {TOKEN_VARIABLE["gitlab"]: TOKEN}
    for version in ("3", "4"):
        manifest, rendered = write_release_inputs(tmp_path, env="prod", version=version)
        result = cli(*promote_args("prod", manifest, rendered), env=token)
        assert result.exit_code == 0, result.stderr
        assert result.json["merge_request"], result.stderr
        if version == "3":  # a person merges the first release (a fast-forward here)
            git("update-ref", "refs/heads/main", remote_head(env_repo, BRANCH), cwd=env_repo)

    main = remote_yaml(env_repo, "environments/prod/digits/release.yaml")
    proposed = remote_yaml(env_repo, "environments/prod/digits/release.yaml", BRANCH)
    assert main["model"]["version"] == "3"
    assert "canary" not in main  # nothing of 4 runs before the merge
    assert proposed["canary"]["weight"] == 50
    assert proposed["canary"]["release"]["model"]["version"] == "4"
