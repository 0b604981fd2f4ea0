"""The one parser of rendered manifests: rules shared by render, promote, validate, verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_plugins.render.manifests import ManifestError, parse_objects, read_manifest_dir

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("kind: [unclosed\n", "x.yaml is not valid YAML (", id="not-yaml"),
        pytest.param("just a string\n", "x.yaml is not a Kubernetes object", id="scalar"),
        pytest.param("---\n---\n", "x.yaml holds no Kubernetes object", id="empty"),
        pytest.param(
            "kind: Service\nmetadata: {}\n",
            "x.yaml holds an object without kind or metadata.name",
            id="no-name",
        ),
        pytest.param(
            "kind: Service\nmetadata: {name: s}\n",
            "x.yaml holds a Service without apiVersion",
            id="no-api-version",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Service\nmetadata: {name: a/b}\n",
            "x.yaml holds Service 'a/b': an object name must be one path segment",
            id="name-with-slash",
        ),
    ],
)
def test_each_rule_names_the_file(text: str, problem: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_objects(text, file="x.yaml")
    assert str(info.value).startswith(problem)
    assert info.value.exit_code == 2


def test_a_list_contributes_its_items() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
    text += "  metadata: {name: a}\n"
    assert [o["metadata"]["name"] for o in parse_objects(text, file="l.yaml")] == ["a"]


def test_a_directory_lists_every_bad_file_and_never_follows_links(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(CONFIGMAP)
    (tmp_path / "bad.yaml").write_text("kind: [\n")
    outside = tmp_path.parent / "outside.yaml"
    outside.write_text(CONFIGMAP)
    (tmp_path / "link.yaml").symlink_to(outside)
    (tmp_path / "notes.md").write_text("not a manifest")
    with pytest.raises(ManifestError) as info:
        read_manifest_dir(tmp_path, prefix="manifests/")
    assert [p.file for p in info.value.found] == ["manifests/bad.yaml", "manifests/link.yaml"]
    assert "manifests/link.yaml: is a symbolic link" in str(info.value)
    (tmp_path / "bad.yaml").unlink()
    (tmp_path / "link.yaml").unlink()
    files = read_manifest_dir(tmp_path)
    assert [(f.name, f.data) for f in files] == [("good.yaml", CONFIGMAP.encode())]


def test_a_missing_directory_has_no_manifests(tmp_path: Path) -> None:
    assert read_manifest_dir(tmp_path / "absent") == []
