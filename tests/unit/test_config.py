"""ci-plugins.yaml validation: every problem at once, with key paths and suggestions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_plugins.config.models import SCHEMA_PATH, Config, load_config
from ci_plugins.config.schema.reference import render_reference
from ci_plugins.errors import InputError
from tests.support.cli import EXAMPLE, CliRunner, write_json, write_text


def problems_of(tmp_path: Path, text: str) -> str:
    path = write_text(tmp_path / "ci-plugins.yaml", text)
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_the_example_config_is_valid() -> None:
    config = load_config(EXAMPLE / "ci-plugins.yaml")
    assert config.app == "digits"
    assert config.environment("prod").approval == "merge-request"
    assert config.gate.metrics["accuracy"].min == 0.90


def test_every_problem_is_reported_at_once_with_its_key_path(tmp_path: Path) -> None:
    message = problems_of(
        tmp_path,
        """
app: digits
gate:
  metrics:
    accuracy: {min: high}
  baselin: {}
chart:
  valuse: {}
environments:
  prod: {aproval: merge-request}
""",
    )
    assert message.splitlines() == [
        f"{tmp_path / 'ci-plugins.yaml'} has 4 problems",
        "  gate.metrics.accuracy.min: expected a number, got 'high'",
        "  gate.baselin: unknown key (did you mean 'baseline'?)",
        "  chart.valuse: unknown key (did you mean 'values'?)",
        "  environments.prod.aproval: unknown key (did you mean 'approval'?)",
    ]


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        pytest.param(
            "app: digits\nenviroments: {}\n",
            ["enviroments: unknown key (did you mean 'environments'?)"],
            id="unknown-top-level-key-suggests-the-near-miss",
        ),
        pytest.param("train: {}\n", ["app: required key is missing"], id="missing-app"),
        pytest.param(
            'app: digits\ntrain: {require_gpu: "true"}\ngate: {metrics: {a: {min: "0.9"}}}\n',
            [
                "train.require_gpu: expected true or false, got 'true'",
                "gate.metrics.a.min: expected a number, got '0.9'",
            ],
            id="strings-are-not-coerced-into-booleans-or-numbers",
        ),
        pytest.param(
            "app: digits\nenvironments: {prod: {approval: manual}}\n",
            ["environments.prod.approval: expected 'merge-request', got 'manual'"],
            id="approval-accepts-only-known-values",
        ),
        pytest.param(
            "app: digits\ngate: {metrics: [\n",
            ["is not valid YAML at line 3"],
            id="malformed-yaml-names-the-line",
        ),
        pytest.param("- app\n", ["must hold a mapping of keys, got a list"], id="not-a-mapping"),
    ],
)
def test_a_bad_config_is_an_input_error_that_says_what_and_where(
    tmp_path: Path, text: str, needles: list[str]
) -> None:
    message = problems_of(tmp_path, text)
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        pytest.param("../x", "'../x' is not a DNS-1123 label", id="dot-dot"),
        pytest.param("a/b", "'a/b' is not a DNS-1123 label", id="slash"),
        pytest.param("Digits", "'Digits' is not a DNS-1123 label", id="upper-case"),
        pytest.param("", "must not be empty", id="empty"),
        pytest.param(
            "a" * 54, "'" + "a" * 54 + "' is 54 characters long; at most 53", id="too-long"
        ),
        pytest.param("-x", "'-x' is not a DNS-1123 label", id="leading-dash"),
    ],
)
def test_bad_app_names_are_rejected(tmp_path: Path, name: str, needle: str) -> None:
    message = problems_of(tmp_path, f"app: {json.dumps(name)}\n")
    assert f"app: {needle}" in message


@pytest.mark.parametrize("name", ["../x", "a/b", "Prod", '""', "a" * 64])
def test_bad_environment_names_are_rejected(tmp_path: Path, name: str) -> None:
    message = problems_of(tmp_path, f"app: digits\nenvironments:\n  {name}: {{}}\n")
    assert "environments: key" in message


def test_unknown_environment_lists_the_known_ones() -> None:
    config = load_config(EXAMPLE / "ci-plugins.yaml")
    expected = r"unknown environment 'prd'.*dev, prod, staging"
    with pytest.raises(InputError, match=expected) as caught:
        config.environment("prd")
    assert caught.value.hint is not None
    assert "did you mean 'prod'?" in caught.value.hint


def test_the_published_json_schema_matches_the_config_model() -> None:
    published = json.loads(SCHEMA_PATH.read_text())
    assert published == Config.model_json_schema(), (
        "regenerate with: python -m ci_plugins.config.schema"
    )


def test_the_configuration_reference_is_generated_from_the_schema() -> None:
    reference = (SCHEMA_PATH.parents[3] / "docs" / "configuration.md").read_text()
    assert reference == render_reference(Config.model_json_schema()), (
        "regenerate with: python -m ci_plugins.config.schema"
    )
    assert "| `app` | string | required | DNS-1123 label, at most 53 characters |" in reference
    assert "| `max_drop` | number ≥ 0 (optional) | `null` |" in reference


def test_config_errors_through_the_cli_exit_2_without_traceback(
    tmp_path: Path, cli: CliRunner
) -> None:
    write_text(tmp_path / "ci-plugins.yaml", "app: ../x\ngate: {metrics: {a: {min: 1}}}\n")
    metrics = write_json(tmp_path / "m.json", {"metrics": {"a": 1}})
    result = cli("gate", "--metrics", metrics)
    assert result.exit_code == 2
    assert "ci-plugins.yaml has 1 problem" in result.stderr
    assert "app: '../x' is not a DNS-1123 label" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_explicit_config_that_does_not_exist_is_bad_input(
    tmp_path: Path, cli: CliRunner
) -> None:
    metrics = write_json(tmp_path / "m.json", {"metrics": {"a": 1}})
    result = cli("gate", "--metrics", metrics, "--config", "other.yaml")
    assert result.exit_code == 2
    assert "config file other.yaml does not exist" in result.stderr


@pytest.mark.parametrize("branch", ["--upload-pack=touch /tmp/x", "-main", "a..b", "main.lock", ""])
def test_an_env_repo_branch_git_cannot_take_is_exit_2(tmp_path: Path, branch: str) -> None:
    message = problems_of(tmp_path, f"app: digits\nenv_repo: {{branch: {json.dumps(branch)}}}\n")
    assert "env_repo.branch: " in message


def test_a_branch_starting_with_dashes_is_refused_before_git_runs(
    tmp_path: Path, cli: CliRunner
) -> None:
    bare = tmp_path / "env.git"
    bare.mkdir()
    write_text(
        tmp_path / "ci-plugins.yaml",
        f"app: digits\nenv_repo: {{url: {bare}, branch: '--orphan'}}\n"
        "environments: {dev: {}}\n",
    )
    result = cli("status")
    assert result.exit_code == 2, result.stderr
    assert "env_repo.branch: '--orphan' starts with '-'" in result.stderr
    assert list(bare.iterdir()) == []


@pytest.mark.parametrize(
    ("entrypoint", "fixed"),
    [("model.py:build", "model:build"), ("src/net.py:make", "src.net:make")],
)
def test_an_entrypoint_naming_a_file_says_drop_the_py(
    tmp_path: Path, entrypoint: str, fixed: str
) -> None:
    message = problems_of(tmp_path, f"app: digits\ntrain: {{entrypoint: {entrypoint!r}}}\n")
    assert f"train.entrypoint: {entrypoint!r} names a file: drop the .py (use {fixed!r}" in message
    assert "requirements" not in message
