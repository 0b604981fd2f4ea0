"""ci_plugins.model.packaging: registry references, reproducible tarballs, build contexts."""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
from pathlib import Path

import pytest

from ci_plugins.errors import InputError
from ci_plugins.model import packaging
from ci_plugins.model.manifest import ModelManifest, read_manifest
from tests.support.cli import write_text

DIGEST = "sha256:" + "a" * 64


def saved_model(root: Path) -> Path:
    write_text(root / "1" / "saved_model.pb", "graph")
    write_text(root / "1" / "variables" / "variables.index", "index")
    return root


def test_tarball_of_one_version_holds_only_that_version(tmp_path: Path) -> None:
    model = saved_model(tmp_path / "model")
    write_text(model / "2" / "saved_model.pb", "newer")
    tarball = packaging.model_tarball(model, tmp_path / "m.tgz", version="2")
    with tarfile.open(tarball) as tar:
        assert tar.getnames() == ["model", "model/2", "model/2/saved_model.pb"]


def test_tarball_is_byte_identical_for_identical_files(tmp_path: Path) -> None:
    first = packaging.model_tarball(saved_model(tmp_path / "a"), tmp_path / "a.tgz")
    second_dir = saved_model(tmp_path / "b")
    os.utime(second_dir / "1" / "saved_model.pb", (1, 1))  # other mtimes, same bytes
    second = packaging.model_tarball(second_dir, tmp_path / "b.tgz")
    assert (
        hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    )
    with tarfile.open(first) as tar:
        assert tar.getnames() == [
            "model",
            "model/1",
            "model/1/saved_model.pb",
            "model/1/variables",
            "model/1/variables/variables.index",
        ]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("127.0.0.1:5000/ml/digits", ("127.0.0.1:5000", "ml/digits", True)),
        ("oci://registry.example.com/ml/digits/", ("registry.example.com", "ml/digits", False)),
        ("localhost/digits", ("localhost", "digits", True)),
    ],
)
def test_parse_registry(ref: str, expected: tuple[str, str, bool]) -> None:
    parsed = packaging.parse_registry(ref)
    assert (parsed.host, parsed.repository, parsed.loopback) == expected


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("digits", "expected host[:port]/repository"),
        ("ml/digits", "expected host[:port]/repository"),
        ("r.example.com/ml/digits:v1", "leave the tag out"),
        ("r.example.com/ml/digits@sha256:00", "not a digest"),
        ("r.example.com/ML/Digits", "lower-case"),
    ],
)
def test_bad_registry_references_are_input_errors(ref: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        packaging.parse_registry(ref)


def test_model_dir_without_a_saved_model_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        packaging.check_model_dir(tmp_path / "missing")
    write_text(tmp_path / "model" / "saved_model.pb", "no version directory")
    with pytest.raises(InputError, match=re.escape("<version>/saved_model.pb")):
        packaging.check_model_dir(tmp_path / "model")


def test_build_context_holds_the_dockerfile_and_the_model(tmp_path: Path) -> None:
    manifest = ModelManifest.model_validate(
        {"app": "digits", "model_version": "3", "model_digest": DIGEST, "source_commit": "abc"}
    )
    text = packaging.dockerfile(base_image="tensorflow/serving:2.14.1@sha256:x", manifest=manifest)
    (tmp_path / "ctx").mkdir()
    context = packaging.write_build_context(
        saved_model(tmp_path / "model"), tmp_path / "ctx", dockerfile_text=text
    )
    dockerfile = (context / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("FROM tensorflow/serving:2.14.1@sha256:x\n")
    assert "COPY model/ /models/model/" in dockerfile
    assert f'dev.ci-plugins.model-digest="{DIGEST}"' in dockerfile
    assert "USER 1000:1000" in dockerfile
    assert (context / "model" / "1" / "saved_model.pb").read_text(encoding="utf-8") == "graph"


def test_manifest_rewrite_is_atomic_and_keeps_unknown_fields(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "model-manifest.json",
        f'{{"app": "digits", "model_version": "3", "model_digest": "{DIGEST}", "extra": 1}}',
    )
    manifest = read_manifest(path)
    packaging.write_manifest_atomically(
        path, manifest.model_copy(update={"artifact": "oci://r.example.com/x@" + DIGEST})
    )
    again = read_manifest(path)
    assert again.artifact == "oci://r.example.com/x@" + DIGEST
    assert again.model_extra == {"extra": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["model-manifest.json"]
