"""ci_plugins.render.chart as promote calls it, and the render-diff summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ci_plugins.config.models import Config
from ci_plugins.errors import ExternalError, InputError
from ci_plugins.model.manifest import ModelManifest
from ci_plugins.render import chart as rendering
from ci_plugins.render.diff import diff_rendered, read_rendered
from tests.support.cli import REPO, write_text

DIGEST = "sha256:" + "a" * 64
IMAGE = "registry.example.com/ml/digits-serving@sha256:" + "c" * 64


@pytest.fixture(autouse=True)
def helm_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}")


def config(**environments: dict[str, object]) -> Config:
    return Config.model_validate({"app": "digits", "environments": environments})


def manifest(**extra: object) -> ModelManifest:
    return ModelManifest.model_validate(
        {"app": "digits", "model_version": "3", "model_digest": DIGEST, **extra}
    )


def test_render_uses_the_shipped_chart_and_the_serving_image(tmp_path: Path) -> None:
    info = rendering.render(
        config(dev={"namespace": "ml-dev"}), manifest(image=IMAGE), "dev", tmp_path / "out"
    )
    assert info.image == IMAGE
    assert info.artifact is None
    assert info.chart["name"] == "model-server"
    written = json.loads((tmp_path / "out" / "render-info.json").read_text(encoding="utf-8"))
    assert written == info.as_json()
    assert set(written) >= {
        "app", "environment", "namespace", "chart", "values_digest",
        "model_version", "model_digest", "artifact", "image",
    }  # fmt: skip


def test_an_image_beside_an_oci_artifact_leaves_the_environments_image_alone(
    tmp_path: Path,
) -> None:
    # What promote passes on: the release record's serving image next to the artifact.
    artifact = "oci://registry.example.com/ml/digits@" + DIGEST
    served = manifest(artifact=artifact, image="tensorflow/serving:2.14.1@" + DIGEST)
    prod = config(prod={"values": {"gpu": {"enabled": True}}})
    info = rendering.render(prod, served, "prod", tmp_path / "out")
    assert info.image == "tensorflow/serving:2.14.1-gpu"
    assert info.artifact == artifact


def test_namespace_defaults_to_the_environment_name(tmp_path: Path) -> None:
    info = rendering.render(config(qa={}), manifest(), "qa", tmp_path / "out")
    assert info.namespace == "qa"


def test_values_digest_changes_with_the_values_only(tmp_path: Path) -> None:
    base = rendering.render(config(dev={}), manifest(), "dev", tmp_path / "a")
    again = rendering.render(config(dev={}), manifest(), "dev", tmp_path / "b")
    more = rendering.render(
        config(dev={"values": {"replicaCount": 2}}), manifest(), "dev", tmp_path / "c"
    )
    assert base.values_digest == again.values_digest != more.values_digest


def test_a_failed_render_leaves_the_previous_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rendering.render(config(dev={}), manifest(), "dev", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = config(dev={"values": {"replicaCount": "many"}})
    with pytest.raises(InputError, match=r"values\.schema\.json") as caught:
        rendering.render(bad, manifest(), "dev", out)
    assert caught.value.problems == ["replicaCount: got string, want integer"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_explicit_chart_argument_wins_and_helm_errors_are_external(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    write_text(chart / "Chart.yaml", "apiVersion: v2\nname: tiny\nversion: 1.2.3\n")
    write_text(chart / "templates" / "cm.yaml", "{{ .Values.nope.deeper }}\n")
    with pytest.raises(ExternalError, match=r"nil pointer|nope"):
        rendering.render(config(dev={}), manifest(), "dev", tmp_path / "out", chart=chart)


def test_deep_merge_merges_maps_and_replaces_everything_else() -> None:
    merged = rendering.deep_merge(
        {"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2], "e": None}, "d": {"x": 1}}
    )
    assert merged == {"a": {"b": 1, "c": [2], "e": None}, "d": {"x": 1}}


def test_diff_reports_rbac_rules_and_model_versions(tmp_path: Path) -> None:
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    rendering.render(config(dev={}), manifest(), "dev", old_dir)
    rendering.render(config(dev={}), manifest(model_version="4"), "dev", new_dir)
    write_text(
        new_dir / "role-reader.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader}\n"
        "rules: [{verbs: [get, list], resources: [configmaps]}]\n",
    )
    diff = diff_rendered(read_rendered(old_dir), read_rendered(new_dir))
    text = diff.markdown(title="digits in dev")
    assert "model version `3` → `4`" in text
    assert "Role/reader added: get,list on configmaps" in text
    same = diff_rendered(read_rendered(old_dir), read_rendered(old_dir))
    assert "No changes" in same.markdown(title="t")
