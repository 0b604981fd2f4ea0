"""Bad template input fails early and says what to fix: wrong or missing inputs, a GPU asked
for on a runner without one, environment-repo credentials missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.envrepo import HttpGitServer, make_bare_repo
from tests.support.pipelines import (
    CHECKOUT_SHA,
    INSTALL_UNDER_TEST,
    Act,
    calls,
    gitlab_ci_local,
    jenkins,
    make_project,
)


def gitlab_project(tmp_path: Path, include: dict[str, object]) -> Path:
    ci = yaml.safe_dump({"stages": ["build", "test", "deploy"], "include": [include]})
    return make_project(
        tmp_path / "p", ["pipelines/gitlab", "examples/digits"], {".gitlab-ci.yml": ci}
    )


@pytest.mark.parametrize(
    ("template", "inputs", "message"),
    [
        pytest.param(
            "train.yml",
            {"require-gpu": "maybe"},
            "`require-gpu` input: provided value is not a boolean",
            id="boolean-as-string",
        ),
        pytest.param(
            "train.yml", {"tags": "gpu"}, "`tags` input: provided value is not a array", id="tags"
        ),
        pytest.param(
            "verify.yml",
            {"env": "dev", "verify-timeout": "10m"},
            "`verify-timeout` input: provided value is not a number",
            id="number",
        ),
        pytest.param(
            "promote.yml",
            {},
            "`env` input: required value has not been provided",
            id="missing-required",
        ),
        pytest.param(
            "promote.yml",
            {"env": "dev", "source": "staging"},
            "`source` input: `staging` cannot be used because it is not in the list of allowed",
            id="not-an-option",
        ),
    ],
)
def test_gitlab_rejects_a_bad_input_naming_it(
    tmp_path: Path, template: str, inputs: dict[str, object], message: str
) -> None:
    project = gitlab_project(
        tmp_path, {"local": f"pipelines/gitlab/templates/{template}", "inputs": inputs}
    )
    result = gitlab_ci_local(project, "--list")
    assert result.exit_code != 0
    assert message in result.output, str(result)


@pytest.mark.slow
def test_gitlab_train_job_on_a_runner_without_gpu_says_so(tmp_path: Path) -> None:
    project = gitlab_project(
        tmp_path,
        {
            "local": "pipelines/gitlab/templates/train.yml",
            "inputs": {"project-dir": "examples/digits", "install": INSTALL_UNDER_TEST},
        },
    )
    result = gitlab_ci_local(project, "train")
    assert result.exit_code == 1
    assert "FAIL  train" in result.output
    assert "this runner has no GPU visible to TensorFlow" in result.output
    assert "nothing was trained" in result.output


@pytest.mark.slow
def test_github_action_with_a_wrongly_typed_input_fails_naming_it(tmp_path: Path) -> None:
    """GitHub itself rejects wrongly typed workflow_call inputs (act does not emulate that);
    composite-action inputs are strings, so the CLI checks them and names the input."""
    workflow = (
        "on: push\npermissions: {contents: read}\njobs:\n  verify:\n"
        "    runs-on: ubuntu-latest\n    steps:\n"
        f"      - uses: actions/checkout@{CHECKOUT_SHA} # v4.2.2\n"
        "      - uses: ci-plugins/ci-plugins/pipelines/github/verify@v0.1.0\n"
        "        with: {working-directory: examples/digits, env: dev, timeout: soon,"
        f" install: '{INSTALL_UNDER_TEST}'}}\n"
    )
    project = make_project(
        tmp_path / "p", ["examples/digits"], {".github/workflows/verify.yml": workflow}
    )
    result = Act.create(tmp_path / "act", project)("push", labels=("ubuntu-latest",))
    assert result.exit_code != 0
    assert "CI_PLUGINS_TIMEOUT='soon' is not a valid value for --timeout" in result.output, str(
        result
    )


def test_jenkins_step_without_its_required_key_fails_naming_it(tmp_path: Path) -> None:
    project = make_project(tmp_path / "ws", ["examples/digits"])
    script = tmp_path / "Jenkinsfile"
    script.write_text("node { ciPluginsRender(projectDir: 'examples/digits') }\n", encoding="utf-8")
    record = jenkins(
        tmp_path / "run",
        script,
        workspace=project,
        execute=True,
        env={"CI_PLUGINS_INSTALL_COMMAND": INSTALL_UNDER_TEST},
    )
    assert record["result"] == "FAILURE"
    assert record["error"] == "ci-plugins render failed with exit code 2 (see the log above)"
    render = [c for c in calls(record, "sh") if c["args"].get("label") == "ci-plugins render"]
    assert [c["status"] for c in render] == [2]  # bad input is not retried
    assert "the following arguments are required: --env" in record["log"]


@pytest.mark.slow
def test_gitlab_promote_without_env_repo_credentials_names_the_variable(tmp_path: Path) -> None:
    """The promote job of the root pipeline, with an environment repo that needs a token."""
    project = make_project(
        tmp_path / "p", [".gitlab-ci.yml", "pipelines/gitlab", "examples/digits"]
    )
    manifest = project / "examples/digits/train-output/model-manifest.json"
    manifest.parent.mkdir(parents=True)
    root = tmp_path / "remotes"
    make_bare_repo(root / "environments.git")
    with HttpGitServer(root, auth=("bot", "the-token")) as server:
        result = gitlab_ci_local(
            project,
            "promote-staging",
            variables={
                "CI_PLUGINS_INSTALL_COMMAND": INSTALL_UNDER_TEST,
                "CI_PLUGINS_ENV_REPO": server.url("environments.git"),
            },
        )
    assert result.exit_code == 1
    assert "set CI_PLUGINS_GIT_TOKEN" in result.output, str(result)
    assert "the-token" not in result.output
