"""Which images the kubelet runs, and how container paths map to volume directories."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ci_plugins_emulator import images
from ci_plugins_emulator.volumes import Mounts, VolumeError, mounts_for, prepare_volumes


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        pytest.param("tensorflow/serving", "tensorflow/serving", id="bare"),
        pytest.param("tensorflow/serving:2.14.1", "tensorflow/serving", id="tag"),
        pytest.param(
            "docker.io/tensorflow/serving:2.14.1@sha256:" + "a" * 64,
            "tensorflow/serving",
            id="hub-tag-digest",
        ),
        pytest.param("127.0.0.1:5000/ml/digits:3", "127.0.0.1:5000/ml/digits", id="port"),
    ],
)
def test_repository_of_drops_registry_prefix_tag_and_digest(image: str, repository: str) -> None:
    assert images.repository_of(image) == repository


def test_known_images_run_the_emulators_programs_and_others_do_not_resolve(
    tmp_path: Path,
) -> None:
    serving = images.resolve("tensorflow/serving:2.14.1", {})
    assert serving is not None
    assert serving.entrypoint == (sys.executable, "-m", "ci_plugins_emulator.tfserving")
    oras = images.resolve("ghcr.io/oras-project/oras:v1.2.0", {})
    assert oras is not None
    assert oras.entrypoint == (sys.executable, "-m", "ci_plugins_emulator.orascli")
    train = images.resolve(
        "registry.example.com/ml/train@sha256:" + "b" * 64,
        {"registry.example.com/ml/train:1": tmp_path},
    )
    assert train == images.Runnable(entrypoint=None, cwd=tmp_path)
    assert images.resolve("tensorflow/servng:2.14.1", {}) is None


def test_run_image_specs_are_checked(tmp_path: Path) -> None:
    assert images.parse_run_image(f"x/y:1={tmp_path}") == ("x/y:1", tmp_path)
    with pytest.raises(ValueError, match="expected IMAGE=DIR"):
        images.parse_run_image("x/y:1")
    with pytest.raises(ValueError, match="is not a directory"):
        images.parse_run_image(f"x/y:1={tmp_path / 'nope'}")


def test_mount_paths_are_rewritten_in_flags_words_and_prefixes(tmp_path: Path) -> None:
    mounts = Mounts((("/models", tmp_path / "m"), ("/tmp", tmp_path / "t")))
    assert mounts.rewrite("--model_base_path=/models/model") == (
        f"--model_base_path={tmp_path}/m/model"
    )
    assert mounts.rewrite("/models") == f"{tmp_path}/m"
    assert mounts.rewrite("open('/tmp/x')") == f"open('{tmp_path}/t/x')"
    assert mounts.rewrite("/modelsfoo") == "/modelsfoo"  # not a path under the mount
    assert mounts.rewrite("/srv/models") == "/srv/models"


def test_volumes_are_directories_and_missing_config_maps_are_mount_errors(
    tmp_path: Path,
) -> None:
    spec = {
        "volumes": [
            {"name": "models", "emptyDir": {}},
            {"name": "config", "configMap": {"name": "cfg"}},
        ]
    }
    found = {"cfg": {"metadata": {"name": "cfg"}, "data": {"a.conf": "x=1"}}}
    volumes = prepare_volumes(tmp_path, spec, lambda kind, name: found.get(name))
    assert (volumes["config"] / "a.conf").read_text() == "x=1"
    assert volumes["models"].is_dir()
    with pytest.raises(VolumeError, match='configmap "cfg" not found'):
        prepare_volumes(tmp_path, spec, lambda kind, name: None)
    with pytest.raises(VolumeError, match='volume "other" not found'):
        mounts_for({"volumeMounts": [{"name": "other", "mountPath": "/x"}]}, volumes)
