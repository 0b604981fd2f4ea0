"""templates/deployment.yaml (+ _pod.tpl): the stable serving Deployment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DIGEST = "sha256:" + "a" * 64
ARTIFACT = "oci://registry.example.com/ml/digits@sha256:" + "b" * 64
SELECTOR = {"app.kubernetes.io/name": "model-server", "app.kubernetes.io/instance": "digits"}


def pod(objects: dict[str, Any], name: str = "Deployment/digits-model-server") -> Any:
    return objects[name]["spec"]["template"]


def test_deployment_selects_by_name_and_instance_and_pins_the_default_image(
    render: Callable[..., Any],
) -> None:
    deployment = render()["Deployment/digits-model-server"]
    assert deployment["spec"]["selector"]["matchLabels"] == SELECTOR
    assert deployment["spec"]["replicas"] == 1
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("tensorflow/serving:2.14.1@sha256:")
    assert "initContainers" not in deployment["spec"]["template"]["spec"]


def test_pod_template_carries_model_identity_and_user_annotations(
    render: Callable[..., Any],
) -> None:
    values = {
        "model": {"version": "7", "digest": DIGEST, "sourceCommit": "c0ffee"},
        "podAnnotations": {"ci-plugins.dev/simulate": "crashloop"},
    }
    annotations = pod(render(values))["metadata"]["annotations"]
    assert annotations["ci-plugins.dev/model-version"] == "7"
    assert annotations["ci-plugins.dev/model-digest"] == DIGEST
    assert annotations["ci-plugins.dev/source-commit"] == "c0ffee"
    assert annotations["ci-plugins.dev/simulate"] == "crashloop"


def test_artifact_is_pulled_by_an_init_container_into_the_shared_volume(
    render: Callable[..., Any],
) -> None:
    spec = pod(render({"model": {"artifact": ARTIFACT}, "modelPuller": {"plainHttp": True}}))[
        "spec"
    ]
    init = spec["initContainers"][0]
    assert init["args"][:4] == ["pull", ARTIFACT.removeprefix("oci://"), "--output", "/models"]
    assert "--plain-http" in init["args"]
    assert init["image"].startswith("ghcr.io/oras-project/oras:v1.2.0@sha256:")
    server = spec["containers"][0]
    assert "--model_base_path=/models/model" in server["args"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in server["volumeMounts"]


def test_probes_hit_the_model_status_endpoint(render: Callable[..., Any]) -> None:
    container = pod(render({"model": {"name": "mnist"}}))["spec"]["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/v1/models/mnist", "port": "http"}
        assert container[probe]["periodSeconds"] > 0
    values = {"probes": {"readinessProbe": {"pathSuffix": "/metadata", "periodSeconds": 4}}}
    readiness = pod(render(values))["spec"]["containers"][0]["readinessProbe"]
    assert readiness["httpGet"]["path"] == "/v1/models/digits/metadata"
    assert readiness["periodSeconds"] == 4
    assert "pathSuffix" not in readiness


def test_runs_as_non_root_with_a_read_only_root_filesystem(render: Callable[..., Any]) -> None:
    spec = pod(render())["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    container = spec["containers"][0]["securityContext"]
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False


def test_gpu_adds_limits_node_selector_tolerations_and_the_gpu_image(
    render: Callable[..., Any],
) -> None:
    values = {"gpu": {"enabled": True, "count": 2}, "nodeSelector": {"pool": "ml"}}
    spec = pod(render(values))["spec"]
    container = spec["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert container["resources"]["limits"]["memory"] == "1Gi"
    assert container["image"] == "tensorflow/serving:2.14.1-gpu"
    assert spec["nodeSelector"] == {"pool": "ml", "nvidia.com/gpu.present": "true"}
    assert spec["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_autoscaling_leaves_the_replica_count_to_the_hpa(render: Callable[..., Any]) -> None:
    deployment = render({"autoscaling": {"enabled": True}})["Deployment/digits-model-server"]
    assert "replicas" not in deployment["spec"]


def test_image_reference_replaces_repository_tag_and_digest(render: Callable[..., Any]) -> None:
    ref = "registry.example.com/ml/digits-serving@sha256:" + "c" * 64
    container = pod(render({"image": {"reference": ref}}))["spec"]["containers"][0]
    assert container["image"] == ref
