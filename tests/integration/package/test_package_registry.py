"""ci-plugins package against a real registry (Debian's docker-registry on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oras.client
import pytest

from ci_plugins.model.digest import directory_digest
from tests.support.cli import CliRunner, write_json, write_text
from tests.support.registry import Registry, free_port, start_registry

PASSWORD = "s3cret-registry-pass"
MANIFEST: dict[str, Any] = {
    "app": "digits",
    "model_version": "20260101.1",
    "model_digest": "",  # set by the project fixture from the files
    "source_commit": "0123456789abcdef0123456789abcdef01234567",
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = start_registry(tmp_path_factory.mktemp("registry"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def private_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = start_registry(tmp_path_factory.mktemp("private"), users={"ci": PASSWORD})
    yield server
    server.stop()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_text(tmp_path / "ci-plugins.yaml", "app: digits\nenvironments: {dev: {}}\n")
    version = tmp_path / "model" / MANIFEST["model_version"]
    write_text(version / "saved_model.pb", "graph bytes")
    write_text(version / "variables" / "variables.index", "index")
    write_text(tmp_path / "model" / "0" / "saved_model.pb", "an older version, not pushed")
    MANIFEST["model_digest"] = directory_digest(version)
    write_json(tmp_path / "model-manifest.json", MANIFEST)
    return tmp_path


def package(cli: CliRunner, registry: str, env: dict[str, str] | None = None) -> Any:
    return cli(
        "package",
        "--model-dir",
        "model",
        "--manifest",
        "model-manifest.json",
        "--registry",
        registry,
        "--json",
        env=env,
    )


def manifest_of(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project / "model-manifest.json").read_text("utf-8"))
    return data


def test_push_records_a_digest_pinned_artifact_that_pulls_back_as_the_model(
    project: Path, cli: CliRunner, registry: Registry
) -> None:
    result = package(cli, registry.repository("ml/digits"))
    assert result.exit_code == 0, result.stderr
    artifact = manifest_of(project)["artifact"]
    assert artifact.startswith(f"oci://{registry.host}/ml/digits@sha256:")
    assert result.json["artifact"] == artifact
    client = oras.client.OrasClient(insecure=True)
    ref = artifact.removeprefix("oci://")
    layer = client.get_manifest(ref)["layers"][0]
    assert layer["annotations"]["org.opencontainers.image.title"] == "model"
    assert layer["annotations"]["io.deis.oras.content.unpack"] == "true"
    # oras unpacks the layer into <outdir>/model, as the chart's init container does.
    client.pull(target=ref, outdir=str(project / "pulled"))
    pulled = project / "pulled" / "model"
    assert [p.name for p in pulled.iterdir()] == ["20260101.1"]  # only the manifest's version
    assert directory_digest(pulled / "20260101.1") == MANIFEST["model_digest"]
    tagged = client.get_manifest(registry.repository("ml/digits:20260101.1"))
    assert tagged["annotations"]["dev.ci-plugins.model-version"] == "20260101.1"


def test_pushing_the_same_model_twice_gives_the_same_digest(
    project: Path, cli: CliRunner, registry: Registry
) -> None:
    assert package(cli, registry.repository("ml/twice")).exit_code == 0
    first = manifest_of(project)["artifact"]
    write_json(project / "model-manifest.json", MANIFEST)
    assert package(cli, registry.repository("ml/twice")).exit_code == 0
    assert manifest_of(project)["artifact"] == first


def test_unreachable_registry_is_exit_3_and_leaves_the_manifest_alone(
    project: Path, cli: CliRunner
) -> None:
    result = package(cli, f"127.0.0.1:{free_port()}/ml/digits")
    assert result.exit_code == 3
    assert "is unreachable at http://127.0.0.1:" in result.stderr
    assert "Connection refused" in result.stderr
    assert manifest_of(project) == MANIFEST


@pytest.mark.parametrize(
    ("credentials", "message", "exit_code"),
    [
        pytest.param({}, "requires credentials and none were given", 2, id="none"),
        pytest.param(
            {"CI_PLUGINS_REGISTRY_USERNAME": "ci", "CI_PLUGINS_REGISTRY_PASSWORD": "wrong-pass"},
            "refused the credentials of user 'ci' (HTTP 401)",
            3,
            id="wrong",
        ),
    ],
)
def test_denied_push_names_the_variables_missing_is_2_refused_is_3(
    project: Path,
    cli: CliRunner,
    private_registry: Registry,
    credentials: dict[str, str],
    message: str,
    exit_code: int,
) -> None:
    result = package(cli, private_registry.repository("ml/digits"), env=credentials)
    assert result.exit_code == exit_code
    assert "push denied" in result.stderr
    assert message in result.stderr
    assert "CI_PLUGINS_REGISTRY_PASSWORD" in result.stderr
    assert "wrong-pass" not in result.stderr + result.stdout
    assert manifest_of(project) == MANIFEST


def test_right_credentials_push_and_never_show_the_password(
    project: Path, cli: CliRunner, private_registry: Registry
) -> None:
    env = {"CI_PLUGINS_REGISTRY_USERNAME": "ci", "CI_PLUGINS_REGISTRY_PASSWORD": PASSWORD}
    result = package(cli, private_registry.repository("ml/digits"), env=env)
    assert result.exit_code == 0, result.stderr
    assert manifest_of(project)["artifact"].startswith(f"oci://{private_registry.host}/")
    assert PASSWORD not in result.stderr + result.stdout


def test_image_method_without_a_docker_engine_is_exit_3(project: Path, cli: CliRunner) -> None:
    write_text(
        project / "ci-plugins.yaml",
        "app: digits\npackage:\n  method: image\n  registry: registry.example.com/ml/digits\n",
    )
    dead = f"tcp://127.0.0.1:{free_port()}"
    result = cli(
        "package", "--model-dir", "model", "--manifest", "model-manifest.json",
        env={"DOCKER_HOST": dead},
    )  # fmt: skip
    assert result.exit_code == 3
    assert f"no Docker engine reachable at {dead}" in result.stderr
    assert "package.method: oci-artifact needs none" in result.stderr
    assert manifest_of(project) == MANIFEST


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        pytest.param([], "app: digits\n", "no registry to push the model to", id="no-registry"),
        pytest.param(
            ["--registry", "digits"], "app: digits\n", "invalid registry reference", id="bad-ref"
        ),
        pytest.param(
            ["--registry", "localhost:99999/ml/digits"],
            "app: digits\n",
            "port '99999' is not a number from 1 to 65535",
            id="port-out-of-range",
        ),
        pytest.param(
            [],
            "app: digits\npackage: {registry: 'registry.example.com:0/ml/digits'}\n",
            "port '0' is not a number from 1 to 65535",
            id="config-port-zero",
        ),
        pytest.param(
            ["--registry", "r.example.com/x"],
            "app: other\n",
            "is for app 'digits', but ci-plugins.yaml says app 'other'",
            id="other-app",
        ),
    ],
)
def test_bad_package_input_is_exit_2(
    project: Path, cli: CliRunner, args: list[str], config: str, message: str
) -> None:
    write_text(project / "ci-plugins.yaml", config)
    result = cli("package", "--model-dir", "model", "--manifest", "model-manifest.json", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_model_files_that_do_not_match_the_manifest_are_exit_2(
    project: Path, cli: CliRunner, registry: Registry
) -> None:
    write_text(project / "model" / "20260101.1" / "saved_model.pb", "retrained meanwhile")
    result = package(cli, registry.repository("ml/digits"))
    assert result.exit_code == 2
    assert "do not match the model manifest" in result.stderr
    assert MANIFEST["model_digest"] in result.stderr
    assert manifest_of(project) == MANIFEST


def test_model_dir_without_the_manifests_version_is_exit_2(
    project: Path, cli: CliRunner, registry: Registry
) -> None:
    (project / "model" / "20260101.1" / "saved_model.pb").unlink()
    result = package(cli, registry.repository("ml/digits"))
    assert result.exit_code == 2
    assert "holds no version 20260101.1 of the model" in result.stderr
