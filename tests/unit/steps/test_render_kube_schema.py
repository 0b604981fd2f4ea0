"""render and validate check every object against the Kubernetes schemas (#17 item 13)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.support.cli import REPO, CliResult, CliRunner, write_json, write_text
from tests.support.envrepo import git

TOOLS_BIN = REPO / ".tools" / "bin"
MANIFEST = {
    "app": "digits",
    "model_version": "7",
    "model_digest": "sha256:" + "a" * 64,
    "artifact": "registry.example.com/ml/digits@sha256:" + "b" * 64,
}
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  {{- toYaml .Values.spec | nindent 2 }}
  selector: {matchLabels: {app: digits}}
  template:
    metadata: {labels: {app: digits}}
    spec:
      containers:
        - name: model-server
          image: tensorflow/serving
          ports: [{containerPort: {{ .Values.port }}}]
"""
APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: {{ .Release.Name }}}
spec: {project: default}
"""


def user_chart(root: Path) -> Path:
    chart = root / "chart"
    write_text(chart / "Chart.yaml", "apiVersion: v2\nname: own\nversion: 1.0.0\n")
    write_text(chart / "values.yaml", "spec: {replicas: 1}\nport: 8501\n")
    write_text(chart / "templates" / "deployment.yaml", DEPLOYMENT)
    write_text(chart / "templates" / "application.yaml", APPLICATION)
    return chart


def project(root: Path, values: dict[str, object], **render: object) -> Path:
    config = {
        "app": "digits",
        "chart": {"path": str(user_chart(root))},
        "render": render,
        "environments": {"dev": {"namespace": "ml-dev", "values": values}},
    }
    write_text(root / "ci-plugins.yaml", yaml.safe_dump(config))
    write_json(root / "model-manifest.json", MANIFEST)
    return root


def render(cli: CliRunner, root: Path) -> CliResult:
    env = {"PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return cli(
        "render", "--manifest", "model-manifest.json", "--env", "dev", "--output-dir", "out",
        cwd=root, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        pytest.param(
            {"spec": {"replica": 2}},
            "deployment-digits.yaml: Deployment/digits: spec.replica: unknown field",
            id="unknown-field",
        ),
        pytest.param(
            {"spec": {"replicas": "three"}},
            "deployment-digits.yaml: Deployment/digits: spec.replicas: expected integer, "
            "got 'three'",
            id="wrong-type",
        ),
        pytest.param(
            {"port": '"http-port"'},
            "spec.template.spec.containers[0].ports[0].containerPort: expected integer, "
            "got 'http-port'",
            id="wrong-type-deep",
        ),
    ],
)
def test_an_object_kubernetes_would_reject_is_exit_2_and_nothing_is_written(
    tmp_path: Path, cli: CliRunner, values: dict[str, object], problem: str
) -> None:
    root = project(tmp_path, values)
    result = render(cli, root)
    assert result.exit_code == 2, result.stderr
    assert "the chart rendered for dev: 1 field Kubernetes 1.37 would reject" in (result.stderr)
    assert problem in result.stderr
    assert not (root / "out").exists()


def test_custom_resources_without_a_schema_are_skipped_with_a_note(
    tmp_path: Path, cli: CliRunner
) -> None:
    root = project(tmp_path, {}, kubernetes_version="1.30")
    result = render(cli, root)
    assert result.exit_code == 0, result.stderr
    assert (
        "no Kubernetes 1.30 schema for Application (argoproj.io/v1alpha1): not checked"
        in result.stderr
    )
    assert (root / "out" / "deployment-digits.yaml").is_file()


def test_a_kubernetes_version_without_schemas_is_exit_2(tmp_path: Path, cli: CliRunner) -> None:
    root = project(tmp_path, {}, kubernetes_version="1.99")
    result = render(cli, root)
    assert result.exit_code == 2
    assert "render.kubernetes_version '1.99': no Kubernetes schemas for it" in result.stderr


def test_validate_refuses_an_unknown_field_in_the_environment_repo(
    tmp_path: Path, cli: CliRunner
) -> None:
    repo = tmp_path / "environments"
    base = repo / "environments" / "dev" / "digits"
    record = {
        "apiVersion": "ci-plugins/v1",
        "kind": "Release",
        "app": "digits",
        "environment": "dev",
        "model": {"version": "7", "digest": "sha256:" + "a" * 64},
        "metrics": {"accuracy": 0.97},
    }
    write_text(base / "release.yaml", yaml.safe_dump(record))
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "digits"},
           "spec": {"ports": [{"port": 80}], "selectr": {"app": "digits"}}}  # fmt: skip
    write_text(base / "manifests" / "service-digits.yaml", yaml.safe_dump(bad))
    git("init", "--quiet", "--initial-branch", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "seed", cwd=repo)

    result = cli("validate", "--kubernetes-version", "1.31", cwd=repo)

    assert result.exit_code == 2, result.stderr
    assert (
        "environments/dev/digits/manifests/service-digits.yaml: Service/digits: "
        "spec.selectr: unknown field" in result.stderr
    )
    assert "Kubernetes 1.31" in result.stderr
