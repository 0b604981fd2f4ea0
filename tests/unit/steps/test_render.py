"""ci-plugins render through the real CLI and the real helm."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import REPO, CliRunner, write_json, write_text
from tests.support.envrepo import make_bare_repo, seed_files

TOOLS_BIN = REPO / ".tools" / "bin"
ARTIFACT = "oci://registry.example.com/ml/digits@sha256:" + "b" * 64
MANIFEST: dict[str, Any] = {
    "app": "digits",
    "model_version": "20260101.1",
    "model_digest": "sha256:" + "a" * 64,
    "source_commit": "0123456789abcdef0123456789abcdef01234567",
    "artifact": ARTIFACT,
}
CONFIG = """\
app: digits
chart:
  values:
    resources: {requests: {cpu: 250m}}
    podAnnotations: {team: ml}
environments:
  dev:
    namespace: ml-dev
  staging:
    namespace: ml-staging
    values: {replicaCount: 2, podAnnotations: {team: ml-staging}}
  prod:
    namespace: ml-prod
    values: {replicaCount: 3, pdb: {enabled: true}}
"""


def path_env() -> dict[str, str]:
    return {"PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_text(tmp_path / "ci-plugins.yaml", CONFIG)
    write_json(tmp_path / "model-manifest.json", MANIFEST)
    return tmp_path


def render(cli: CliRunner, *args: str, env: dict[str, str] | None = None) -> Any:
    return cli(
        "render", "--manifest", "model-manifest.json", *args, "--json", env=env or path_env()
    )


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_render_writes_one_file_per_object_with_layered_values(
    project: Path, cli: CliRunner
) -> None:
    result = render(cli, "--env", "staging", "--output-dir", "out")
    assert result.exit_code == 0, result.stderr
    out = project / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "deployment-digits-model-server.yaml",
        "render-info.json",
        "service-digits-model-server.yaml",
        "serviceaccount-digits-model-server.yaml",
    ]
    deployment = load(out / "deployment-digits-model-server.yaml")
    assert deployment["metadata"]["namespace"] == "ml-staging"
    assert deployment["spec"]["replicas"] == 2  # environment values
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"]["team"] == "ml-staging"  # env over chart.values
    assert template["metadata"]["annotations"]["ci-plugins.dev/model-version"] == "20260101.1"
    container = template["spec"]["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}
    assert template["spec"]["initContainers"][0]["args"][1] == ARTIFACT.removeprefix("oci://")
    info = json.loads((out / "render-info.json").read_text(encoding="utf-8"))
    chart_yaml = load(REPO / "charts" / "model-server" / "Chart.yaml")
    assert info["chart"] == {"name": "model-server", "version": chart_yaml["version"]}
    assert info["namespace"] == "ml-staging"
    assert info["artifact"] == ARTIFACT
    assert info["image"].startswith("tensorflow/serving:2.14.1@sha256:")
    assert info["values_digest"].startswith("sha256:")
    assert result.json["files"] == info["files"]


def test_render_twice_gives_identical_bytes_and_replaces_the_directory(
    project: Path, cli: CliRunner
) -> None:
    assert render(cli, "--env", "prod", "--output-dir", "a").exit_code == 0
    write_text(project / "b" / "render-info.json", "{}")
    write_text(project / "b" / "stale-object.yaml", "kind: Stale\n")
    assert render(cli, "--env", "prod", "--output-dir", "b").exit_code == 0
    first = {p.name: p.read_bytes() for p in (project / "a").iterdir()}
    second = {p.name: p.read_bytes() for p in (project / "b").iterdir()}
    assert first == second
    assert "poddisruptionbudget-digits-model-server.yaml" in first
    assert b"creationTimestamp" not in b"".join(first.values())
    assert not [p for p in project.iterdir() if p.name.startswith((".a.", ".b."))]


def test_render_refuses_to_replace_a_directory_that_is_not_a_render(
    project: Path, cli: CliRunner
) -> None:
    write_text(project / "src" / "keep.py", "print('mine')\n")
    result = render(cli, "--env", "dev", "--output-dir", "src")
    assert result.exit_code == 2
    assert "refusing to replace src" in result.stderr
    assert (project / "src" / "keep.py").exists()


def test_diff_against_summarises_images_replicas_and_resources(
    project: Path, cli: CliRunner
) -> None:
    assert render(cli, "--env", "dev", "--output-dir", "dev").exit_code == 0
    summary_file = project / "summary.md"
    result = render(
        cli,
        "--env",
        "prod",
        "--output-dir",
        "prod",
        "--diff-against",
        "dev",
        env={**path_env(), "CI_PLUGINS_SUMMARY_FILE": str(summary_file)},
    )
    assert result.exit_code == 0, result.stderr
    summary = (project / "prod" / "render-diff.md").read_text(encoding="utf-8")
    assert "Deployment/digits-model-server: `1` → `3`" in summary
    assert "PodDisruptionBudget/digits-model-server" in summary
    assert "**Objects added**" in summary
    assert summary.strip() in summary_file.read_text(encoding="utf-8")


def test_diff_against_env_compares_with_what_the_environment_repo_records(
    project: Path, cli: CliRunner
) -> None:
    bare = make_bare_repo(project / "remotes" / "environments.git")
    env = {**path_env(), "CI_PLUGINS_ENV_REPO": str(bare)}
    first = render(cli, "--env", "prod", "--output-dir", "first", "--diff-against-env", env=env)
    assert first.exit_code == 0, first.stderr
    assert "0 objects" in first.stderr  # nothing recorded yet: every object is new
    assert "**Objects added**" in (project / "first" / "render-diff.md").read_text()
    recorded = {
        f"environments/prod/digits/manifests/{path.name}": path.read_text(encoding="utf-8")
        for path in (project / "first").glob("*.yaml")
    }
    seed_files(bare, recorded)
    write_text(project / "ci-plugins.yaml", CONFIG.replace("replicaCount: 3", "replicaCount: 5"))

    second = render(cli, "--env", "prod", "--output-dir", "second", "--diff-against-env", env=env)

    assert second.exit_code == 0, second.stderr
    summary = (project / "second" / "render-diff.md").read_text(encoding="utf-8")
    assert "Deployment/digits-model-server: `3` → `5`" in summary
    assert "Objects added" not in summary


def test_diff_against_an_unreachable_env_repo_warns_and_still_renders(
    project: Path, cli: CliRunner
) -> None:
    env = {**path_env(), "CI_PLUGINS_ENV_REPO": str(project / "no-such-repo.git")}
    result = render(cli, "--env", "prod", "--output-dir", "out", "--diff-against-env", env=env)
    assert result.exit_code == 0, result.stderr
    assert "warning: no diff against prod: cannot read the environment repo" in result.stderr
    assert (project / "out" / "deployment-digits-model-server.yaml").exists()
    assert "No diff against prod" in (project / "out" / "render-diff.md").read_text()


def test_diff_against_env_without_an_env_repo_is_exit_2(project: Path, cli: CliRunner) -> None:
    result = render(cli, "--env", "prod", "--output-dir", "out", "--diff-against-env")
    assert result.exit_code == 2
    assert "no environment repo: pass --env-repo URL" in result.stderr


def test_render_does_not_import_tensorflow(project: Path) -> None:
    code = (
        "import sys\n"
        "from ci_plugins.cli import main\n"
        "code = main(['render', '--manifest', 'model-manifest.json', '--env', 'dev',"
        " '--output-dir', 'out'])\n"
        "assert code == 0, code\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env={**os.environ, **path_env()},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "manifest", "env", "needles"),
    [
        pytest.param(
            CONFIG.replace("values: {replicaCount: 2,", "values: {replicaCount: two,"),
            MANIFEST,
            "staging",
            ["replicaCount: got string, want integer", "values.schema.json"],
            id="wrong-value-type-naming-the-key",
        ),
        pytest.param(CONFIG, MANIFEST, "qa", ["unknown environment 'qa'"], id="unknown-env"),
        pytest.param(
            CONFIG,
            {**MANIFEST, "app": "other"},
            "dev",
            ["is for app 'other', but ci-plugins.yaml says app 'digits'"],
            id="manifest-of-another-app",
        ),
        pytest.param(
            CONFIG.replace("chart:\n", "chart:\n  path: nope\n"),
            MANIFEST,
            "dev",
            ["chart path nope does not exist"],
            id="missing-chart-path",
        ),
    ],
)
def test_bad_input_is_exit_2_and_renders_nothing(
    project: Path,
    cli: CliRunner,
    config: str,
    manifest: dict[str, Any],
    env: str,
    needles: list[str],
) -> None:
    write_text(project / "ci-plugins.yaml", config)
    write_json(project / "model-manifest.json", manifest)
    result = render(cli, "--env", env, "--output-dir", "out")
    assert result.exit_code == 2
    for needle in needles:
        assert needle in result.stderr
    assert result.json["ok"] is False
    assert not (project / "out").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "does not exist", id="missing"),
        pytest.param("{not json", "is not valid JSON", id="corrupt"),
        pytest.param(
            '{"app": "digits"}', "model_version: required key is missing", id="incomplete"
        ),
    ],
)
def test_bad_model_manifest_is_exit_2(
    project: Path, cli: CliRunner, content: str | None, message: str
) -> None:
    manifest = project / "model-manifest.json"
    manifest.unlink()
    if content is not None:
        write_text(manifest, content)
    result = render(cli, "--env", "dev", "--output-dir", "out")
    assert result.exit_code == 2
    assert message in result.stderr


def test_helm_missing_is_exit_3_saying_how_to_install(project: Path, cli: CliRunner) -> None:
    bare = project / "bin"
    bare.mkdir()
    assert shutil.which("helm", path=str(bare)) is None
    result = render(cli, "--env", "dev", "--output-dir", "out", env={"PATH": str(bare)})
    assert result.exit_code == 3
    assert "helm is not installed" in result.stderr
    assert "https://helm.sh/docs/intro/install/" in result.stderr
    assert "Traceback" not in result.stderr


def broken_chart(project: Path, template: str) -> None:
    chart = project / "broken"
    shutil.copytree(REPO / "charts" / "model-server", chart)
    write_text(chart / "templates" / "boom.yaml", template)
    write_text(project / "ci-plugins.yaml", CONFIG.replace("chart:\n", "chart:\n  path: broken\n"))


def test_helm_failing_is_exit_3_with_helms_message(project: Path, cli: CliRunner) -> None:
    broken_chart(project, "{{ .Values.model.name | nosuchfunction }}\n")
    result = render(cli, "--env", "dev", "--output-dir", "out")
    assert result.exit_code == 3
    assert "helm template" in result.stderr
    assert 'function "nosuchfunction" not defined' in result.stderr
    assert not (project / "out").exists()


def test_a_chart_refusing_its_values_is_exit_2_with_the_charts_words(
    project: Path, cli: CliRunner
) -> None:
    broken_chart(project, '{{ fail "the chart refuses: boom" }}\n')
    result = render(cli, "--env", "dev", "--output-dir", "out")
    assert result.exit_code == 2
    assert "the chart refused its values: the chart refuses: boom" in result.stderr
    assert not (project / "out").exists()
