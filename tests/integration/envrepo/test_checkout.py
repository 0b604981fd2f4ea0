"""The environment repo's read side, against real bare repos (file:// and smart HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_plugins.envrepo import checkout as envrepo
from ci_plugins.errors import ExternalError, InputError
from tests.support.envrepo import (
    HttpGitServer,
    git,
    make_bare_repo,
    remote_head,
    seed_files,
)

RELEASE = """\
apiVersion: ci-plugins/v1
kind: Release
app: digits
environment: staging
model: {version: "3", digest: "sha256:%s"}
metrics: {accuracy: 0.97}
""" % ("a" * 64)


def seeded(bare: Path) -> str:
    return seed_files(
        bare,
        {
            "environments/staging/digits/release.yaml": RELEASE,
            "environments/staging/digits/manifests/deployment-digits.yaml": "kind: Deployment\n",
            "environments/staging/digits/manifests/service-digits.yaml": "kind: Service\n",
            "environments/staging/other/release.yaml": RELEASE.replace("digits", "other"),
            "environments/prod/digits/manifests/x.yaml": "kind: Service\n",
        },
    )


def test_checkout_reads_release_manifests_and_apps(env_repo: Path) -> None:
    sha = seeded(env_repo)
    with envrepo.checkout(str(env_repo)) as repo:
        assert repo.head == sha
        record = repo.read_release("staging", "digits")
        assert record is not None
        assert record.model.version == "3"
        assert record.metrics == {"accuracy": 0.97}
        assert [p.name for p in repo.manifest_files("staging", "digits")] == [
            "deployment-digits.yaml",
            "service-digits.yaml",
        ]
        assert repo.apps("staging") == ["digits", "other"]
        assert repo.envs() == ["prod", "staging"]
        assert repo.read_release("prod", "digits") is None
        assert repo.read_pin("staging", "digits") is None
        root = repo.root
    assert not root.exists(), "the temporary clone is removed afterwards"


def test_sparse_checkout_still_reads_other_apps_from_the_commit(env_repo: Path) -> None:
    seeded(env_repo)
    with envrepo.checkout(str(env_repo), sparse=["environments/staging/digits"]) as repo:
        assert (repo.root / "environments/staging/digits/release.yaml").is_file()
        assert not (repo.root / "environments/staging/other").exists()
        other = repo.read_release("staging", "other")
        assert other is not None
        assert other.app == "other"
        assert repo.apps("staging") == ["digits", "other"]


def test_an_empty_repo_gives_an_empty_checkout(env_repo: Path) -> None:
    with envrepo.checkout(str(env_repo)) as repo:
        assert repo.head == ""
        assert repo.apps("staging") == []
        assert repo.read_release("staging", "digits") is None
    assert remote_head(env_repo) == ""


def test_bad_names_are_input_errors_before_any_read(env_repo: Path) -> None:
    seeded(env_repo)
    with envrepo.checkout(str(env_repo)) as repo:
        for env, app in [("../x", "digits"), ("staging", "a/b"), ("Prod", "digits"), ("", "x")]:
            with pytest.raises(InputError):
                repo.read_release(env, app)


def test_unreachable_remote_is_an_external_error(tmp_path: Path) -> None:
    with (
        pytest.raises(ExternalError) as info,
        envrepo.checkout("http://127.0.0.1:9/nothing.git"),
    ):
        pass
    assert info.value.exit_code == 3
    assert "127.0.0.1:9" in str(info.value)


def test_missing_repo_names_the_url(tmp_path: Path) -> None:
    with pytest.raises(ExternalError) as info, envrepo.checkout(str(tmp_path / "nope.git")):
        pass
    assert "nope.git" in str(info.value)


def test_checkout_over_http(env_repo: Path, http_git: HttpGitServer) -> None:
    sha = seeded(env_repo)
    with envrepo.checkout(http_git.url("environments.git")) as repo:
        assert repo.head == sha
        assert repo.apps("staging") == ["digits", "other"]


def test_http_auth_failure_names_no_token(tmp_path: Path) -> None:
    root = tmp_path / "auth"
    bare = make_bare_repo(root / "env.git")
    seeded(bare)
    token = "glpat-SuperSecretToken1234"
    with HttpGitServer(root, auth=("ci", "right-password")) as server:
        environ = {"CI_PLUGINS_GIT_TOKEN": token, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        with (
            pytest.raises(ExternalError) as info,
            envrepo.checkout(server.url("env.git"), environ=environ),
        ):
            pass
        assert any(h.startswith("Basic ") for h in server.auth_headers), "the token was sent"
    message = str(info.value) + str(info.value.hint)
    assert token not in message
    assert "CI_PLUGINS_GIT_TOKEN" in message


def test_http_auth_with_token_from_the_environment(tmp_path: Path) -> None:
    root = tmp_path / "auth"
    bare = make_bare_repo(root / "env.git")
    sha = seeded(bare)
    with HttpGitServer(root, auth=("gitlab-ci-token", "job-token-123")) as server:
        environ = {"CI_JOB_TOKEN": "job-token-123", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        with envrepo.checkout(server.url("env.git"), environ=environ) as repo:
            assert repo.head == sha
            config = (repo.root / ".git" / "config").read_text()
            assert "job-token-123" not in config


def test_credentials_in_the_url_stay_out_of_the_clone_config(tmp_path: Path) -> None:
    root = tmp_path / "auth"
    bare = make_bare_repo(root / "env.git")
    seeded(bare)
    with HttpGitServer(root, auth=("bot", "s3cret-pass")) as server:
        url = server.url("env.git").replace("http://", "http://bot:s3cret-pass@")
        with envrepo.checkout(url) as repo:
            assert "s3cret-pass" not in (repo.root / ".git" / "config").read_text()
            assert "s3cret-pass" not in repo.url


def test_mark_verified_pushes_a_tag_and_no_commit(env_repo: Path) -> None:
    sha = seeded(env_repo)
    envrepo.mark_verified(str(env_repo), branch="main", env="staging", app="digits", commit=sha)
    envrepo.mark_verified(str(env_repo), branch="main", env="staging", app="digits", commit=sha)
    tags = git("tag", "--list", "ci-plugins/verified/*", cwd=env_repo).split()
    assert tags == [f"ci-plugins/verified/staging/digits/{sha}"]
    assert remote_head(env_repo) == sha


def test_mark_verified_needs_a_full_sha(env_repo: Path) -> None:
    seeded(env_repo)
    with pytest.raises(InputError):
        envrepo.mark_verified(
            str(env_repo), branch="main", env="staging", app="digits", commit="abc"
        )
